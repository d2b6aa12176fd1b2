package report

import (
	"fmt"
	"io"
	"strings"
)

// StatusSchema is the JSON schema of rootsync status.
const StatusSchema = "rootsync.status/v1"

// Cell values of a status row: what a store says of a local root.
const (
	CellTrusted    = "trusted"
	CellDistrusted = "distrusted"
	CellAbsent     = "absent"
	CellExpired    = "expired"
	// CellUntrusted: the store holds the certificate but trusts it for
	// nothing (an NSS entry with trust flags c,, or ,,).
	CellUntrusted = "untrusted"
)

// Status is the drift view: the local roots (rows) against the stores
// (columns), and whether each configured job's targets agree with its
// sources.
type Status struct {
	Stores []StatusStore
	Roots  []StatusRoot
	Jobs   []StatusJob
	// Public lists where the packaged root set was read.
	Public []string
}

// StatusStore is one column.
type StatusStore struct {
	Spec string `json:"spec"`
	// Roles say why it is a column: "job NAME source", "job NAME target",
	// or "discovered".
	Roles []string `json:"roles"`
	Error string   `json:"error,omitempty"`
}

// StatusRoot is one row: a local root and, per store spec, its cell.
type StatusRoot struct {
	Fingerprint string            `json:"fingerprint"`
	Subject     string            `json:"subject"`
	Cells       map[string]string `json:"cells"`
}

// StatusJob says whether one configured job is in sync.
type StatusJob struct {
	Job    string `json:"job"`
	InSync bool   `json:"in_sync"`
	// Changes counts what a run would change.
	Changes int    `json:"changes"`
	Error   string `json:"error,omitempty"`
}

// StatusText writes the drift view for people: the stores numbered, then one
// line per local root with one cell per store, then the jobs.
func StatusText(w io.Writer, s Status) error {
	ew := &errWriter{w: w}
	ew.printf("stores:\n")
	for i, st := range s.Stores {
		ew.printf("  %d  %s (%s)\n", i+1, st.Spec, strings.Join(st.Roles, ", "))
		if st.Error != "" {
			ew.printf("       cannot be read: %s\n", st.Error)
		}
	}
	if len(s.Roots) == 0 {
		ew.printf("no local roots (every root the stores hold is in the packaged root set)\n")
	} else {
		table{
			rows: len(s.Roots) + 1,
			cells: func(i int, row []string) []string {
				if i == 0 {
					row = append(row, "LOCAL ROOT")
					for k := range s.Stores {
						row = append(row, fmt.Sprint(k+1))
					}
					return row
				}
				r := s.Roots[i-1]
				row = append(row, r.Fingerprint[:16]+"  "+r.Subject)
				for _, st := range s.Stores {
					c := r.Cells[st.Spec]
					if c == "" {
						c = "-" // the store could not be read
					}
					row = append(row, c)
				}
				return row
			},
		}.write(ew)
	}
	for _, j := range s.Jobs {
		switch {
		case j.Error != "":
			ew.printf("job %s: cannot be checked: %s\n", j.Job, j.Error)
		case j.InSync:
			ew.printf("job %s: in sync\n", j.Job)
		default:
			ew.printf("job %s: targets disagree with sources (%d %s; rootsync run --dry-run --job %s shows them)\n",
				j.Job, j.Changes, map[bool]string{true: "change", false: "changes"}[j.Changes == 1], j.Job)
		}
	}
	return ew.err
}

// StatusJSON writes the drift view as one JSON document.
func StatusJSON(w io.Writer, s Status) error {
	out := struct {
		Schema string        `json:"schema"`
		Stores []StatusStore `json:"stores"`
		Roots  []StatusRoot  `json:"roots"`
		Jobs   []StatusJob   `json:"jobs"`
		Drift  bool          `json:"drift"`
		Public []string      `json:"public_from"`
	}{Schema: StatusSchema, Stores: s.Stores, Roots: s.Roots, Jobs: s.Jobs, Public: s.Public}
	for _, j := range s.Jobs {
		out.Drift = out.Drift || !j.InSync && j.Error == ""
	}
	if out.Stores == nil {
		out.Stores = []StatusStore{}
	}
	if out.Roots == nil {
		out.Roots = []StatusRoot{}
	}
	if out.Jobs == nil {
		out.Jobs = []StatusJob{}
	}
	if out.Public == nil {
		out.Public = []string{}
	}
	return encode(w, out)
}
