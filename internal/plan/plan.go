// Package plan is rootsync's diff/merge engine. It merges the entries of one
// or more sources into a desired state (distrust wins over trust; filters drop
// expired, non-CA and excluded certificates and those whose CA status cannot
// be determined, each with a warning) and computes, for each target, the
// ordered changes that make the target match that state in one of three
// modes. Every change carries its reason, and every conversion a target
// cannot represent is a warning; warnings, reasons and refusals have stable
// codes (Code) and their words are rendered from them. A prune or mirror plan
// that would remove most of a target, or empty it, is refused by the
// mass-removal guard (Refusal) unless the options allow that many removals.
//
// The package does no I/O and never logs: it sees only stores.Set values and
// the time it is given.
package plan

import (
	"fmt"
	"slices"
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
	// IncludeNonCA keeps trusted certificates that are not CA certificates,
	// and those whose CA status cannot be determined.
	IncludeNonCA bool
	// MaxRemovals lets a target's plan remove up to this many certificates
	// without the mass-removal guard's consent (see Refusal): 0, the
	// default, leaves every plan with removals to the guard.
	MaxRemovals int
	// Origin narrows each target's roots by origin (see Origin); Public is
	// the packaged public root set it is judged against (nil: no root is
	// public, every root is local).
	Origin Origin
	Public map[stores.Fingerprint]bool
	// NoRemovalGuard turns the mass-removal guard off, for commands whose
	// removals the user named one by one (remove, distrust) rather than
	// computed from sources.
	NoRemovalGuard bool
}

// MinPrefix is the fewest hex digits a fingerprint prefix (Exclude, Only)
// may have: fewer would too easily name several certificates.
const MinPrefix = 8

// CheckPrefix reports whether s is a fingerprint prefix Exclude and Only
// accept: at least MinPrefix hex digits of a SHA-256 fingerprint, colons
// allowed between them.
func CheckPrefix(s string) error {
	hex := strings.ReplaceAll(strings.ToLower(s), ":", "")
	if len(hex) < MinPrefix || strings.Trim(hex, "0123456789abcdef") != "" {
		return fmt.Errorf("give at least %d hex digits of the certificate's SHA-256 fingerprint (as rootsync list prints them)", MinPrefix)
	}
	return nil
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
	// PerPurpose says whether the store records trust per purpose; a
	// purpose filter selects every root of one that does not (a warning
	// says so).
	PerPurpose bool
}

// CertRef names a certificate in a warning.
type CertRef struct {
	Fingerprint stores.Fingerprint
	Subject     string
}

// Warning is something the user should know: a certificate left out and why,
// a conversion that loses information, a conflict between sources.
type Warning struct {
	// Code is stable for scripts (the Code constants).
	Code Code
	// Message is rendered from Code and its details; it reads after a count
	// of certificates.
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
	// the reason: the removal reason in prune and mirror modes, except for
	// CodeCAUndetermined, which never removes a certificate from a target.
	Filtered map[stores.Fingerprint]Reason
	// Warnings about the sources, in a stable order.
	Warnings []Warning
	// held says, per certificate of Set, which sources hold, trust and
	// distrust it (lists of names kept once in names).
	held  map[stores.Fingerprint]holders
	names nameLists
	// one is, when the desired state has a single source, the list of
	// that source: held is then empty, and a certificate's holders follow
	// from its trust (see holdersOf).
	one      listID
	purposes []stores.Purpose
	// sorted is Set's entries in stores.SortEntries order, made once by
	// judge for every target's plan.
	sorted []*stores.Entry
}

// entries is Set's entries in stores.SortEntries order.
func (d *Desired) entries() []*stores.Entry {
	if d.sorted == nil || len(d.sorted) != d.Set.Len() {
		d.sorted = d.Set.Entries()
	}
	return d.sorted
}

// holders are the sources that hold a certificate, that trust it and that
// distrust it, as lists of nameLists.
type holders struct{ from, trusted, distrusted listID }

// Merge computes the desired state of sources in two phases: collect takes
// every selected entry with its trust restricted to the chosen purposes, and
// judge warns about each and applies the filters.
//
// Merge consumes the sources: the entries of their sets become the desired
// state's (restricted and annotated in place, rather than copied, so that
// 100,000 roots are held once; a single source's set becomes the desired
// set itself), and the sets must not be used afterwards.
func Merge(sources []Source, opts Options) *Desired {
	d := &Desired{Filtered: map[stores.Fingerprint]Reason{}, purposes: opts.purposes()}
	if len(sources) == 1 {
		// One source: its set becomes the desired one, less what collect
		// does not take, and a certificate's holders follow from its trust.
		d.Set = sources[0].Set
		d.one = d.names.with(noSources, sources[0].Name)
	} else {
		// The desired state holds at most every source's certificates:
		// sized for them once, its tables do not grow (and become garbage)
		// as they are added.
		n := 0
		for _, src := range sources {
			n += src.Set.Len()
		}
		d.Set, d.held = stores.NewSetSize(n), make(map[stores.Fingerprint]holders, n)
	}
	sides := d.collect(sources, opts)
	d.Warnings = d.judge(sides, opts)
	return d
}

// sides records what collect found beside the desired state.
type sides struct {
	// userCerts are certificates a source holds with their private key and
	// trust: left out of the desired state.
	userCerts []CertRef
	// unrecorded are the roots taken, under a purpose filter, from sources
	// that cannot record purposes (CodeNoPurposes).
	unrecorded []unrecordedSource
	// unspecified are CA certificates a source trusts for other purposes
	// but not for the chosen ones (CodePurposeUnspecified).
	unspecified []unspecified
}

type unrecordedSource struct {
	source string
	certs  []CertRef
}

type unspecified struct {
	source, label string
	trust         stores.Trust
	ref           CertRef
}

// collect adds every selected entry of the sources that trusts or distrusts
// one of the chosen purposes to d.Set (merging trust, distrust winning).
//
// A source's entries are taken in the set's own order (sorting them would
// only make garbage: the desired state is a set too); the few lists of
// certificates its warnings name are sorted instead, per source, so that
// they come in the order of a listing.
func (d *Desired) collect(sources []Source, opts Options) sides {
	var s sides
	for _, src := range sources {
		var unrecorded, userCerts []*stores.Certificate
		var unspec []*stores.Entry
		for e := range src.Set.All() {
			t := e.Trust.Only(d.purposes)
			fp := e.Cert.Fingerprint
			if !opts.selected(fp) {
				d.leave(fp)
				continue
			}
			if t.IsZero() {
				if len(opts.Purposes) > 0 && e.Trust.Any(stores.Trusted) && !e.PrivateKey && e.Cert.IsCA {
					unspec = append(unspec, e) // not taken: left as it is
				}
				d.leave(fp)
				continue
			}
			if len(opts.Purposes) > 0 && !src.PerPurpose && t.Any(stores.Trusted) && !e.PrivateKey {
				unrecorded = append(unrecorded, e.Cert)
			}
			if e.PrivateKey {
				userCerts = append(userCerts, e.Cert)
				d.leave(fp)
				continue
			}
			if d.one != noSources {
				// Already in the desired set, which is the source's.
				e.Trust, e.Owned, e.Notes = t, false, notesFrom(src.Name, e)
				continue
			}
			h := d.held[fp]
			if t.Any(stores.Trusted) {
				h.trusted = d.names.with(h.trusted, src.Name)
			}
			if t.Any(stores.Distrusted) {
				h.distrusted = d.names.with(h.distrusted, src.Name)
			}
			h.from = d.names.with(h.from, src.Name)
			d.held[fp] = h
			// The source's entry itself becomes the desired one (see Merge).
			e.Trust, e.Owned, e.Notes = t, false, notesFrom(src.Name, e)
			d.Set.Put(e)
		}
		stores.SortEntries(unspec)
		for _, e := range unspec {
			s.unspecified = append(s.unspecified, unspecified{src.Name, e.Label, e.Trust, CertRef{e.Cert.Fingerprint, e.Cert.Subject}})
		}
		s.userCerts = append(s.userCerts, sortedRefs(userCerts)...)
		if len(unrecorded) > 0 {
			s.unrecorded = append(s.unrecorded, unrecordedSource{src.Name, sortedRefs(unrecorded)})
		}
	}
	return s
}

// leave takes a certificate collect does not take out of the desired set
// when that is the single source's set.
func (d *Desired) leave(fp stores.Fingerprint) {
	if d.one != noSources {
		d.Set.Delete(fp)
	}
}

// holdersOf is the sources that hold, trust and distrust e, an entry of
// the desired state.
func (d *Desired) holdersOf(e *stores.Entry) holders {
	if d.one == noSources {
		return d.held[e.Cert.Fingerprint]
	}
	h := holders{from: d.one}
	if e.Trust.Any(stores.Trusted) {
		h.trusted = d.one
	}
	if e.Trust.Any(stores.Distrusted) {
		h.distrusted = d.one
	}
	return h
}

// sortedRefs names the certificates in the order of a listing.
func sortedRefs(cs []*stores.Certificate) []CertRef {
	slices.SortFunc(cs, stores.Compare)
	out := make([]CertRef, len(cs))
	for i, c := range cs {
		out[i] = CertRef{c.Fingerprint, c.Subject}
	}
	return out
}

// judge warns about the collected entries (notes, conflicts, certificates
// the parser refuses and that are kept) and drops those a filter leaves out,
// recording why in d.Filtered.
func (d *Desired) judge(s sides, opts Options) []Warning {
	w := newWarnings()
	entries := d.Set.Entries()
	for _, e := range entries {
		fp, c := e.Cert.Fingerprint, e.Cert
		ref := CertRef{fp, c.Subject}
		for _, n := range e.Notes {
			w.add(CodeNote, detail{text: n}, ref)
		}
		e.Notes = nil
		if h := d.holdersOf(e); h.trusted != noSources && h.distrusted != noSources {
			w.add(CodeConflict, detail{trusted: d.names.list(h.trusted), distrusted: d.names.list(h.distrusted)}, ref)
		}
		if r, ok := filterReason(e, opts); ok {
			d.Filtered[fp] = r
			w.add(r.Code, detail{}, ref)
		} else if c.ParseError != nil {
			w.add(CodeUnparsed, detail{}, ref)
		}
	}
	for _, ref := range s.userCerts {
		w.add(CodeUserCert, detail{}, ref)
	}
	for _, u := range s.unrecorded {
		w.add(CodeNoPurposes, detail{source: u.source, purposes: opts.Purposes}, u.certs...)
	}
	for _, u := range s.unspecified {
		if d.Set.Get(u.ref.Fingerprint) != nil {
			continue // another source selects it
		}
		w.add(CodePurposeUnspecified, detail{source: u.source, purposes: opts.Purposes, label: u.label, trust: u.trust}, u.ref)
	}
	if len(d.Filtered) > 0 {
		d.Set, entries = without(entries, d.Filtered)
	}
	d.sorted = entries
	return w.list()
}

func notesFrom(src string, e *stores.Entry) []string {
	var out []string
	for _, n := range e.Notes {
		out = append(out, src+": "+n)
	}
	return out
}

// filterReason says why e must be left out of the desired state: its code is
// CodeExcluded, CodeExpired, CodeCAUndetermined or CodeNotCA. Distrust is
// never filtered: it must reach every target. A certificate the parser
// refuses has no CA status rootsync can read (a malformed basic constraints
// or key usage extension is one reason the parser refuses a certificate), so
// it is no trusted root unless IncludeNonCA says so.
func filterReason(e *stores.Entry, opts Options) (Reason, bool) {
	for _, x := range opts.Exclude {
		if e.Cert.Fingerprint.HasPrefix(x) {
			return Reason{Code: CodeExcluded, Detail: x}, true
		}
	}
	if e.Trust.Any(stores.Distrusted) {
		return Reason{}, false
	}
	c := e.Cert
	if !opts.IncludeExpired && !opts.Now.IsZero() && c.Expired(opts.Now) {
		return Reason{Code: CodeExpired, Detail: c.NotAfter.UTC().Format("2006-01-02")}, true
	}
	if !opts.IncludeNonCA && c.ParseError != nil {
		return Reason{Code: CodeCAUndetermined}, true
	}
	if !opts.IncludeNonCA && !c.IsCA {
		return Reason{Code: CodeNotCA}, true
	}
	return Reason{}, false
}

// without builds the set of entries whose certificate is not in drop, and
// those entries in their order, in one pass (rebuilding the set once per
// dropped certificate would be quadratic).
func without(entries []*stores.Entry, drop map[stores.Fingerprint]Reason) (*stores.Set, []*stores.Entry) {
	out := stores.NewSet()
	kept := make([]*stores.Entry, 0, max(0, len(entries)-len(drop)))
	for _, e := range entries {
		if _, ok := drop[e.Cert.Fingerprint]; !ok {
			out.Put(e)
			kept = append(kept, e)
		}
	}
	return out, kept
}

// Sources lists the sources that hold a certificate of the desired state.
func (d *Desired) Sources(fp stores.Fingerprint) []string {
	if d.one != noSources {
		return d.names.list(d.one)
	}
	return d.names.list(d.held[fp].from)
}

// nameLists keeps lists of source names once each: the certificates of a
// job come from a handful of combinations of sources, so that 100,000
// certificates share a few lists rather than holding 100,000 of them.
type nameLists struct {
	lists [][]string        // by listID; lists[0] is empty
	next  map[extend]listID // the list that adds a name to a list
}

// listID names a list of nameLists; noSources is the empty list.
type listID int32

const noSources listID = 0

type extend struct {
	list listID
	name string
}

// with returns the list of id's names with name added at the end (id
// itself when name is in it already).
func (n *nameLists) with(id listID, name string) listID {
	if n.lists == nil {
		n.lists, n.next = [][]string{nil}, map[extend]listID{}
	}
	if slices.Contains(n.lists[id], name) {
		return id
	}
	k := extend{id, name}
	if x, ok := n.next[k]; ok {
		return x
	}
	l := append(slices.Clip(n.lists[id]), name)
	x := listID(len(n.lists))
	n.lists = append(n.lists, l)
	n.next[k] = x
	return x
}

// list returns id's names (nil for noSources); callers must not change it.
func (n *nameLists) list(id listID) []string {
	if id == noSources {
		return nil
	}
	return n.lists[id]
}

// warnings groups certificates under one warning per code and message.
type warnings struct {
	order []string
	m     map[string]*Warning
}

func newWarnings() *warnings { return &warnings{m: map[string]*Warning{}} }

func (w *warnings) add(code Code, d detail, refs ...CertRef) {
	msg := warningText(code, d)
	k := string(code) + "\x00" + msg
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
