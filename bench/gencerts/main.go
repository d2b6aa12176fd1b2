// Command gencerts writes N distinct self-signed CA certificates as one PEM
// bundle, for rootsync's scale benchmarks. The output is deterministic: one
// fixed ECDSA P-256 key signs every certificate with RFC 6979 nonces, and each
// certificate has its own subject and serial number. It never touches
// anything but the output file.
//
// Usage: go run ./bench/gencerts -n 10000 -o bundle.pem
package main

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"runtime"
	"sync"
	"time"
)

// deterministic signs with a nil random source: RFC 6979 nonces, so the same
// inputs always give the same bytes.
type deterministic struct{ *ecdsa.PrivateKey }

func (d deterministic) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return d.PrivateKey.Sign(nil, digest, opts)
}

var (
	notBefore = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter  = time.Date(2124, 1, 1, 0, 0, 0, 0, time.UTC)
)

func key() *ecdsa.PrivateKey {
	d := sha256.Sum256([]byte("rootsync bench key"))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		panic(err)
	}
	return k
}

// cert makes certificate number i of the set named prefix.
func cert(k *ecdsa.PrivateKey, prefix string, i int) ([]byte, error) {
	s := sha256.Sum256(fmt.Appendf(nil, "serial %s %d", prefix, i))
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(s[:16]),
		Subject: pkix.Name{
			CommonName:   fmt.Sprintf("%s %07d", prefix, i),
			Organization: []string{"rootsync benchmarks"},
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return x509.CreateCertificate(nil, tmpl, tmpl, &k.PublicKey, deterministic{k})
}

func main() {
	n := flag.Int("n", 1000, "number of certificates")
	out := flag.String("o", "", "output PEM file (default: standard output)")
	prefix := flag.String("prefix", "rootsync bench CA", "common name prefix; certificate i is named PREFIX i")
	flag.Parse()
	if err := run(*n, *out, *prefix); err != nil {
		fmt.Fprintln(os.Stderr, "gencerts:", err)
		os.Exit(1)
	}
}

func run(n int, out, prefix string) error {
	k := key()
	ders := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				ders[i], errs[i] = cert(k, prefix, i)
			}
		}()
	}
	wg.Wait()
	var f io.Writer = os.Stdout
	if out != "" {
		file, err := os.Create(out)
		if err != nil {
			return err
		}
		defer file.Close()
		f = file
	}
	bw := bufio.NewWriter(f)
	for i, der := range ders {
		if errs[i] != nil {
			return fmt.Errorf("certificate %d: %w", i, errs[i])
		}
		if err := pem.Encode(bw, &pem.Block{Type: "CERTIFICATE", Bytes: der}); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if file, ok := f.(*os.File); ok && out != "" {
		return file.Close()
	}
	return nil
}
