package plan

import (
	"fmt"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// Refusal says why a plan must not be applied as it is. The plan is still
// complete, so that a diff can show it.
type Refusal struct {
	Code Code // CodeMassRemoval
	// Message is rendered from Code and the counts.
	Message string
	// Removals is how many certificates the plan removes; Removable how many
	// of the target's entries its mode may remove (every entry in mirror
	// mode, rootsync's own in prune mode).
	Removals, Removable int
}

// guard is the mass-removal guard, for removals computed from sources (prune
// and mirror modes). It refuses a plan that removes more certificates than
// Options.MaxRemovals allows when either
//   - it removes at least 3 certificates and more than half of what the mode
//     may remove, or
//   - it leaves the target empty.
//
// Options.NoRemovalGuard turns it off, for commands whose removals the user
// named one by one.
func (b *builder) guard() {
	n := len(b.removes)
	if b.opts.NoRemovalGuard || n == 0 || n <= b.opts.MaxRemovals {
		return
	}
	removable := 0
	for e := range b.current.All() {
		if b.mayRemove(e) {
			removable++
		}
	}
	left := b.current.Len() - n + len(b.adds)
	if left > 0 && (n < 3 || 2*n <= removable) {
		return
	}
	r := &Refusal{Code: CodeMassRemoval, Removals: n, Removable: removable}
	r.Message = refusalText(r, b.opts.Mode, left == 0)
	if b.originRemovals > 0 {
		r.Message += fmt.Sprintf("; %d of them because --origin %s leaves them out (keep them with --origin all)", b.originRemovals, b.origin)
	}
	b.p.Refused = r
}

// mayRemove reports whether the plan's mode may remove e: every entry in
// mirror mode, rootsync's own in prune mode, but never a user certificate
// (held with its private key) nor one whose CA status cannot be determined.
func (b *builder) mayRemove(e *stores.Entry) bool {
	return b.exact(e) && !e.PrivateKey && b.d.Filtered[e.Cert.Fingerprint].Code != CodeCAUndetermined
}

func refusalText(r *Refusal, mode Mode, empties bool) string {
	var what string
	switch {
	case empties:
		n := "1 certificate"
		if r.Removals != 1 {
			n = fmt.Sprintf("%d certificates", r.Removals)
		}
		what = fmt.Sprintf("would remove %s, all it holds, and leave it empty", n)
	case mode == Prune:
		what = fmt.Sprintf("would remove %d of the %d certificates rootsync added to it, more than half", r.Removals, r.Removable)
	default:
		what = fmt.Sprintf("would remove %d of its %d certificates, more than half", r.Removals, r.Removable)
	}
	return fmt.Sprintf("%s mode %s (allow it with --max-removals %d)", mode, what, r.Removals)
}

// RefusedError is the error for a job with refused plans: nothing of it may
// be applied.
type RefusedError struct {
	Plans []*Plan
}

// Refusals returns a *RefusedError naming every refused plan, or nil when no
// plan is refused. A job calls it after planning every target and before
// changing any.
func Refusals(plans []*Plan) error {
	var refused []*Plan
	for _, p := range plans {
		if p != nil && p.Refused != nil {
			refused = append(refused, p)
		}
	}
	if len(refused) == 0 {
		return nil
	}
	return &RefusedError{Plans: refused}
}

func (e *RefusedError) Error() string {
	var parts []string
	for _, p := range e.Plans {
		parts = append(parts, fmt.Sprintf("refusing to change %s: %s", p.Target, p.Refused.Message))
	}
	return strings.Join(parts, "; ")
}

// HintText says what to do (found by stores.HintOf).
func (e *RefusedError) HintText() string {
	most := 0
	for _, p := range e.Plans {
		most = max(most, p.Refused.Removals)
	}
	return fmt.Sprintf("nothing was changed; if the sources really dropped these certificates, look at the plan "+
		"(rootsync diff) and allow it with --max-removals %d (max-removals: %d in a configuration job)", most, most)
}
