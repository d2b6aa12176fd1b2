package stores_test

import (
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// BenchmarkParseCertificate is the per-certificate cost of every Load: the raw
// parse for identity and names plus the lenient parse.
func BenchmarkParseCertificate(b *testing.B) {
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
