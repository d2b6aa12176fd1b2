package plan

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// benchN is the size of the stores in the planning benchmarks: ten thousand
// roots, far more than any real store, so that quadratic work shows.
const benchN = 10000

var (
	benchOnce  sync.Once
	benchCerts []*stores.Certificate // every odd one expired at now
)

// benchCertificates makes benchN distinct self-signed CAs with one key (fast).
func benchCertificates(b *testing.B) []*stores.Certificate {
	benchOnce.Do(func() {
		key := testpki.Key("plan bench")
		for i := range benchN {
			tmpl := &x509.Certificate{
				SerialNumber:          big.NewInt(int64(i) + 1),
				Subject:               pkix.Name{CommonName: fmt.Sprintf("Plan Bench Root %05d", i)},
				NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
				NotAfter:              time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
				KeyUsage:              x509.KeyUsageCertSign,
				BasicConstraintsValid: true,
				IsCA:                  true,
			}
			if i%2 == 1 {
				tmpl.NotAfter = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			}
			der, err := x509.CreateCertificate(nil, tmpl, tmpl, &key.PublicKey, key)
			if err != nil {
				panic(err)
			}
			benchCerts = append(benchCerts, stores.MustParse(der))
		}
	})
	if len(benchCerts) != benchN {
		b.Fatal("benchmark certificates were not made")
	}
	return benchCerts
}

func benchSet(certs []*stores.Certificate, owned bool) *stores.Set {
	s := stores.NewSet()
	for _, c := range certs {
		s.Add(&stores.Entry{Cert: c, Trust: stores.TrustAll(), Owned: owned})
	}
	return s
}

// BenchmarkMergeFor merges two sources of 10,000 and 5,000 roots and plans a
// prune of a target holding the other half: the work of one sync.
func BenchmarkMergeFor(b *testing.B) {
	certs := benchCertificates(b)
	srcs := []Source{{Name: "pem:a", Set: benchSet(certs, false)}, {Name: "pem:b", Set: benchSet(certs[:benchN/2], false)}}
	target := benchSet(certs[benchN/4:benchN*3/4], true)
	caps := stores.Capabilities{Ownership: true}
	opts := Options{Mode: Prune, Now: now, IncludeExpired: true}
	b.ReportAllocs()
	for b.Loop() {
		p := For("capath:/bench", Merge(srcs, opts), target, caps, opts)
		if len(p.Changes) == 0 {
			b.Fatal("empty plan")
		}
	}
}

// BenchmarkMergeFiltered merges 10,000 roots of which half have expired and
// are left out: each filtered certificate must not cost a pass over the set.
func BenchmarkMergeFiltered(b *testing.B) {
	certs := benchCertificates(b)
	srcs := []Source{{Name: "pem:a", Set: benchSet(certs, false)}}
	opts := Options{Now: now}
	b.ReportAllocs()
	for b.Loop() {
		d := Merge(srcs, opts)
		if got, want := d.Set.Len(), benchN/2; got != want {
			b.Fatalf("desired set holds %d, want %d", got, want)
		}
	}
}
