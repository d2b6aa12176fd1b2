package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// fuzzPool is the certificates a round trip picks from: roots, two roots
// that share a subject (one HASH.N sequence, one NSS nickname), an
// intermediate and a leaf that is no CA.
var fuzzPool = sync.OnceValue(func() []*stores.Certificate {
	shared := testpki.Subject(testpki.Root("Fuzz Shared Subject").Cert.Subject)
	a := testpki.Root("Fuzz Root A")
	certs := []*testpki.Cert{
		a,
		testpki.Root("Fuzz Root B"),
		testpki.Root("Fuzz Shared Subject"),
		testpki.Root("Fuzz Shared Subject, second key", shared),
		a.Intermediate("Fuzz Intermediate"),
		a.Leaf("fuzz.example"),
	}
	out := make([]*stores.Certificate, len(certs))
	for i, c := range certs {
		out[i] = stores.MustParse(c.DER)
	}
	return out
})

// maxFuzzNames caps the fuzzer-named roots of one iteration, so that each
// stays fast.
const maxFuzzNames = 4

// Seeder is what seed functions add inputs to: a *testing.F, or whatever
// records a seed corpus.
type Seeder interface{ Add(args ...any) }

// FuzzSeeds adds seed inputs for RoundTrip: ops bytes and newline-separated
// common names.
func FuzzSeeds(f Seeder) {
	f.Add([]byte{}, "")
	f.Add([]byte{1, 0, 0x55}, "")
	f.Add([]byte{3, 0, 0x55, 1, 0x00, 2, 0xaa, 0, 0x00, 0x80, 1, 0x11, 0x00}, "")
	f.Add([]byte{4, 2, 0x55, 3, 0x41, 6, 0x55, 7, 0x05, 2, 0x55, 0x80, 6, 0x00, 0x00, 3, 0xaa, 0x00}, "Fuzz Named Root\nrootsync Another\n")
	f.Add([]byte{2, 4, 0x01, 5, 0x10, 4, 0x00, 0x80}, "\x00 control\tname\nÜnïcödé root (2)\n")
}

// RoundTrip is the body of a write-then-read fuzz target for one kind of
// store. From ops and names it derives two batches of changes against an
// empty store made by newStore in a fresh folder: first a set of
// certificates to add, each with its own trust per purpose, then adds,
// removals and trust changes against what Load returned. After each Apply,
// Load must give back exactly the certificates written, with the trust
// written as far as the store's Capabilities can express it, each marked as
// rootsync's own where the store can record ownership, and each with a
// label.
//
// ops: the first byte is the number of additions (mod 8); each addition is
// two bytes, a certificate (mod the pool, which holds fixed certificates and
// one root per line of names) and a trust byte (two bits per purpose: 0
// unspecified, 1 trusted, 2 distrusted, 3 unspecified). The remaining bytes
// are triples: certificate, trust byte, action (bit 7: remove the
// certificate if present, else set its trust; an absent certificate is
// added).
func RoundTrip(t *testing.T, ops []byte, names string, newStore func(t *testing.T, dir string) stores.Store) {
	pool := append([]*stores.Certificate(nil), fuzzPool()...)
	for i, n := range strings.Split(names, "\n") {
		if i == maxFuzzNames {
			break
		}
		if n == "" || len(n) > 64 || !utf8.ValidString(n) {
			continue
		}
		pool = append(pool, stores.MustParse(testpki.Root(n).DER))
	}
	s := newStore(t, t.TempDir())
	caps := s.Capabilities()
	ctx := context.Background()
	want := map[stores.Fingerprint]stores.Trust{}
	if _, err := stores.LoadTarget(ctx, s); err != nil {
		t.Fatalf("LoadTarget of a new %s: %v", s.Spec(), err)
	}

	if len(ops) == 0 {
		return
	}
	n := int(ops[0] % 8)
	ops = ops[1:]
	var first []stores.Change
	for ; n > 0 && len(ops) >= 2; n, ops = n-1, ops[2:] {
		c := pool[int(ops[0])%len(pool)]
		tr, ok := representable(trustOf(ops[1]), caps)
		if _, dup := want[c.Fingerprint]; dup || !ok {
			continue
		}
		want[c.Fingerprint] = tr
		first = append(first, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: c, Trust: tr}, Reason: "fuzz"})
	}
	have := applyAndCompare(t, s, first, want, "first apply")

	var second []stores.Change
	touched := map[stores.Fingerprint]bool{}
	for ; len(ops) >= 3; ops = ops[3:] {
		c := pool[int(ops[0])%len(pool)]
		fp := c.Fingerprint
		if touched[fp] {
			continue
		}
		touched[fp] = true
		tr, ok := representable(trustOf(ops[1]), caps)
		e := have.Get(fp)
		switch {
		case e == nil && ok:
			want[fp] = tr
			second = append(second, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: c, Trust: tr}, Reason: "fuzz"})
		case e == nil:
		case ops[2]&0x80 != 0 || !ok:
			delete(want, fp)
			second = append(second, stores.Change{Action: stores.Remove, Entry: e, Reason: "fuzz"})
		case tr != e.Trust && (caps.PerPurpose || caps.Distrust):
			want[fp] = tr
			ne := *e
			ne.Trust = tr
			second = append(second, stores.Change{Action: stores.SetTrust, Entry: &ne, From: e.Trust, Reason: "fuzz"})
		}
	}
	applyAndCompare(t, s, second, want, "second apply")
}

// trustOf reads two bits per purpose.
func trustOf(b byte) stores.Trust {
	var t stores.Trust
	for i := range t {
		switch (b >> (2 * i)) & 3 {
		case 1:
			t[i] = stores.Trusted
		case 2:
			t[i] = stores.Distrusted
		}
	}
	return t
}

// representable is the trust a plan asks a store with caps to hold for t
// (the planner's own mapping), or false when the certificate cannot be in
// such a store at all (distrust that the store cannot record).
func representable(t stores.Trust, caps stores.Capabilities) (stores.Trust, bool) {
	anyT, anyD := t.Any(stores.Trusted), t.Any(stores.Distrusted)
	switch {
	case caps.PerPurpose && caps.Distrust:
		return t, true
	case caps.PerPurpose:
		for i, l := range t {
			if l == stores.Distrusted {
				t[i] = stores.Unspecified
			}
		}
		return t, anyT
	case caps.Distrust && anyD:
		return stores.DistrustAll(), true
	case anyD:
		return t, false
	}
	return stores.TrustAll(), true
}

func applyAndCompare(t *testing.T, s stores.Store, ch []stores.Change, want map[stores.Fingerprint]stores.Trust, step string) *stores.Set {
	t.Helper()
	ctx := context.Background()
	if err := s.Apply(ctx, ch); err != nil {
		t.Fatalf("%s of %s: Apply(%s): %v", step, describeChanges(ch), s.Spec(), err)
	}
	got, err := stores.LoadTarget(ctx, s)
	if err != nil {
		t.Fatalf("%s of %s: Load(%s): %v", step, describeChanges(ch), s.Spec(), err)
	}
	caps := s.Capabilities()
	for _, e := range got.Entries() {
		w, ok := want[e.Cert.Fingerprint]
		switch {
		case !ok:
			t.Errorf("%s of %s: %s read back but not written", step, describeChanges(ch), e.Cert.Subject)
		case e.Trust != w:
			t.Errorf("%s of %s: %s read back with trust %v, written %v", step, describeChanges(ch), e.Cert.Subject, e.Trust, w)
		}
		if caps.Ownership && !e.Owned {
			t.Errorf("%s of %s: %s added by rootsync but not marked as owned", step, describeChanges(ch), e.Cert.Subject)
		}
		if e.Label == "" {
			t.Errorf("%s of %s: %s read back without a label", step, describeChanges(ch), e.Cert.Subject)
		}
	}
	for fp := range want {
		if got.Get(fp) == nil {
			t.Errorf("%s of %s: certificate %s written but not read back", step, describeChanges(ch), fp.Short())
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return got
}

func describeChanges(ch []stores.Change) string {
	var parts []string
	for _, c := range ch {
		parts = append(parts, fmt.Sprintf("%s %q %v", c.Action, c.Entry.Cert.Subject, c.Entry.Trust))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}
