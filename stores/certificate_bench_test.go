package stores_test

import (
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// BenchmarkParseCertificate is the per-certificate cost of every Load: the raw
// parse for identity and names plus the lenient parse. The "new" cases parse
// the DER every time, as a store of certificates not yet in use does; the
// others find the Certificate already in use.
func BenchmarkParseCertificate(b *testing.B) {
	rsaRoot := craft(basicCA, ext(ce(14), false, elem(0x04, []byte{1, 2}))).with(func(c *crafted) {
		c.spki = rsaSPKI(null, modulus, exponent)
	}).der()
	for _, bc := range []struct {
		name string
		der  []byte
	}{
		{"new root", testpki.Root("Bench Parse Root").DER},
		{"new leaf", testpki.Root("Bench Parse Root").Leaf("bench.example").DER},
		{"new RSA root", rsaRoot},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.der)))
			for b.Loop() {
				c, err := stores.ParseUnshared(bc.der)
				if err != nil || c.ParseError != nil {
					b.Fatalf("parse: %v, %v", err, c.ParseError)
				}
			}
		})
	}
	for _, bc := range []struct {
		name string
		der  []byte
	}{
		{"root", testpki.Root("Bench Parse Root").DER},
		{"leaf", testpki.Root("Bench Parse Root").Leaf("bench.example").DER},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.der)))
			for b.Loop() {
				c, err := stores.ParseCertificate(bc.der)
				if err != nil || c.ParseError != nil {
					b.Fatalf("parse: %v, %v", err, c.ParseError)
				}
			}
		})
	}
}
