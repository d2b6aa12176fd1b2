package javastore

import (
	"bytes"
	"testing"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/rootsync/rootsync/internal/testpki"
)

func seedPFX(f *testing.F) {
	c := testpki.Root("Fuzz Root")
	for _, enc := range []*pkcs12.Encoder{pkcs12.LegacyRC2, pkcs12.Modern2023, pkcs12.Passwordless} {
		pw := "changeit"
		if enc == pkcs12.Passwordless {
			pw = ""
		}
		d, err := enc.EncodeTrustStoreEntries([]pkcs12.TrustStoreEntry{{Cert: c.Cert, FriendlyName: "fuzz"}}, pw)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(d)
	}
}

// Any input either reads, with every bag carrying the certificate it came
// with, or fails with an error: never a panic or a runaway allocation.
func FuzzReadPFX(f *testing.F) {
	seedPFX(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := readPFX(data, "changeit")
		if err != nil {
			return
		}
		for _, b := range p.bags {
			if b.kind.Equal(oidCertBag) && len(b.der) == 0 {
				t.Fatal("certificate bag without a certificate")
			}
		}
	})
}

// walkJKS accepts exactly what keystore-go can read structurally, and
// rootsync's JKS writer round-trips what it reads.
func FuzzReadJKS(f *testing.F) {
	c := testpki.Root("Fuzz Root")
	ks := newJKS()
	ks.SetTrustedCertificateEntry("fuzz", keystore.TrustedCertificateEntry{Certificate: keystore.Certificate{Type: "X.509", Content: c.DER}})
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte("changeit")); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		ks, entries, err := readJKS(data, "changeit")
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := ks.Store(&out, []byte("changeit")); err != nil {
			t.Fatal(err)
		}
		again, _, err := readJKS(out.Bytes(), "changeit")
		if err != nil {
			t.Fatalf("rewritten keystore does not read: %v", err)
		}
		if len(entries) < len(ks.Aliases()) {
			t.Fatalf("walkJKS found %d entries, keystore-go %d", len(entries), len(ks.Aliases()))
		}
		if len(again.Aliases()) != len(ks.Aliases()) {
			t.Fatalf("%d entries after rewrite, want %d", len(again.Aliases()), len(ks.Aliases()))
		}
	})
}

func TestNewAlias(t *testing.T) {
	c := func(cn string) *testpki.Cert { return testpki.Root(cn) }
	tests := []struct {
		name  string
		cn    string
		inUse []string
		want  string
	}{
		{"plain", "ISRG Root X1", nil, "rootsync-isrg-root-x1"},
		{"punctuation runs", "  Foo -- Bar  (2024) ", nil, "rootsync-foo-bar-2024"},
		{"non-ASCII dropped", "Ünïcode Root", nil, "rootsync-n-code-root"},
		{"nothing left", "€€€", nil, "rootsync-cert"},
		{"taken", "Taken", []string{"rootsync-taken"}, "rootsync-taken-" + fpOf(c("Taken"))[:8]},
		{"long", "A very long common name that goes on and on and on for ever", nil, "rootsync-a-very-long-common-name-that-goes-on-and-on-and"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inUse := map[string]bool{}
			for _, a := range tc.inUse {
				inUse[a] = true
			}
			cert := parse(c(tc.cn))
			if got := newAlias(cert, inUse); got != tc.want {
				t.Errorf("newAlias(%q) = %q, want %q", tc.cn, got, tc.want)
			}
		})
	}
}
