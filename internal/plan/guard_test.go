package plan

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// roots makes n distinct roots named prefix 1..n, owned or not.
func roots(prefix string, n int, owned bool) []*stores.Entry {
	var out []*stores.Entry
	for i := 1; i <= n; i++ {
		out = append(out, with(entry(testpki.Root(fmt.Sprintf("%s %d", prefix, i)), stores.TrustAll()), stores.TrustAll(), owned))
	}
	return out
}

func TestRemovalGuard(t *testing.T) {
	six := roots("Guard", 6, true)
	foreign := roots("Guard Foreign", 10, false)
	distrusted := func(es []*stores.Entry) []*stores.Entry {
		var out []*stores.Entry
		for _, e := range es {
			out = append(out, with(e, stores.DistrustAll(), false))
		}
		return out
	}
	cat := func(ess ...[]*stores.Entry) []*stores.Entry {
		var out []*stores.Entry
		for _, es := range ess {
			out = append(out, es...)
		}
		return out
	}
	tests := []struct {
		name         string
		sources      []*stores.Entry
		target       []*stores.Entry
		mode         Mode
		maxRemovals  int
		unguarded    bool
		wantRemovals int
		wantRefused  string // "" when the plan is allowed, else the start of the message
	}{
		{name: "mirror from a source that lost most roots is refused", sources: six[:1], target: six, mode: Mirror,
			wantRemovals: 5, wantRefused: "mirror mode would remove 5 of its 6 certificates, more than half (allow it with --max-removals 5)"},
		{name: "mirror removing exactly half is allowed", sources: six[:3], target: six, mode: Mirror, wantRemovals: 3},
		{name: "mirror removing two of three is allowed (fewer than 3)", sources: six[:1], target: six[:3], mode: Mirror, wantRemovals: 2},
		{name: "mirror that empties the target is refused", sources: nil, target: six[:1], mode: Mirror,
			wantRemovals: 1, wantRefused: "mirror mode would remove 1 certificate, all it holds, and leave it empty (allow it with --max-removals 1)"},
		{name: "mirror that replaces the only root is allowed", sources: six[1:2], target: six[:1], mode: Mirror, wantRemovals: 1},
		{name: "prune judges against rootsync's own entries", sources: six[:1], target: cat(six[:4], foreign), mode: Prune,
			wantRemovals: 3, wantRefused: "prune mode would remove 3 of the 4 certificates rootsync added to it, more than half"},
		{name: "prune removing half of its own is allowed", sources: six[:3], target: cat(six, foreign), mode: Prune, wantRemovals: 3},
		{name: "prune that empties the target is refused", sources: nil, target: six[:1], mode: Prune,
			wantRemovals: 1, wantRefused: "prune mode would remove 1 certificate, all it holds, and leave it empty"},
		{name: "removals for distrust count too", sources: distrusted(six[:4]), target: cat(six[:4], foreign[:1]), mode: Prune,
			wantRemovals: 4, wantRefused: "prune mode would remove 4 of the 4 certificates rootsync added to it"},
		// badBC is trusted by the source but its CA status cannot be
		// determined; the user certificate is held with its private key.
		{name: "entries no mode removes do not count as removable", sources: cat(six[:1], []*stores.Entry{badBC}), target: cat(six[:4], []*stores.Entry{badBC, userCert(foreign[0], stores.TrustAll(), true)}),
			mode: Mirror, wantRemovals: 3, wantRefused: "mirror mode would remove 3 of its 4 certificates"},
		{name: "--max-removals allows up to that many", sources: six[:1], target: six, mode: Mirror, maxRemovals: 5, wantRemovals: 5},
		{name: "--max-removals below the count still refuses", sources: six[:1], target: six, mode: Mirror, maxRemovals: 4,
			wantRemovals: 5, wantRefused: "mirror mode would remove 5 of its 6"},
		{name: "--max-removals allows emptying the target", sources: nil, target: six[:2], mode: Mirror, maxRemovals: 2, wantRemovals: 2},
		{name: "explicit removals are not guarded", sources: nil, target: six, mode: Mirror, unguarded: true, wantRemovals: 6},
		{name: "add mode removes nothing and is never refused", sources: nil, target: six, mode: AddOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Mode: tt.mode, Now: now, MaxRemovals: tt.maxRemovals, NoRemovalGuard: tt.unguarded}
			p := For("pem:t.pem", Merge([]Source{{Name: "s", Set: set(tt.sources...)}}, opts), set(tt.target...), bundle, opts)
			if got := p.Count(stores.Remove); got != tt.wantRemovals {
				t.Errorf("removals: got %d, want %d (%s)", got, tt.wantRemovals, summary(p))
			}
			err := Refusals([]*Plan{p})
			if tt.wantRefused == "" {
				if p.Refused != nil || err != nil {
					t.Fatalf("refused: got %+v (%v), want allowed", p.Refused, err)
				}
				return
			}
			if p.Refused == nil {
				t.Fatalf("allowed, want refused: %s", tt.wantRefused)
			}
			if p.Refused.Code != CodeMassRemoval || p.Refused.Removals != tt.wantRemovals {
				t.Errorf("refusal: got %+v, want code %s with %d removals", p.Refused, CodeMassRemoval, tt.wantRemovals)
			}
			if !strings.HasPrefix(p.Refused.Message, tt.wantRefused) {
				t.Errorf("message:\n got  %q\n want %q...", p.Refused.Message, tt.wantRefused)
			}
			var re *RefusedError
			if !errors.As(err, &re) || len(re.Plans) != 1 || !strings.Contains(err.Error(), "refusing to change pem:t.pem: ") {
				t.Errorf("Refusals: got %v, want a RefusedError naming pem:t.pem", err)
			}
			if h := stores.HintOf(err); !strings.Contains(h, fmt.Sprintf("--max-removals %d", tt.wantRemovals)) {
				t.Errorf("hint %q does not name --max-removals %d", h, tt.wantRemovals)
			}
		})
	}
}
