package report

import (
	"fmt"
	"io"
)

// Found is one store rootsync discover found: the spec that names it, its
// kind, who uses it, its path and whether it exists yet; for one that
// exists, how many roots it holds and how many of them are local (not in
// the packaged public root set), or why it could not be read.
type Found struct {
	Spec   string `json:"spec"`
	Kind   string `json:"kind"`
	UsedBy string `json:"used_by"`
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	// Default marks the Firefox profile Firefox starts with.
	Default bool `json:"default,omitempty"`
	Roots   *int `json:"roots,omitempty"`
	Local   *int `json:"local,omitempty"`
	// Error says why a store that exists could not be read.
	Error string `json:"error,omitempty"`
	// Server and Config name the server whose configuration names this
	// CA file or folder, and the file and line that do.
	Server string `json:"server,omitempty"`
	Config string `json:"config,omitempty"`
}

// Discover is what rootsync discover found: the stores, and the server
// configuration files it could not read.
type Discover struct {
	Stores   []Found
	Problems []string
}

// DiscoverText writes the stores found as a table.
func DiscoverText(w io.Writer, d Discover) error {
	ew := &errWriter{w: w}
	table{
		rows: len(d.Stores) + 1,
		cells: func(i int, row []string) []string {
			if i == 0 {
				return append(row, "SPEC", "USED BY", "STATE", "ROOTS", "LOCAL", "PATH")
			}
			f := d.Stores[i-1]
			state := "exists"
			switch {
			case !f.Exists:
				state = "not created yet"
				if f.Server != "" {
					state = "missing"
				}
			case f.Error != "":
				state = "unreadable"
			}
			used := f.UsedBy
			if f.Default {
				used += " (default profile)"
			}
			if f.Config != "" {
				used += " (" + f.Config + ")"
			}
			roots, local := "-", "-"
			if f.Roots != nil {
				roots, local = fmt.Sprint(*f.Roots), fmt.Sprint(*f.Local)
			}
			return append(row, f.Spec, used, state, roots, local, f.Path)
		},
	}.write(ew)
	for _, f := range d.Stores {
		if f.Error != "" {
			ew.printf("%s: cannot be read: %s\n", f.Spec, f.Error)
		}
	}
	for _, p := range d.Problems {
		ew.printf("note: %s\n", p)
	}
	return ew.err
}

// DiscoverJSON writes the stores found as one JSON document (schema
// rootsync.discover/v1).
func DiscoverJSON(w io.Writer, d Discover) error {
	found := d.Stores
	if found == nil {
		found = []Found{}
	}
	problems := d.Problems
	if problems == nil {
		problems = []string{}
	}
	return encode(w, struct {
		Schema   string   `json:"schema"`
		Stores   []Found  `json:"stores"`
		Problems []string `json:"problems"`
	}{DiscoverSchema, found, problems})
}
