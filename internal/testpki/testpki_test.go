package testpki

import (
	"bytes"
	"crypto/x509"
	"testing"
)

func TestDeterministic(t *testing.T) {
	a, b := Root("Test Root A"), Root("Test Root A")
	if !bytes.Equal(a.DER, b.DER) {
		t.Fatal("two calls with the same name gave different certificates")
	}
	leaf := a.Leaf("leaf.test")
	pool := x509.NewCertPool()
	pool.AddCert(a.Cert)
	if _, err := leaf.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost", CurrentTime: NotBefore.AddDate(1, 0, 0)}); err != nil {
		t.Fatalf("leaf does not verify against its root: %v", err)
	}
	if bytes.Equal(Root("Test Root B").DER, a.DER) {
		t.Fatal("different names gave the same certificate")
	}
}
