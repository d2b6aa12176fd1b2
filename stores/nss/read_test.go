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

// TestVerifyBudget: the PBKDF2 work of one read's signature checks is
// bounded. Signatures that each ask for their own derivation are checked
// until the budget is spent; then entries fails (Load reports it, naming
// key4.db) instead of spending minutes or hours on a hostile database.
func TestVerifyBudget(t *testing.T) {
	old := verifyBudget
	t.Cleanup(func() { verifyBudget = old })
	pk := passKey(fuzzGlobalSalt, nil)
	// Every signature with its own salt, as NSS writes them: one derivation
	// (one iteration each) per signed attribute.
	st := &state{ids: map[uint32]bool{}, userIDs: map[string]bool{}}
	decodeObjects(st, seedObjects())
	for _, tr := range st.trusts {
		for a, v := range tr.attrs.all() {
			s, err := newSigner(pk, 1)
			if err != nil {
				t.Fatal(err)
			}
			st.sigs.set(sigKey{tr.id, a}, s.sign(tr.id, a, v))
		}
	}
	verifyBudget = 100
	es, _, err := entries(st, &auth{pk: pk}, nil)
	if err != nil || len(es) != 1 || es[0].Trust.IsZero() {
		t.Fatalf("within the budget: %v, %d entries", err, len(es))
	}
	verifyBudget = 2 // fewer than the classic trust object alone needs
	if _, _, err := entries(st, &auth{pk: pk}, nil); err != errVerifyBudget {
		t.Fatalf("over the budget: %v, want errVerifyBudget", err)
	}
}
