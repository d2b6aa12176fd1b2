// Package report renders plans and store listings for people (text) and for
// programs (JSON with a versioned schema, documented in docs/json.md). It
// writes only to the writer it is given and never logs.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rootsync/rootsync/internal/plan"
	"github.com/rootsync/rootsync/stores"
)

// Schema versions. A new field is not a new version; a removed or changed
// field is.
const (
	PlanSchema = "rootsync.plan/v1"
	ListSchema = "rootsync.list/v1"
)

// Run is one diff or sync: the sources, the desired-state warnings, and one
// result per target.
type Run struct {
	Command  string // diff or sync
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

// maxListed is how many certificates a text warning lists before "and N more".
const maxListed = 8

// Text writes the run for people: per target one summary line, then one line
// per change with subject, short fingerprint, trust and reason.
func Text(w io.Writer, r *Run) error {
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
		ew.printf("%s (%s mode): %s\n", p.Target, p.Mode, summaryLine(r, t))
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		for _, c := range p.Changes {
			sign := map[stores.Action]string{stores.Add: "+", stores.Remove: "-", stores.SetTrust: "~"}[c.Action]
			trust := c.Entry.Trust.String()
			if c.Action == stores.SetTrust {
				trust = c.From.String() + " -> " + trust
			}
			if c.Action == stores.Remove {
				trust = ""
			}
			fmt.Fprintf(tw, "  %s %s\t%s\t%s\t%s\t%s\n", sign, c.Action, c.Entry.Cert.CommonName(), c.Entry.Cert.Fingerprint.Short(), trust, c.Reason)
		}
		tw.Flush()
		writeWarnings(ew, "  ", p.Warnings)
		if p.Refused != nil {
			ew.printf("  refused: %s\n", p.Refused.Message)
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

func summaryLine(r *Run, t Target) string {
	p := t.Plan
	a, rm, tr := p.Count(stores.Add), p.Count(stores.Remove), p.Count(stores.SetTrust)
	counts := fmt.Sprintf("%d to add, %d to remove, %d to change trust, %d unchanged, %d kept", a, rm, tr, p.Unchanged, p.Kept)
	switch {
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
			ew.printf("%s    %s  %s\n", indent, c.Fingerprint.Short(), c.Subject)
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
	out := jsonRun{
		Schema: PlanSchema, Command: r.Command, Mode: r.Mode.String(), DryRun: r.DryRun, Changed: r.Changed(),
		Sources: []jsonSource{}, Warnings: warningsJSON(r.Warnings), Targets: []jsonTarget{},
	}
	for _, s := range r.Sources {
		out.Sources = append(out.Sources, jsonSource{s.Store, s.Certificates})
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
			if c.Action == stores.SetTrust {
				jc.From = TrustMap(c.From)
			}
			jt.Changes = append(jt.Changes, jc)
		}
		out.Targets = append(out.Targets, jt)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// Listing is one store's contents.
type Listing struct {
	Store string
	Set   *stores.Set
	// Flags, when set, gives a store-specific trust rendering (e.g. NSS's
	// certutil letters) shown beside rootsync's own.
	Flags func(*stores.Entry) string
	Now   time.Time
	// Notes are the store's remarks about itself (a file kept in another
	// format than its spec names, keys it holds, ...).
	Notes []string
}

// ListText writes a listing as a table.
func ListText(w io.Writer, l Listing) error {
	ew := &errWriter{w: w}
	es := l.Set.Entries()
	ew.printf("%s: %s\n", l.Store, certificates(len(es)))
	for _, n := range l.Notes {
		ew.printf("note: %s\n", n)
	}
	if len(es) == 0 {
		return ew.err
	}
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	hdr := "FINGERPRINT\tTRUST\tOWNER\tEXPIRES\tSUBJECT\tLABEL"
	if l.Flags != nil {
		hdr = "FINGERPRINT\tTRUST\tFLAGS\tOWNER\tEXPIRES\tSUBJECT\tLABEL"
	}
	fmt.Fprintln(tw, hdr)
	for _, e := range es {
		owner := "-"
		if e.Owned {
			owner = "rootsync"
		}
		exp := "-"
		if !e.Cert.NotAfter.IsZero() {
			exp = e.Cert.NotAfter.UTC().Format("2006-01-02")
			if !l.Now.IsZero() && e.Cert.Expired(l.Now) {
				exp += " (expired)"
			}
		}
		cols := []string{e.Cert.Fingerprint.Short(), e.Trust.String()}
		if l.Flags != nil {
			cols = append(cols, l.Flags(e))
		}
		cols = append(cols, owner, exp, e.Cert.CommonName(), e.Label)
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	tw.Flush()
	for _, e := range es {
		if e.Cert.ParseError != nil {
			ew.printf("warning: %s %s: kept as bytes, the parser refuses it: %v\n", e.Cert.Fingerprint.Short(), e.Label, e.Cert.ParseError)
		}
		for _, n := range e.Notes {
			ew.printf("note: %s %s: %s\n", e.Cert.Fingerprint.Short(), e.Label, n)
		}
	}
	return ew.err
}

type jsonList struct {
	Schema       string          `json:"schema"`
	Store        string          `json:"store"`
	Notes        []string        `json:"notes,omitempty"`
	Certificates []jsonListEntry `json:"certificates"`
}

type jsonListEntry struct {
	Fingerprint string            `json:"fingerprint"`
	Subject     string            `json:"subject"`
	Label       string            `json:"label"`
	Owned       bool              `json:"owned"`
	Trust       map[string]string `json:"trust"`
	Flags       string            `json:"flags,omitempty"`
	PrivateKey  bool              `json:"private_key,omitempty"`
	CA          bool              `json:"ca"`
	NotBefore   *time.Time        `json:"not_before,omitempty"`
	NotAfter    *time.Time        `json:"not_after,omitempty"`
	ParseError  string            `json:"parse_error,omitempty"`
	Notes       []string          `json:"notes,omitempty"`
}

// ListJSON writes a listing as one JSON document (schema rootsync.list/v1).
func ListJSON(w io.Writer, l Listing) error {
	out := jsonList{Schema: ListSchema, Store: l.Store, Notes: l.Notes, Certificates: []jsonListEntry{}}
	for _, e := range l.Set.Entries() {
		je := jsonListEntry{
			Fingerprint: e.Cert.Fingerprint.String(), Subject: e.Cert.Subject, Label: e.Label,
			Owned: e.Owned, PrivateKey: e.PrivateKey, Trust: TrustMap(e.Trust), CA: e.Cert.IsCA, Notes: e.Notes,
		}
		if l.Flags != nil {
			je.Flags = l.Flags(e)
		}
		if !e.Cert.NotAfter.IsZero() {
			nb, na := e.Cert.NotBefore.UTC(), e.Cert.NotAfter.UTC()
			je.NotBefore, je.NotAfter = &nb, &na
		}
		if e.Cert.ParseError != nil {
			je.ParseError = e.Cert.ParseError.Error()
		}
		out.Certificates = append(out.Certificates, je)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
