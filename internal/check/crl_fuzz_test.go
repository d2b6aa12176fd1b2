package check_test

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/check"
	"github.com/rootsync/rootsync/internal/testpki"
)

func crlDER(f testing.TB, issuer *testpki.Cert, revoked ...*testpki.Cert) []byte {
	tmpl := &x509.RevocationList{Number: big.NewInt(7), ThisUpdate: now.Add(-24 * time.Hour), NextUpdate: now.Add(24 * time.Hour)}
	for _, r := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: r.Cert.SerialNumber, RevocationTime: now.Add(-time.Hour), ReasonCode: 1})
	}
	der, err := x509.CreateRevocationList(nil, tmpl, issuer.Cert, issuer.Key)
	if err != nil {
		f.Fatal(err)
	}
	return der
}

// FuzzParseCRLs feeds the CRL reader of `check --crl` and of capath HASH.rN
// files arbitrary bytes, PEM or DER. It either fails naming the file, or
// gives CRLs that each carry their issuer as one complete DER value; and a
// check with those CRLs never passes unless one of them really is signed by
// the root that issued the client certificate.
func FuzzParseCRLs(f *testing.F) {
	parseCRLsSeeds(f, f)
	f.Fuzz(fuzzParseCRLs)
}

var crlLeaf = root.Leaf("crl fuzz client")

func parseCRLsSeeds(tb testing.TB, f interface{ Add(...any) }) {
	leaf := crlLeaf
	good := crlDER(tb, root)
	block := func(der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}) }
	f.Add(good)
	f.Add(crlDER(tb, root, leaf))
	f.Add(append(block(good), block(crlDER(tb, other))...))
	f.Add(append([]byte("# a comment\n"), block(crlDER(tb, inter, leaf))...))
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"))
}

func fuzzParseCRLs(t *testing.T, data []byte) {
	leaf := crlLeaf
	ls, err := check.ParseCRLs("crl.pem", data)
	if err != nil {
		if !strings.HasPrefix(err.Error(), "crl.pem") {
			t.Fatalf("error does not name the file: %v", err)
		}
		return
	}
	if len(ls) == 0 {
		t.Fatal("no CRL and no error")
	}
	signed := false
	for _, l := range ls {
		if l.List == nil || !strings.HasPrefix(l.Source, "crl.pem") {
			t.Fatalf("CRL %+v", l)
		}
		var v asn1.RawValue
		if rest, err := asn1.Unmarshal(l.RawIssuer, &v); err != nil || len(rest) > 0 {
			t.Fatalf("%s: issuer % x is not one DER value", l.Source, l.RawIssuer)
		}
		if cert(root).Parsed().CheckCertificateListSignature(l.List) == nil {
			signed = true
		}
	}
	for _, mode := range []check.CRLMode{check.CRLChain, check.CRLLeaf} {
		r := check.Evaluate(check.Input{Leaf: cert(leaf), Stores: []check.Store{pemStore(root)}, CRLs: ls, CRLCheck: mode, Now: now})
		if len(r.Rejections()) == 0 && !signed {
			t.Errorf("mode %d: accepted with CRLs none of which the root signed", mode)
		}
	}
}
