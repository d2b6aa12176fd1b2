package plan

import (
	"sort"
	"strings"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/capath/namehash"
)

// Plan is what it takes to make one target match the desired state.
type Plan struct {
	Target string
	Mode   Mode
	// Changes in the order they should be applied: removals, trust changes,
	// additions, each sorted by common name then fingerprint.
	Changes []stores.Change
	// Warnings about this target: lossy conversions, entries kept.
	Warnings []Warning
	// Unchanged counts certificates of the desired state already in place.
	Unchanged int
	// Kept counts target entries outside the desired state that the mode keeps.
	Kept int
	// Refused, when set, says why the plan must not be applied (the
	// mass-removal guard); the changes are still all listed.
	Refused *Refusal
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// Count returns the number of changes of one action.
func (p *Plan) Count(a stores.Action) int {
	n := 0
	for _, c := range p.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// For computes the plan for one target holding current, a store with the
// given capabilities, in two phases: toDesired plans each certificate of the
// desired state, extras each entry of the target outside it, and the guard
// refuses a plan that removes too much (see Refusal).
func For(target string, d *Desired, current *stores.Set, caps stores.Capabilities, opts Options) *Plan {
	b := &builder{
		p: &Plan{Target: target, Mode: opts.Mode}, d: d, current: current, caps: caps, opts: opts, w: newWarnings(),
		dt: detail{target: target, kind: strings.SplitN(target, ":", 2)[0], mode: opts.Mode},
	}
	b.origin, b.defaulted = opts.originFor(b.dt.kind)
	b.toDesired()
	b.extras()
	b.guard()
	return b.finish()
}

// builder holds one target's plan while it is computed.
type builder struct {
	p       *Plan
	d       *Desired
	current *stores.Set
	caps    stores.Capabilities
	opts    Options
	w       *warnings
	dt      detail
	// The changes by kind, in the order they are applied.
	removes, trusts, adds []stores.Change
	// texts holds each distinct reason's text once (see change).
	texts map[reasonKey]string
	// copies holds the entries of additions and trust changes (see copyEntry).
	copies []stores.Entry
	// origin is the target's origin (see Options.Origin), defaulted whether
	// it is the default rather than asked for; originRemovals counts the
	// removals it causes.
	origin         Origin
	defaulted      bool
	originRemovals int
	// present counts the certificates of the desired state the target
	// holds (see extras).
	present int
}

// exact reports whether the mode may set e's trust exactly (and remove it).
func (b *builder) exact(e *stores.Entry) bool {
	return b.opts.Mode == Mirror || (b.opts.Mode == Prune && e.Owned)
}

// toDesired plans each certificate of the desired state: add it, change its
// trust, remove it (distrust a store records as absence), or nothing.
func (b *builder) toDesired() {
	for _, want := range b.d.entries() {
		fp := want.Cert.Fingerprint
		ref := CertRef{fp, want.Cert.Subject}
		have := b.current.Get(fp)
		if have != nil {
			b.present++
		}
		if have != nil && have.PrivateKey {
			b.w.add(CodeUserCert, b.dt, ref)
			b.p.Kept++
			continue
		}
		if !want.Trust.Any(stores.Distrusted) && !b.origin.admits(b.opts.Public[fp]) {
			b.outOfOrigin(want, have, ref)
			continue
		}
		rep, present, lossy := represent(want.Trust, b.caps, b.d.purposes)
		if lossy != "" && (have != nil || present) {
			b.w.add(lossy, b.dt, ref)
		}
		why := b.d.reason(fp, want.Trust)
		switch {
		case !present && have == nil:
			// Distrusted, and absence is how this store says so.
		case !present:
			b.absent(have, why, ref)
		case have == nil && b.openSSLCannotLoad(want.Cert):
			b.w.add(CodeOpenSSLCannotLoad, b.dt, ref)
		case have != nil && b.openSSLCannotLoad(have.Cert):
			b.unloadable(have, ref)
		case have == nil:
			e := b.copyEntry(want)
			e.Trust = rep
			e.Owned = b.caps.Ownership
			if b.adds == nil {
				// Sized for a target that holds none of the desired state
				// (a new one), the common case of many additions.
				b.adds = make([]stores.Change, 0, max(0, len(b.d.entries())-b.current.Len()))
			}
			b.adds = append(b.adds, b.change(stores.Add, e, why))
		default:
			b.retrust(have, rep, why, ref)
		}
	}
}

// openSSLCannotLoad reports whether the target is read with OpenSSL and
// OpenSSL cannot load c: adding it would make OpenSSL refuse the whole file.
func (b *builder) openSSLCannotLoad(c *stores.Certificate) bool {
	return b.caps.ReadByOpenSSL && namehash.CheckNames(c.RawSubject, c.RawIssuer) != nil
}

// unloadable plans a certificate the sources trust and the target holds,
// although OpenSSL, which reads the target, cannot load it (so it refuses the
// whole file): removed where the mode allows, else kept with a warning.
func (b *builder) unloadable(have *stores.Entry, ref CertRef) {
	if b.exact(have) {
		b.removes = append(b.removes, b.change(stores.Remove, have, Reason{Code: CodeOpenSSLCannotLoad}))
		return
	}
	dt := b.dt
	dt.held = true
	dt.suggest = Mirror
	if have.Owned {
		dt.suggest = Prune
	}
	b.w.add(CodeOpenSSLCannotLoad, dt, ref)
	b.p.Kept++
}

// absent plans a certificate the sources distrust and the target holds but
// cannot record distrust for: it is removed where the mode allows.
func (b *builder) absent(have *stores.Entry, why Reason, ref CertRef) {
	if b.exact(have) {
		b.removes = append(b.removes, b.change(stores.Remove, have, why))
		return
	}
	dt := b.dt
	dt.suggest = Mirror
	if have.Owned {
		dt.suggest = Prune
	}
	b.w.add(CodeStillTrusted, dt, ref)
	b.p.Kept++
}

// retrust plans the trust of a certificate the target holds: exactly rep
// where the mode allows, else have's trust widened toward rep.
func (b *builder) retrust(have *stores.Entry, rep stores.Trust, why Reason, ref CertRef) {
	next := rep
	if !b.exact(have) {
		next = widen(have.Trust, rep)
		if next != rep && keptDistrust(have.Trust, rep) {
			b.w.add(CodeKeptDistrust, b.dt, ref)
		}
	}
	if next == have.Trust || !(b.caps.PerPurpose || b.caps.Distrust) {
		b.p.Unchanged++
		return
	}
	e := b.copyEntry(have)
	e.Trust = next
	c := b.change(stores.SetTrust, e, why)
	c.From = have.Trust
	b.trusts = append(b.trusts, c)
}

// extras plans the target's entries outside the desired state: mirror mode
// removes them, prune mode removes those rootsync added, the rest are kept.
// A certificate the sources trust but whose CA status cannot be determined,
// and a user certificate (held with its private key), are kept in every mode.
//
// The entries are taken in the set's own order: finish sorts the removals,
// and the user certificates a warning names are sorted here.
func (b *builder) extras() {
	if b.present == b.current.Len() {
		return // every entry of the target is one of the desired state
	}
	var userCerts []*stores.Certificate
	for have := range b.current.All() {
		fp := have.Cert.Fingerprint
		if b.d.Set.Get(fp) != nil || !b.opts.selected(fp) {
			continue
		}
		switch {
		case have.PrivateKey:
			// A user certificate: kept in every mode, with a warning where
			// the mode would otherwise remove it.
			if b.exact(have) {
				userCerts = append(userCerts, have.Cert)
			}
			b.p.Kept++
		case b.d.Filtered[fp].Code == CodeCAUndetermined:
			// Left out of the desired state, but not known to be no CA.
			b.p.Kept++
		case b.opts.Mode == Mirror:
			b.removes = append(b.removes, b.change(stores.Remove, have, b.d.absentReason(fp, ReasonNotInSources)))
		case b.opts.Mode == Prune && have.Owned:
			b.removes = append(b.removes, b.change(stores.Remove, have, b.d.absentReason(fp, ReasonDropped)))
		default:
			b.p.Kept++
		}
	}
	if len(userCerts) > 0 {
		b.w.add(CodeUserCert, b.dt, sortedRefs(userCerts)...)
	}
}

// finish orders the changes and the warnings.
func (b *builder) finish() *Plan {
	groups := [][]stores.Change{b.removes, b.trusts, b.adds}
	n, nonEmpty := 0, 0
	for _, g := range groups {
		sortChanges(g)
		n += len(g)
		if len(g) > 0 {
			nonEmpty++
		}
	}
	// One kind of change (every add of a sync into an empty target) is
	// taken as it is: a copy would hold the changes twice at the peak.
	for _, g := range groups {
		switch {
		case nonEmpty == 1 && len(g) > 0:
			b.p.Changes = g
		case nonEmpty > 1:
			if b.p.Changes == nil {
				b.p.Changes = make([]stores.Change, 0, n)
			}
			b.p.Changes = append(b.p.Changes, g...)
		}
	}
	b.p.Warnings = b.w.list()
	return b.p
}

// change is one step of the plan. The reason's words are made once per
// distinct reason: a plan that adds 100,000 roots "trusted by" the same
// source makes and holds that text once, not 100,000 times.
func (b *builder) change(a stores.Action, e *stores.Entry, why Reason) stores.Change {
	k := reasonKey{code: why.Code, n: len(why.Sources), detail: why.Detail}
	if k.n > 0 {
		k.sources = &why.Sources[0]
	}
	text, ok := b.texts[k]
	if !ok {
		text = why.String()
		if b.texts == nil {
			b.texts = map[reasonKey]string{}
		}
		b.texts[k] = text
	}
	return stores.Change{Action: a, Entry: e, Reason: text, ReasonCode: string(why.Code)}
}

// reasonKey tells reasons with the same text apart from others without
// making the text. Their lists of sources are the lists nameLists keeps
// once each (and never changes), so a list is known by where it starts and
// its length.
type reasonKey struct {
	code    Code
	sources *string
	n       int
	detail  string
}

// copyEntry returns a copy of e for a change to hold. The copies are made
// in chunks, one allocation for many: they all live as long as the plan.
func (b *builder) copyEntry(e *stores.Entry) *stores.Entry {
	if len(b.copies) == cap(b.copies) {
		b.copies = make([]stores.Entry, 0, entryChunk)
	}
	b.copies = append(b.copies, *e)
	return &b.copies[len(b.copies)-1]
}

// entryChunk is how many entries copyEntry allocates at once.
const entryChunk = 256

// represent maps desired trust t onto what a store with caps can hold.
// present is false when the certificate must be absent from the store
// (distrust in a store that cannot record it). lossy is the warning code
// when information is lost (CodeLossyPurpose, CodeLossyDistrust), else "".
func represent(t stores.Trust, caps stores.Capabilities, purposes []stores.Purpose) (rep stores.Trust, present bool, lossy Code) {
	anyT, anyD := t.Any(stores.Trusted), t.Any(stores.Distrusted)
	partial := false
	for _, p := range purposes {
		if t[p] != stores.Trusted {
			partial = true
		}
	}
	switch {
	case caps.PerPurpose && caps.Distrust:
		return t, true, ""
	case caps.PerPurpose:
		for i, l := range t {
			if l == stores.Distrusted {
				t[i] = stores.Unspecified
			}
		}
		if !anyT {
			return t, false, ""
		}
		if anyD {
			lossy = CodeLossyDistrust
		}
		return t, true, lossy
	case caps.Distrust:
		if anyD {
			if anyT {
				lossy = CodeLossyDistrust
			}
			return stores.DistrustAll(), true, lossy
		}
		if partial {
			lossy = CodeLossyPurpose
		}
		return stores.TrustAll(), true, lossy
	default:
		if anyD {
			if anyT {
				return t, false, CodeLossyDistrust
			}
			return t, false, ""
		}
		if partial {
			lossy = CodeLossyPurpose
		}
		return stores.TrustAll(), true, lossy
	}
}

// widen returns have's trust moved toward want without ever lowering trust:
// distrust is applied, trust is added, silence changes nothing, and a
// distrust the target already records is kept.
func widen(have, want stores.Trust) stores.Trust {
	out := have
	for i := range out {
		switch {
		case want[i] == stores.Distrusted:
			out[i] = stores.Distrusted
		case have[i] == stores.Distrusted:
		case want[i] == stores.Trusted:
			out[i] = stores.Trusted
		}
	}
	return out
}

func keptDistrust(have, want stores.Trust) bool {
	for i := range have {
		if have[i] == stores.Distrusted && want[i] == stores.Trusted {
			return true
		}
	}
	return false
}

// reason is why a certificate of the desired state is added or changed.
func (d *Desired) reason(fp stores.Fingerprint, t stores.Trust) Reason {
	code := ReasonTrusted
	if t.Any(stores.Distrusted) {
		code = ReasonDistrusted
	}
	return Reason{Code: code, Sources: d.Sources(fp)}
}

// absentReason is why a target entry outside the desired state is removed:
// the filter that dropped it, else the mode's own reason.
func (d *Desired) absentReason(fp stores.Fingerprint, mode Code) Reason {
	if r, ok := d.Filtered[fp]; ok {
		return r
	}
	return Reason{Code: mode}
}

// sortChanges orders changes as stores.SortEntries orders entries. The
// adds come from the desired set's entries in that order already, so the
// common case is one pass that finds them sorted.
func sortChanges(cs []stores.Change) {
	less := func(i, j int) bool { return stores.Less(cs[i].Entry.Cert, cs[j].Entry.Cert) }
	if sort.SliceIsSorted(cs, less) {
		return
	}
	sort.Slice(cs, less)
}
