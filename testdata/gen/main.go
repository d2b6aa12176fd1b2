// Command gen writes the committed fixtures of the pem and capath stores
// under testdata/pem. Its output is deterministic (testpki keys come from
// fixed seeds, ECDSA signatures are RFC 6979) and valid until 2064.
//
//	go run ./testdata/gen
package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"os"
	"path/filepath"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

func main() {
	out := "testdata"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	a := testpki.Root("Fixture Root A")
	b := testpki.Root("Fixture Root B")
	c := testpki.Root("Fixture Root C")

	crl, err := x509.CreateRevocationList(nil, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: testpki.NotBefore, NextUpdate: testpki.NotAfter,
	}, a.Cert, signer{a})
	if err != nil {
		log.Fatal(err)
	}
	// X509_AUX { trust { serverAuth }, reject [0] { emailProtection } }.
	aux := stores.AuxFor(stores.Trust{}.With(stores.ServerAuth, stores.Trusted).With(stores.Email, stores.Distrusted), "")
	var mixed []byte
	add := func(s string) { mixed = append(mixed, s...) }
	add("# Fixture bundle: text between blocks is kept.\n\n")
	add(string(a.PEM()))
	add("\nA CRL follows; it is not a certificate and is kept as is.\n")
	add(string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl})))
	add(string(stores.EncodeTrustedCertificatePEM(b.DER, aux)))
	add(string(a.PEM())) // a duplicate of block 1
	add("# rootsync: " + stores.MustParse(c.DER).Subject + "\n")
	add(string(c.PEM()))

	write(filepath.Join(out, "pem", "mixed.pem"), mixed)
	write(filepath.Join(out, "pem", "root-a.der"), a.DER)
}

func write(path string, data []byte) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote", path)
}

// signer signs with a nil random source: RFC 6979 deterministic ECDSA.
type signer struct{ c *testpki.Cert }

func (s signer) Public() crypto.PublicKey { return s.c.Key.Public() }
func (s signer) Sign(_ io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.c.Key.Sign(nil, d, o)
}
