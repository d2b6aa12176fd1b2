package report

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Found is one store rootsync discover found: the spec that names it, its
// kind, who uses it, its path and whether it exists yet.
type Found struct {
	Spec   string `json:"spec"`
	Kind   string `json:"kind"`
	UsedBy string `json:"used_by"`
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
}

// DiscoverText writes the stores found as a table.
func DiscoverText(w io.Writer, found []Found) error {
	ew := &errWriter{w: w}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SPEC\tUSED BY\tSTATE\tPATH")
	for _, f := range found {
		state := "exists"
		if !f.Exists {
			state = "not created yet"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Spec, f.UsedBy, state, f.Path)
	}
	tw.Flush()
	return ew.err
}

// DiscoverJSON writes the stores found as one JSON document (schema
// rootsync.discover/v1).
func DiscoverJSON(w io.Writer, found []Found) error {
	if found == nil {
		found = []Found{}
	}
	return encode(w, struct {
		Schema string  `json:"schema"`
		Stores []Found `json:"stores"`
	}{DiscoverSchema, found})
}
