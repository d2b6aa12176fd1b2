package plan

import (
	"errors"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

func TestExplicitPlans(t *testing.T) {
	bad := entry(testpki.Root("Explicit Bad"), stores.TrustAll())
	other := entry(testpki.Root("Explicit Other"), stores.TrustAll())
	user := entry(testpki.Root("Explicit User"), stores.TrustAll())
	user.PrivateKey = true
	nss := stores.Capabilities{PerPurpose: true, Distrust: true, Ownership: true}
	pem := stores.Capabilities{Ownership: true}

	type want struct {
		add, remove, trust, unchanged, kept int
		warning                             Code
	}
	for _, tt := range []struct {
		name string
		plan *Plan
		want want
	}{
		{"remove held", Remove("pem:x", set(bad, other), []*stores.Certificate{bad.Cert}), want{remove: 1}},
		{"remove absent", Remove("pem:x", set(other), []*stores.Certificate{bad.Cert}), want{}},
		{"remove user cert", Remove("nss:x", set(user), []*stores.Certificate{user.Cert}), want{kept: 1, warning: CodeUserCert}},
		{"distrust held nss", Distrust("nss:x", set(bad, other), nss, []*stores.Certificate{bad.Cert}), want{trust: 1}},
		{"distrust absent nss", Distrust("nss:x", set(other), nss, []*stores.Certificate{bad.Cert}), want{add: 1}},
		{"distrust already", Distrust("nss:x", set(with(bad, stores.DistrustAll(), false)), nss, []*stores.Certificate{bad.Cert}), want{unchanged: 1}},
		{"distrust held pem", Distrust("pem:x", set(bad, other), pem, []*stores.Certificate{bad.Cert}), want{remove: 1, warning: CodeLossyDistrust}},
		{"distrust absent pem", Distrust("pem:x", set(other), pem, []*stores.Certificate{bad.Cert}), want{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.plan
			got := want{p.Count(stores.Add), p.Count(stores.Remove), p.Count(stores.SetTrust), p.Unchanged, p.Kept, ""}
			if len(p.Warnings) > 0 {
				got.warning = p.Warnings[0].Code
			}
			if got != tt.want || len(p.Warnings) > 1 || p.Refused != nil {
				t.Fatalf("plan = %+v (warnings %v), want %+v", got, p.Warnings, tt.want)
			}
			for _, c := range p.Changes {
				if c.Entry.Cert.Fingerprint != bad.Cert.Fingerprint {
					t.Errorf("change names %s, not the certificate asked for", c.Entry.Cert.Subject)
				}
				if (c.Action == stores.Add || c.Action == stores.SetTrust) && c.Entry.Trust != stores.DistrustAll() {
					t.Errorf("%s with trust %s, want distrusted for every purpose", c.Action, c.Entry.Trust)
				}
			}
		})
	}
}

func TestResolve(t *testing.T) {
	// Both fingerprints start with dd482366 (see the CLI's ambiguous_prefix script).
	a := entry(testpki.Root("Prefix Root 20348"), stores.TrustAll())
	b := entry(testpki.Root("Prefix Root 52355"), stores.TrustAll())
	sets := []NamedSet{{"pem:a", set(a)}, {"pem:b", set(b, a)}}
	var amb *AmbiguousPrefixError
	if _, err := Resolve([]string{"dd482366"}, sets); !errors.As(err, &amb) || len(amb.Certs) != 2 {
		t.Fatalf("Resolve(dd482366) = %v, want an AmbiguousPrefixError naming 2", err)
	}
	var none *NoMatchError
	if _, err := Resolve([]string{"00000000"}, sets); !errors.As(err, &none) || len(none.Stores) != 2 {
		t.Fatalf("Resolve(00000000) = %v, want a NoMatchError naming both stores", err)
	}
	full := a.Cert.Fingerprint.String()
	got, err := Resolve([]string{full[:12], full}, sets)
	if err != nil || len(got) != 1 || got[0].Fingerprint != a.Cert.Fingerprint {
		t.Fatalf("Resolve(two prefixes of one certificate) = %v, %v, want it once", got, err)
	}
}
