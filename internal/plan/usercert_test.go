package plan

import (
	"testing"

	"github.com/rootsync/rootsync/stores"
)

// userCert is a CA certificate a store holds with its private key.
func userCert(e *stores.Entry, t stores.Trust, owned bool) *stores.Entry {
	cp := with(e, t, owned)
	cp.PrivateKey = true
	return cp
}

func TestUserCertificatesNeverPlanned(t *testing.T) {
	for _, c := range []struct {
		name    string
		sources *stores.Set
		target  *stores.Set
		mode    Mode
		caps    stores.Capabilities
		want    string
		warn    bool
	}{
		{name: "not copied from a source", sources: set(userCert(rootA, stores.TrustAll(), false), rootB),
			target: set(), mode: AddOnly, caps: lossless, want: "add:Plan Root B=all", warn: true},
		{name: "mirror keeps an extra", sources: set(rootB),
			target: set(userCert(rootA, stores.TrustAll(), true)), mode: Mirror, caps: lossless, want: "add:Plan Root B=all", warn: true},
		{name: "prune keeps an owned extra", sources: set(),
			target: set(userCert(rootA, stores.TrustAll(), true)), mode: Prune, caps: lossless, want: "", warn: true},
		{name: "add keeps an extra quietly", sources: set(),
			target: set(userCert(rootA, stores.TrustAll(), false)), mode: AddOnly, caps: lossless, want: ""},
		{name: "distrust not applied", sources: set(with(rootA, stores.DistrustAll(), false)),
			target: set(userCert(rootA, stores.TrustAll(), false)), mode: Mirror, caps: lossless, want: "", warn: true},
		{name: "absence not applied", sources: set(with(rootA, stores.DistrustAll(), false)),
			target: set(userCert(rootA, stores.TrustAll(), false)), mode: Mirror, caps: bundle, want: "", warn: true},
		{name: "trust not widened", sources: set(rootA),
			target: set(userCert(rootA, stores.Trust{}, false)), mode: AddOnly, caps: lossless, want: "", warn: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{Mode: c.mode, Now: now}
			d := Merge([]Source{{Name: "src", Set: c.sources}}, opts)
			p := For("nss:/db", d, c.target, c.caps, opts)
			if got := summary(p); got != c.want {
				t.Errorf("plan %q, want %q", got, c.want)
			}
			var warned bool
			for _, w := range append(d.Warnings, p.Warnings...) {
				warned = warned || w.Code == CodeUserCert
			}
			if warned != c.warn {
				t.Errorf("user-cert warning %v, want %v (%+v %+v)", warned, c.warn, d.Warnings, p.Warnings)
			}
		})
	}
}
