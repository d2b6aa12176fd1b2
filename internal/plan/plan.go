// Package plan is rootsync's diff/merge engine. It merges the entries of one
// or more sources into a desired state (distrust wins over trust; filters drop
// expired, non-CA and excluded certificates, each with a warning) and computes,
// for each target, the ordered changes that make the target match that state
// in one of three modes. Every change carries its reason, and every conversion
// a target cannot represent is a warning.
//
// The package does no I/O and never logs: it sees only stores.Set values and
// the time it is given.
package plan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rootsync/rootsync/stores"
)

// Mode says how far a plan may go.
type Mode int

const (
	// AddOnly adds missing certificates and applies distrust; it never removes
	// anything and never narrows trust. The default.
	AddOnly Mode = iota
	// Prune also removes, or sets exactly, entries rootsync added earlier
	// (owned) that the sources no longer hold.
	Prune
	// Mirror makes the target exactly the desired state: foreign entries are
	// removed or changed too.
	Mirror
)

var modeNames = []string{"add", "prune", "mirror"}

func (m Mode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("mode(%d)", int(m))
	}
	return modeNames[m]
}

// ParseMode reads "add", "prune" or "mirror".
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if s == n {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown mode %q (want add, prune or mirror)", s)
}

// Options shape the desired state and the plans.
type Options struct {
	Mode Mode
	// Purposes limits the trust taken from sources; nil or empty means all.
	Purposes []stores.Purpose
	// Exclude drops certificates whose fingerprint starts with one of these
	// hex prefixes (colons ignored).
	Exclude []string
	// Only, when not empty, keeps just the certificates whose fingerprint
	// starts with one of these hex prefixes; the others are not part of the
	// desired state (so prune and mirror leave them alone too).
	Only []string
	// Now is the time expiry is judged at.
	Now time.Time
	// IncludeExpired keeps trusted certificates that have expired.
	IncludeExpired bool
	// IncludeNonCA keeps trusted certificates that are not CA certificates.
	IncludeNonCA bool
}

func (o Options) selected(fp stores.Fingerprint) bool {
	if len(o.Only) == 0 {
		return true
	}
	for _, x := range o.Only {
		if fp.HasPrefix(x) {
			return true
		}
	}
	return false
}

func (o Options) purposes() []stores.Purpose {
	if len(o.Purposes) == 0 {
		return stores.Purposes
	}
	return o.Purposes
}

// Source is one store's contents, named by its spec.
type Source struct {
	Name string
	Set  *stores.Set
}

// CertRef names a certificate in a warning.
type CertRef struct {
	Fingerprint stores.Fingerprint
	Subject     string
}

// Warning is something the user should know: a certificate left out and why,
// a conversion that loses information, a conflict between sources.
type Warning struct {
	// Code is stable for scripts: expired, not-ca, excluded, unparsed,
	// conflict, note, lossy-purpose, lossy-distrust, kept-distrust,
	// still-trusted.
	Code    string
	Message string
	Certs   []CertRef
}

// Desired is the merged state of the sources.
type Desired struct {
	// Set holds every certificate the targets should agree on, with its
	// merged trust (restricted to the chosen purposes). Every entry trusts or
	// distrusts at least one purpose.
	Set *stores.Set
	// Filtered maps certificates that sources trust but filters dropped to
	// the reason (used for removal reasons in prune and mirror modes).
	Filtered map[stores.Fingerprint]string
	// Warnings about the sources, in a stable order.
	Warnings []Warning
	from     map[stores.Fingerprint][]string
	purposes []stores.Purpose
}

// Merge computes the desired state of sources.
func Merge(sources []Source, opts Options) *Desired {
	d := &Desired{
		Set:      stores.NewSet(),
		Filtered: map[stores.Fingerprint]string{},
		from:     map[stores.Fingerprint][]string{},
		purposes: opts.purposes(),
	}
	trusted := map[stores.Fingerprint][]string{}
	distrusted := map[stores.Fingerprint][]string{}
	for _, src := range sources {
		for _, e := range src.Set.Entries() {
			t := e.Trust.Only(d.purposes)
			if t.IsZero() || !opts.selected(e.Cert.Fingerprint) {
				continue
			}
			fp := e.Cert.Fingerprint
			if t.Any(stores.Trusted) {
				trusted[fp] = append(trusted[fp], src.Name)
			}
			if t.Any(stores.Distrusted) {
				distrusted[fp] = append(distrusted[fp], src.Name)
			}
			d.Set.Add(&stores.Entry{Cert: e.Cert, Trust: t, Label: e.Label, Notes: notesFrom(src.Name, e)})
			d.from[fp] = append(d.from[fp], src.Name)
		}
	}
	w := newWarnings()
	entries := d.Set.Entries()
	for _, e := range entries {
		fp, c := e.Cert.Fingerprint, e.Cert
		ref := CertRef{fp, c.Subject}
		for _, n := range e.Notes {
			w.add("note", n, ref)
		}
		e.Notes = nil
		if len(trusted[fp]) > 0 && len(distrusted[fp]) > 0 {
			w.add("conflict", fmt.Sprintf("trusted by %s but distrusted by %s; distrust wins",
				strings.Join(trusted[fp], ", "), strings.Join(distrusted[fp], ", ")), ref)
		}
		if c.ParseError != nil {
			w.add("unparsed", "the certificate parser refuses these certificates; they are kept and copied as bytes", ref)
		}
		if reason := filterReason(e, opts); reason != "" {
			d.Filtered[fp] = reason
			switch {
			case strings.HasPrefix(reason, "excluded"):
				w.add("excluded", "excluded on request; left out", ref)
			case strings.HasPrefix(reason, "expired"):
				w.add("expired", "expired; left out (use --include-expired to keep them)", ref)
			default:
				w.add("not-ca", "not a CA certificate; left out (use --include-non-ca to keep them)", ref)
			}
		}
	}
	if len(d.Filtered) > 0 {
		d.Set = without(entries, d.Filtered)
	}
	d.Warnings = w.list()
	return d
}

func notesFrom(src string, e *stores.Entry) []string {
	var out []string
	for _, n := range e.Notes {
		out = append(out, src+": "+n)
	}
	return out
}

// filterReason says why e must be left out of the desired state, or "".
// Distrust is never filtered: it must reach every target.
func filterReason(e *stores.Entry, opts Options) string {
	for _, x := range opts.Exclude {
		if e.Cert.Fingerprint.HasPrefix(x) {
			return "excluded by --exclude " + x
		}
	}
	if e.Trust.Any(stores.Distrusted) {
		return ""
	}
	c := e.Cert
	if !opts.IncludeExpired && !opts.Now.IsZero() && c.Expired(opts.Now) {
		return "expired on " + c.NotAfter.UTC().Format("2006-01-02")
	}
	if !opts.IncludeNonCA && c.ParseError == nil && !c.IsCA {
		return "not a CA certificate"
	}
	return ""
}

// without builds the set of entries whose certificate is not in drop, in one
// pass (rebuilding it once per dropped certificate would be quadratic).
func without(entries []*stores.Entry, drop map[stores.Fingerprint]string) *stores.Set {
	out := stores.NewSet()
	for _, e := range entries {
		if _, ok := drop[e.Cert.Fingerprint]; !ok {
			out.Add(e)
		}
	}
	return out
}

// Sources lists the sources that hold a certificate of the desired state.
func (d *Desired) Sources(fp stores.Fingerprint) []string { return d.from[fp] }

// warnings groups certificates under one warning per code and message.
type warnings struct {
	order []string
	m     map[string]*Warning
}

func newWarnings() *warnings { return &warnings{m: map[string]*Warning{}} }

func (w *warnings) add(code, msg string, refs ...CertRef) {
	k := code + "\x00" + msg
	x, ok := w.m[k]
	if !ok {
		x = &Warning{Code: code, Message: msg}
		w.m[k] = x
		w.order = append(w.order, k)
	}
	x.Certs = append(x.Certs, refs...)
}

func (w *warnings) list() []Warning {
	keys := append([]string(nil), w.order...)
	sort.Strings(keys)
	out := make([]Warning, 0, len(keys))
	for _, k := range keys {
		out = append(out, *w.m[k])
	}
	return out
}
