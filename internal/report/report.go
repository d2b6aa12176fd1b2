// Package report renders the result of every rootsync command (list, diff,
// sync, run, restore, check, discover) for people (text) and for programs
// (one JSON document per command, with a versioned schema documented in
// docs/json.md). Commands build a result value and hand it here; report
// writes only to the writer it is given, never logs and never prints errors
// (the command line's exit path does).
package report

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/rootsync/rootsync/internal/plan"
	"github.com/rootsync/rootsync/stores"
)

// Schema versions. A new field is not a new version; a removed or changed
// field is.
const (
	PlanSchema     = "rootsync.plan/v1"
	ListSchema     = "rootsync.list/v2"
	RunSchema      = "rootsync.run/v1"
	CheckSchema    = "rootsync.check/v1"
	DiscoverSchema = "rootsync.discover/v1"
	BackupsSchema  = "rootsync.backups/v1"
	RestoreSchema  = "rootsync.restore/v1"
)

// Style is how text is rendered.
type Style struct {
	// Color marks additions and acceptance green, removals and rejection
	// red, with ANSI escape codes. The caller sets it only for a terminal
	// and when NO_COLOR is not set.
	Color bool
}

const (
	green = "\x1b[32m"
	red   = "\x1b[31m"
	reset = "\x1b[0m"
)

// paint wraps text in the colour when the style has colour.
func (s Style) paint(color, text string) string {
	if !s.Color || text == "" {
		return text
	}
	return color + text + reset
}

// Run is one diff or sync: the sources, the desired-state warnings, and one
// result per target.
type Run struct {
	Command string // diff, sync, remove or distrust
	// Mode is the mode of diff and sync; remove and distrust have none.
	Mode     plan.Mode
	DryRun   bool
	Sources  []Source
	Warnings []plan.Warning
	Targets  []Target
}

// Source summarises one source store.
type Source struct {
	Store        string
	Certificates int
}

// Target is one target's plan and, for sync, what happened.
type Target struct {
	Plan    *plan.Plan
	Applied bool
	Backup  string // backup folder, when one was taken
	// RolledBack: the target was changed and then restored because another
	// target failed.
	RolledBack bool
	Err        error
	// RollbackErr: putting the target back, or running its hooks again
	// after that, failed; the target may not be as it was.
	RollbackErr error
	// Reload names the servers that read the changed target and must
	// reload to use the change (none of the target's hooks does it).
	Reload []Reload
}

// Reload is a server that reads a changed target.
type Reload struct {
	Server string // nginx, apache2, httpd, haproxy
	// Config is the configuration file and line that names the target.
	Config  string
	Command string // how to reload it
}

// Changed reports whether any target has changes.
func (r *Run) Changed() bool {
	for _, t := range r.Targets {
		if t.Plan != nil && !t.Plan.Empty() {
			return true
		}
	}
	return false
}

// explicit reports whether the run is of remove or distrust, which name
// the certificates to change instead of a mode.
func (r *Run) explicit() bool { return r.Command == "remove" || r.Command == "distrust" }

// modeName is the JSON document's mode: the command's name for remove and
// distrust.
func (r *Run) modeName() string {
	if r.explicit() {
		return r.Command
	}
	return r.Mode.String()
}

// maxListed is how many certificates a text warning lists before "and N more".
const maxListed = 8

// Text writes the run for people: per target one summary line, then one line
// per change with subject, short fingerprint, trust and reason.
func Text(w io.Writer, r *Run, style Style) error {
	ew := &errWriter{w: w}
	for _, s := range r.Sources {
		ew.printf("source %s: %s\n", s.Store, certificates(s.Certificates))
	}
	writeWarnings(ew, "", r.Warnings)
	for _, t := range r.Targets {
		p := t.Plan
		if p == nil {
			continue
		}
		if r.explicit() {
			ew.printf("%s: %s\n", p.Target, summaryLine(r, t))
		} else {
			ew.printf("%s (%s mode): %s\n", p.Target, p.Mode, summaryLine(r, t))
		}
		changeTable(p.Changes, style).write(ew)
		writeWarnings(ew, "  ", p.Warnings)
		if p.Refused != nil {
			ew.printf("  refused: %s\n", p.Refused.Message)
		}
		for _, x := range t.Reload {
			ew.printf("  reload: %s reads this store (%s) and uses the change only after a reload: %s\n", x.Server, x.Config, x.Command)
		}
		if t.Backup != "" {
			ew.printf("  backup: %s\n", t.Backup)
		}
		if t.Err != nil {
			ew.printf("  failed: %v\n", t.Err)
		}
		if t.RollbackErr != nil {
			ew.printf("  rollback failed: %v\n", t.RollbackErr)
		}
	}
	return ew.err
}

// changeTable is one line per change: sign and action, name, short
// fingerprint, trust and reason; additions green, removals red.
func changeTable(changes []stores.Change, style Style) table {
	return table{
		rows: len(changes),
		appendCells: func(i int, dst []byte, ends []int) ([]byte, []int) {
			c := changes[i]
			dst = append(append(append(append(dst, "  "...), sign(c.Action)...), ' '), c.Action.String()...)
			ends = append(ends, len(dst))
			dst = append(dst, c.Entry.Cert.CommonName()...)
			ends = append(ends, len(dst))
			dst = appendShort(dst, c.Entry.Cert.Fingerprint)
			ends = append(ends, len(dst))
			switch c.Action {
			case stores.SetTrust:
				dst = append(append(append(dst, c.From.String()...), " -> "...), c.Entry.Trust.String()...)
			case stores.Remove:
			default:
				dst = append(dst, c.Entry.Trust.String()...)
			}
			ends = append(ends, len(dst))
			dst = append(dst, c.Reason...)
			return dst, append(ends, len(dst))
		},
		paint: func(i int) string {
			if !style.Color {
				return ""
			}
			switch changes[i].Action {
			case stores.Add:
				return green
			case stores.Remove:
				return red
			}
			return ""
		},
	}
}

// appendShort appends fp.Short() to dst.
func appendShort(dst []byte, fp stores.Fingerprint) []byte {
	return hex.AppendEncode(dst, fp[:8])
}

func summaryLine(r *Run, t Target) string {
	p := t.Plan
	a, rm, tr := p.Count(stores.Add), p.Count(stores.Remove), p.Count(stores.SetTrust)
	counts := fmt.Sprintf("%d to add, %d to remove, %d to change trust, %d unchanged, %d kept", a, rm, tr, p.Unchanged, p.Kept)
	switch {
	case p.Empty() && r.explicit():
		return fmt.Sprintf("nothing to do (%d unchanged, %d kept)", p.Unchanged, p.Kept)
	case p.Empty():
		return fmt.Sprintf("in sync (%d unchanged, %d kept)", p.Unchanged, p.Kept)
	case p.Refused != nil:
		return counts + "; refused"
	case t.RollbackErr != nil:
		return counts + "; rollback failed"
	case t.RolledBack:
		return counts + "; rolled back"
	case t.Err != nil:
		return counts + "; failed, left unchanged"
	case t.Applied:
		return fmt.Sprintf("added %d, removed %d, changed trust of %d (%d unchanged, %d kept)", a, rm, tr, p.Unchanged, p.Kept)
	}
	return counts
}

func writeWarnings(ew *errWriter, indent string, ws []plan.Warning) {
	for _, w := range ws {
		n := len(w.Certs)
		what := "certificate"
		if n != 1 {
			what = "certificates"
		}
		ew.printf("%swarning: %d %s %s\n", indent, n, what, w.Message)
		for i, c := range w.Certs {
			if i == maxListed {
				ew.printf("%s    ... and %d more (see --output json)\n", indent, n-maxListed)
				break
			}
			ew.printf("%s    %s  %s\n", indent, c.Fingerprint.Short(), printable(c.Subject))
		}
	}
}

func certificates(n int) string {
	if n == 1 {
		return "1 certificate"
	}
	return fmt.Sprintf("%d certificates", n)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

// JSON types: the documented schema.

type jsonRun struct {
	Schema   string        `json:"schema"`
	Command  string        `json:"command"`
	Mode     string        `json:"mode"`
	DryRun   bool          `json:"dry_run"`
	Changed  bool          `json:"changed"`
	Sources  []jsonSource  `json:"sources"`
	Warnings []jsonWarning `json:"warnings"`
	Targets  []jsonTarget  `json:"targets"`
}

type jsonSource struct {
	Store        string `json:"store"`
	Certificates int    `json:"certificates"`
}

type jsonWarning struct {
	Code         string     `json:"code"`
	Message      string     `json:"message"`
	Certificates []jsonCert `json:"certificates"`
}

type jsonCert struct {
	Fingerprint string `json:"fingerprint"`
	Subject     string `json:"subject"`
}

type jsonTarget struct {
	Store      string        `json:"store"`
	Summary    jsonSummary   `json:"summary"`
	Changes    []jsonChange  `json:"changes"`
	Warnings   []jsonWarning `json:"warnings"`
	Applied    bool          `json:"applied"`
	RolledBack bool          `json:"rolled_back"`
	Backup     string        `json:"backup,omitempty"`
	Error      string        `json:"error,omitempty"`
	Refused    *jsonRefusal  `json:"refused,omitempty"`
	// RollbackError: the rollback of this target (or its hooks after it) failed.
	RollbackError string `json:"rollback_error,omitempty"`
	// Reload: servers that read the changed target and must reload.
	Reload []jsonReload `json:"reload,omitempty"`
}

type jsonReload struct {
	Server  string `json:"server"`
	Config  string `json:"config"`
	Command string `json:"command"`
}

type jsonRefusal struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Removals  int    `json:"removals"`
	Removable int    `json:"removable"`
}

type jsonSummary struct {
	Add       int `json:"add"`
	Remove    int `json:"remove"`
	Trust     int `json:"trust"`
	Unchanged int `json:"unchanged"`
	Kept      int `json:"kept"`
}

type jsonChange struct {
	Action      string            `json:"action"`
	Fingerprint string            `json:"fingerprint"`
	Subject     string            `json:"subject"`
	Label       string            `json:"label,omitempty"`
	Trust       map[string]string `json:"trust,omitempty"`
	From        map[string]string `json:"from,omitempty"`
	Reason      string            `json:"reason"`
	ReasonCode  string            `json:"reason_code,omitempty"`
}

// TrustMap renders trust as {"server-auth": "trusted", ...}, leaving out
// unspecified purposes.
func TrustMap(t stores.Trust) map[string]string {
	m := map[string]string{}
	for _, p := range stores.Purposes {
		if t[p] != stores.Unspecified {
			m[p.String()] = t[p].String()
		}
	}
	return m
}

func warningsJSON(ws []plan.Warning) []jsonWarning {
	out := []jsonWarning{}
	for _, w := range ws {
		jw := jsonWarning{Code: string(w.Code), Message: w.Message, Certificates: []jsonCert{}}
		for _, c := range w.Certs {
			jw.Certificates = append(jw.Certificates, jsonCert{c.Fingerprint.String(), c.Subject})
		}
		out = append(out, jw)
	}
	return out
}

// JSON writes the run as one JSON document (schema rootsync.plan/v1).
func JSON(w io.Writer, r *Run) error {
	return encode(w, runJSON(r))
}

// runJSON is the rootsync.plan/v1 document of r.
func runJSON(r *Run) jsonRun {
	out := jsonRun{
		Schema: PlanSchema, Command: r.Command, Mode: r.modeName(), DryRun: r.DryRun, Changed: r.Changed(),
		Sources: []jsonSource{}, Warnings: warningsJSON(r.Warnings), Targets: []jsonTarget{},
	}
	for _, s := range r.Sources {
		out.Sources = append(out.Sources, jsonSource(s))
	}
	for _, t := range r.Targets {
		p := t.Plan
		if p == nil {
			continue
		}
		jt := jsonTarget{
			Store: p.Target, Applied: t.Applied, RolledBack: t.RolledBack, Backup: t.Backup,
			Summary:  jsonSummary{p.Count(stores.Add), p.Count(stores.Remove), p.Count(stores.SetTrust), p.Unchanged, p.Kept},
			Changes:  []jsonChange{},
			Warnings: warningsJSON(p.Warnings),
		}
		if t.Err != nil {
			jt.Error = t.Err.Error()
		}
		for _, x := range t.Reload {
			jt.Reload = append(jt.Reload, jsonReload(x))
		}
		if x := p.Refused; x != nil {
			jt.Refused = &jsonRefusal{Code: string(x.Code), Message: x.Message, Removals: x.Removals, Removable: x.Removable}
		}
		if t.RollbackErr != nil {
			jt.RollbackError = t.RollbackErr.Error()
		}
		for _, c := range p.Changes {
			jc := jsonChange{Action: c.Action.String(), Fingerprint: c.Entry.Cert.Fingerprint.String(),
				Subject: c.Entry.Cert.Subject, Reason: c.Reason, ReasonCode: c.ReasonCode}
			if c.Action != stores.Add {
				jc.Label = c.Entry.Label
			}
			if c.Action != stores.Remove {
				jc.Trust = TrustMap(c.Entry.Trust)
			}
			switch c.Action {
			case stores.SetTrust:
				jc.From = TrustMap(c.From)
			case stores.Remove:
				jc.From = TrustMap(c.Entry.Trust)
			}
			jt.Changes = append(jt.Changes, jc)
		}
		out.Targets = append(out.Targets, jt)
	}
	return out
}

// encode writes v as one indented JSON document.
func encode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Changes names a plan's changes for one-line summaries (cron lines, logs):
// "+ Example Root (5918746c39bbbb5b)" per change, "-" for a removal and "~"
// for a change of trust, at most max of them and then "and N more" (max 0:
// all).
func Changes(p *plan.Plan, max int) []string {
	var out []string
	for i, c := range p.Changes {
		if max > 0 && i == max {
			out = append(out, fmt.Sprintf("and %d more", len(p.Changes)-max))
			break
		}
		out = append(out, fmt.Sprintf("%s %s (%s)", sign(c.Action), c.Entry.Cert.CommonName(), c.Entry.Cert.Fingerprint.Short()))
	}
	return out
}

func sign(a stores.Action) string {
	switch a {
	case stores.Add:
		return "+"
	case stores.Remove:
		return "-"
	case stores.SetTrust:
		return "~"
	}
	return ""
}
