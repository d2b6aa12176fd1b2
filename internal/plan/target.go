package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rootsync/rootsync/stores"
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
// given capabilities.
func For(target string, d *Desired, current *stores.Set, caps stores.Capabilities, opts Options) *Plan {
	p := &Plan{Target: target, Mode: opts.Mode}
	w := newWarnings()
	var removes, trusts, adds []stores.Change
	exact := func(e *stores.Entry) bool {
		return opts.Mode == Mirror || (opts.Mode == Prune && e.Owned)
	}
	kindName := strings.SplitN(target, ":", 2)[0]

	for _, want := range d.Set.Entries() {
		fp := want.Cert.Fingerprint
		ref := CertRef{fp, want.Cert.Subject}
		have := current.Get(fp)
		rep, present, lossy := represent(want.Trust, caps, d.purposes)
		if lossy != "" && (have != nil || present) {
			w.add(lossy, lossyMessage(lossy, kindName), ref)
		}
		why := d.reason(fp, want.Trust)
		switch {
		case !present && have == nil:
			// Distrusted, and absence is how this store says so.
		case !present:
			if exact(have) {
				removes = append(removes, stores.Change{Action: stores.Remove, Entry: have, Reason: why})
			} else {
				w.add("still-trusted", fmt.Sprintf("distrusted by the sources but present in %s, which cannot record distrust; %s mode does not remove it (use --mode %s)",
					target, opts.Mode, suggestMode(have)), ref)
				p.Kept++
			}
		case have == nil:
			e := *want
			e.Trust = rep
			e.Owned = caps.Ownership
			adds = append(adds, stores.Change{Action: stores.Add, Entry: &e, Reason: why})
		default:
			next := rep
			if !exact(have) {
				next = widen(have.Trust, rep)
				if next != rep && keptDistrust(have.Trust, rep) {
					w.add("kept-distrust", fmt.Sprintf("distrusted in %s but trusted by the sources; the target's distrust is kept (use --mode mirror to replace it)", target), ref)
				}
			}
			if next == have.Trust || !(caps.PerPurpose || caps.Distrust) {
				p.Unchanged++
				continue
			}
			e := *have
			e.Trust = next
			trusts = append(trusts, stores.Change{Action: stores.SetTrust, Entry: &e, From: have.Trust, Reason: why})
		}
	}

	for _, have := range current.Entries() {
		fp := have.Cert.Fingerprint
		if d.Set.Get(fp) != nil || !opts.selected(fp) {
			continue
		}
		switch {
		case opts.Mode == Mirror:
			removes = append(removes, stores.Change{Action: stores.Remove, Entry: have, Reason: d.absentReason(fp, "mirror mode removes what no source holds")})
		case opts.Mode == Prune && have.Owned:
			removes = append(removes, stores.Change{Action: stores.Remove, Entry: have, Reason: d.absentReason(fp, "added by rootsync earlier; no source holds it now")})
		default:
			p.Kept++
		}
	}
	for _, g := range [][]stores.Change{removes, trusts, adds} {
		sortChanges(g)
		p.Changes = append(p.Changes, g...)
	}
	p.Warnings = w.list()
	return p
}

// represent maps desired trust t onto what a store with caps can hold.
// present is false when the certificate must be absent from the store
// (distrust in a store that cannot record it). lossy names the warning code
// when information is lost.
func represent(t stores.Trust, caps stores.Capabilities, purposes []stores.Purpose) (rep stores.Trust, present bool, lossy string) {
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
			lossy = "lossy-distrust"
		}
		return t, true, lossy
	case caps.Distrust:
		if anyD {
			if anyT {
				lossy = "lossy-distrust"
			}
			return stores.DistrustAll(), true, lossy
		}
		if partial {
			lossy = "lossy-purpose"
		}
		return stores.TrustAll(), true, lossy
	default:
		if anyD {
			if anyT {
				return t, false, "lossy-distrust"
			}
			return t, false, ""
		}
		if partial {
			lossy = "lossy-purpose"
		}
		return stores.TrustAll(), true, lossy
	}
}

func lossyMessage(code, kind string) string {
	if code == "lossy-purpose" {
		return fmt.Sprintf("trusted only for some of the chosen purposes, but a %s store cannot record purposes: it will trust them for every purpose (use --purpose to choose)", kind)
	}
	return fmt.Sprintf("distrusted for some purposes and trusted for others, but a %s store cannot record distrust: they are left out of it", kind)
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

func suggestMode(e *stores.Entry) string {
	if e.Owned {
		return "prune"
	}
	return "mirror"
}

func (d *Desired) reason(fp stores.Fingerprint, t stores.Trust) string {
	verb := "trusted"
	if t.Any(stores.Distrusted) {
		verb = "distrusted"
	}
	return verb + " by " + strings.Join(dedupe(d.from[fp]), ", ")
}

func (d *Desired) absentReason(fp stores.Fingerprint, fallback string) string {
	if r, ok := d.Filtered[fp]; ok {
		return r
	}
	return fallback
}

func dedupe(xs []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func sortChanges(cs []stores.Change) {
	sort.Slice(cs, func(i, j int) bool { return stores.Less(cs[i].Entry.Cert, cs[j].Entry.Cert) })
}
