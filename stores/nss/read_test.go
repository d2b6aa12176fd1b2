package nss

import "testing"

// TestParseSigID: only the exact id NSS formats names a signature; NSS never
// finds a row whose id is spelt otherwise, so neither does rootsync.
func TestParseSigID(t *testing.T) {
	for _, c := range []struct {
		id string
		ok bool
		k  sigKey
	}{
		{"sig_cert_00000002_ce536358", true, sigKey{2, attrTrustServer}},
		{"sig_cert_0000000A_ce536358", false, sigKey{}},
		{"sig_cert_0000000a_CE536358", false, sigKey{}},
		{"sig_cert_+0000002_ce536358", false, sigKey{}},
		{"sig_cert_00000002_ce53635", false, sigKey{}},
		{"sig_cert_00000002_ce5363580", false, sigKey{}},
		{"password", false, sigKey{}},
	} {
		k, ok := parseSigID(c.id)
		if ok != c.ok || (ok && k != c.k) {
			t.Errorf("parseSigID(%q) = %v, %v; want %v, %v", c.id, k, ok, c.k, c.ok)
		}
	}
}
