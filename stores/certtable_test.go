package stores

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	mrand "math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestCertTable: the same DER parsed twice while the first Certificate is in
// use gives that Certificate; a fingerprint that shares the table's key (the
// first eight bytes) with another gets nothing rather than the other; a
// collected Certificate is not returned.
func TestCertTable(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Cert Table Root"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseCertificate(append([]byte(nil), der...))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("the same DER parsed twice gave two Certificates")
	}
	twin := a.Fingerprint
	twin[31] ^= 1 // same first eight bytes, another certificate
	if c := shared.get(twin); c != nil {
		t.Errorf("a fingerprint sharing the key got %s", c.Fingerprint)
	}
	if c := shared.get(a.Fingerprint); c != a {
		t.Error("the Certificate in use is not found")
	}
	fp := a.Fingerprint
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	a, b = nil, nil
	runtime.GC()
	runtime.GC()
	if c := shared.get(fp); c != nil {
		t.Error("a collected Certificate is still returned")
	}
}

// TestSetPut: Put keeps the entry itself for a new certificate and merges a
// second entry for the same certificate as Add does (distrust wins, the first
// label stays).
func TestSetPut(t *testing.T) {
	c := &Certificate{Fingerprint: Fingerprint{1}}
	first := &Entry{Cert: c, Trust: TrustAll(), Label: "first"}
	s := NewSet()
	s.Put(first)
	if s.Get(c.Fingerprint) != first {
		t.Fatal("Put copied the entry")
	}
	var distrust Trust
	distrust[ServerAuth] = Distrusted
	s.Put(&Entry{Cert: c, Trust: distrust, Label: "second"})
	got := s.Get(c.Fingerprint)
	if got != first || got.Label != "first" || got.Trust[ServerAuth] != Distrusted || s.Len() != 1 {
		t.Fatalf("after a second Put: %+v (len %d)", got, s.Len())
	}
}

// TestCompareFold: compareFold orders as the lower-cased strings do, for
// ASCII, other scripts, case pairs of different UTF-8 lengths and invalid
// UTF-8; appendLower lowers as strings.ToLower does; namePrefix never orders
// two names against their order; SortEntries gives the order of Less, also
// for names that all start alike.
func TestCompareFold(t *testing.T) {
	pieces := []string{"", "a", "A", "b", "Z", "é", "É", "ß", "ẞ", "İ", "K", "k", "Ω", "ω", "\xff", "\xc3", "\ufffd", " ", "0", "日本", "Root CA", "ROOT", "root ca 2", "\x00"}
	rng := mrand.New(mrand.NewPCG(3, 4))
	word := func() string {
		var b strings.Builder
		for range rng.IntN(4) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	sign := func(c int) int { return cmp.Compare(c, 0) }
	var es []*Entry
	for i := range 3000 {
		a, b := word(), word()
		if got, want := sign(compareFold(a, b)), strings.Compare(strings.ToLower(a), strings.ToLower(b)); got != want {
			t.Fatalf("compareFold(%q, %q) = %d, lowered strings compare %d", a, b, got, want)
		}
		la, lb := strings.ToLower(a), strings.ToLower(b)
		if got := string(appendLower([]byte("x"), a)); got != "x"+la {
			t.Fatalf("appendLower(%q) = %q, strings.ToLower %q", a, got[1:], la)
		}
		if pa, pb := namePrefix([]byte(la)), namePrefix([]byte(lb)); pa < pb && la >= lb || pa > pb && la <= lb {
			t.Fatalf("namePrefix orders %q and %q against their order", la, lb)
		}
		es = append(es, &Entry{Cert: &Certificate{CN: a, Fingerprint: Fingerprint{byte(i), byte(i >> 8)}}})
	}
	SortEntries(es)
	for i := 1; i < len(es); i++ {
		if Less(es[i].Cert, es[i-1].Cert) {
			t.Fatalf("SortEntries put %q before %q", es[i-1].Cert.CN, es[i].Cert.CN)
		}
	}
	// Names that all start alike (SortEntries leaves the shared bytes out
	// of its comparisons), some of them only that start, or in other case.
	for _, shared := range []string{"Example Issuing CA ", "É", "ß"} {
		var es []*Entry
		for i := range 2000 {
			name := shared + word()
			if i%3 == 0 {
				name = strings.ToUpper(name)
			}
			if i%500 == 0 {
				name = shared
			}
			es = append(es, &Entry{Cert: &Certificate{CN: name, Fingerprint: Fingerprint{byte(i), byte(i >> 8)}}})
		}
		SortEntries(es)
		for i := 1; i < len(es); i++ {
			if Less(es[i].Cert, es[i-1].Cert) {
				t.Fatalf("SortEntries put %q before %q", es[i-1].Cert.CN, es[i].Cert.CN)
			}
		}
	}
}
