package stores_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// atv is one attribute of a name, its value with an explicit string tag.
type atv struct {
	oid   asn1.ObjectIdentifier
	tag   cbasn1.Tag
	value string
}

// rawName encodes a Name of RDNs exactly as given (multi-valued RDNs, any
// string type), which crypto/x509 cannot be told to write.
func rawName(rdns ...[]atv) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for _, rdn := range rdns {
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				for _, a := range rdn {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(a.oid)
						b.AddASN1(a.tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(a.value)) })
					})
				}
			})
		}
	})
	return b.BytesOrPanic()
}

var (
	oidCN           = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO            = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU           = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidC            = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidEmailAddress = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidTitle        = asn1.ObjectIdentifier{2, 5, 4, 12}
	oidStreet       = asn1.ObjectIdentifier{2, 5, 4, 9}
)

func printable(oid asn1.ObjectIdentifier, v string) atv {
	return atv{oid, cbasn1.PrintableString, v}
}

func utf8s(oid asn1.ObjectIdentifier, v string) atv { return atv{oid, cbasn1.UTF8String, v} }

// differentialCorpus is certificates of every shape the readers meet: the
// system's roots (when there are any) and made ones with awkward names,
// times, serials and extensions.
func differentialCorpus(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	if data, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		for i := 0; ; i++ {
			var p *pem.Block
			p, data = pem.Decode(data)
			if p == nil {
				break
			}
			out["system root "+string(rune('A'+i%26))+string(rune('a'+i/26))] = p.Bytes
		}
	}
	// The repository's test data: every certificate in a PEM file or a
	// .der file.
	for _, dir := range append([]string{"../testdata", "testdata"}, must(filepath.Glob("*/testdata"))...) {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(path, ".der") {
				out["testdata "+path] = data
			}
			for i := 0; ; i++ {
				var p *pem.Block
				if p, data = pem.Decode(data); p == nil {
					break
				}
				if p.Type == "CERTIFICATE" {
					out[fmt.Sprintf("testdata %s %d", path, i)] = p.Bytes
				}
			}
			return nil
		})
	}
	root := testpki.Root("Differential Root")
	out["root"] = root.DER
	out["intermediate"] = root.Intermediate("Differential Intermediate").DER
	out["leaf"] = root.Leaf("differential.example").DER
	out["not a CA"] = testpki.Root("Differential Not CA", testpki.NotCA()).DER
	out["malformed key usage"] = testpki.RootDER("Differential KU", testpki.MalformedKeyUsage())
	out["malformed basic constraints"] = testpki.RootDER("Differential BC", testpki.MalformedBasicConstraints())
	out["generalized times"] = testpki.Root("Differential 2050", testpki.Validity(
		time.Date(1949, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2051, 1, 2, 3, 4, 5, 0, time.UTC))).DER
	out["UTC times at the edges"] = testpki.Root("Differential 1950", testpki.Validity(
		time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC))).DER
	neg := testpki.Root("Differential Negative", testpki.Serial(0x1234))
	negDER := append([]byte(nil), neg.DER...)
	negDER[bytes.Index(negDER, []byte{0x02, 0x02, 0x12, 0x34})+2] |= 0x80
	out["negative serial"] = negDER
	names := map[string][]byte{
		"escapes":           rawName([]atv{utf8s(oidCN, ` a,b+c"d\e<f>g;h #i `)}, []atv{printable(oidC, "DE")}),
		"leading hash":      rawName([]atv{utf8s(oidCN, "#hash")}),
		"unicode":           rawName([]atv{printable(oidC, "HU")}, []atv{utf8s(oidO, "NetLock Kft.")}, []atv{utf8s(oidCN, "NetLock Arany (Class Gold) Főtanúsítvány")}),
		"multi-valued RDN":  rawName([]atv{printable(oidO, "Org"), printable(oidOU, "Unit"), utf8s(oidCN, "first")}, []atv{utf8s(oidCN, "second"), utf8s(oidCN, "third")}),
		"CN in two RDNs":    rawName([]atv{utf8s(oidCN, "later"), utf8s(oidCN, "last")}, []atv{printable(oidC, "US")}, []atv{utf8s(oidCN, "early")}),
		"email":             rawName([]atv{{oidEmailAddress, cbasn1.IA5String, "ca@example.com"}}, []atv{utf8s(oidCN, "With Email")}),
		"unknown attribute": rawName([]atv{utf8s(oidTitle, "Title")}, []atv{utf8s(oidCN, "Titled")}),
		"street IA5":        rawName([]atv{{oidStreet, cbasn1.IA5String, "1 Main St"}}, []atv{utf8s(oidCN, "Streeted")}),
		"T61String":         rawName([]atv{{oidCN, cbasn1.T61String, "caf\xe9"}}),
		"BMPString":         rawName([]atv{{oidCN, cbasn1.Tag(30), "\x00B\x00M\x00P"}}),
		"VisibleString":     rawName([]atv{{oidCN, cbasn1.Tag(26), "Visible"}}),
		"printable * and &": rawName([]atv{printable(oidCN, "*.Smith & Co")}),
		"printable with @":  rawName([]atv{printable(oidCN, "not@printable")}),
		"IA5 high byte":     rawName([]atv{{oidCN, cbasn1.IA5String, "caf\xe9"}}),
		"invalid UTF-8":     rawName([]atv{utf8s(oidCN, "caf\xe9")}),
		"empty RDN":         rawName([]atv{utf8s(oidCN, "x")}, []atv{}),
		"empty subject":     rawName(),
		"empty value":       rawName([]atv{utf8s(oidCN, "")}),
		"spaces only":       rawName([]atv{utf8s(oidCN, " ")}, []atv{utf8s(oidO, "  ")}),
	}
	for n, raw := range names {
		out["subject "+n] = testpki.RootDER("Differential "+n, testpki.RawSubject(raw))
	}
	for n, der := range richCertificates(t, root) {
		out[n] = der
	}
	return out
}

// richCertificates are certificates with the extensions and keys the fast
// parser reads or must leave alone, made with crypto/x509.
func richCertificates(t *testing.T, issuer *testpki.Cert) map[string][]byte {
	t.Helper()
	edPub := ed25519.NewKeyFromSeed(make([]byte, 32)).Public()
	base := func() *x509.Certificate {
		return &x509.Certificate{
			SerialNumber: big.NewInt(4242), Subject: pkix.Name{CommonName: "Rich", Organization: []string{"rootsync tests"}},
			NotBefore: testpki.NotBefore, NotAfter: testpki.NotAfter, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			UnknownExtKeyUsage: []asn1.ObjectIdentifier{{1, 3, 6, 1, 4, 1, 311, 10, 3, 12}},
			DNSNames:           []string{"rich.example"}, EmailAddresses: []string{"ca@rich.example"},
			IPAddresses:           []net.IP{net.IPv4(192, 0, 2, 1), net.ParseIP("2001:db8::1")},
			PolicyIdentifiers:     []asn1.ObjectIdentifier{{2, 23, 140, 1, 2, 1}},
			CRLDistributionPoints: []string{"http://crl.rich.example/root.crl"},
			OCSPServer:            []string{"http://ocsp.rich.example"}, IssuingCertificateURL: []string{"http://rich.example/ca.crt"},
			SubjectKeyId: []byte{1, 2, 3, 4},
		}
	}
	make := func(tmpl *x509.Certificate, pub any) []byte {
		der, err := x509.CreateCertificate(nil, tmpl, issuer.Cert, pub, issuer.Key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	out := map[string][]byte{}
	out["rich leaf"] = make(base(), &testpki.Key("rich").PublicKey)
	out["Ed25519 key"] = make(base(), edPub)
	nc := base()
	nc.IsCA, nc.PermittedDNSDomains = true, []string{"rich.example"}
	out["name constraints"] = make(nc, &testpki.Key("rich").PublicKey)
	uri := base()
	uri.URIs = []*url.URL{{Scheme: "https", Host: "rich.example"}}
	out["URI name"] = make(uri, &testpki.Key("rich").PublicKey)
	crit := base()
	crit.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{0x05, 0x00}}}
	out["unknown critical extension"] = make(crit, &testpki.Key("rich").PublicKey)
	return out
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// fastParsed records the certificates checkSame saw parseFast read.
var fastParsed = map[string]bool{}

// checkSame holds the fast readers to the encoding/asn1 ones for der:
// wherever a fast reader reads something, it must read the same.
func checkSame(t *testing.T, name string, der []byte) (fieldsRead, nameRead bool) {
	t.Helper()
	fieldsRead, diff := stores.FastFieldsAgree(der)
	if diff != "" {
		t.Errorf("%s: readFields and parseRaw disagree: %s\n%x", name, diff, der)
	}
	parsed, d := stores.FastParseAgrees(der)
	if d != "" {
		t.Errorf("%s: parseFast and the lenient parser disagree: %s\n%x", name, d, der)
	}
	if parsed {
		fastParsed[name] = true
	}
	if c, err := stores.ParseCertificate(der); err == nil {
		var d string
		nameRead, d = stores.FastNameAgrees(c.RawSubject)
		if d != "" {
			t.Errorf("%s: simpleName and encoding/asn1 disagree: %s\n%x", name, d, c.RawSubject)
		}
	}
	return fieldsRead, nameRead
}

func TestFastReadersAgreeWithEncodingASN1(t *testing.T) {
	corpus := differentialCorpus(t)
	system, systemRead := 0, 0
	for name, der := range corpus {
		f, n := checkSame(t, name, der)
		if strings.HasPrefix(name, "system root ") {
			system++
			if f && n {
				systemRead++
			}
		}
	}
	// The fast readers must read what they are for, or the comparison
	// above proves nothing.
	for _, name := range []string{"root", "intermediate", "leaf", "not a CA", "generalized times", "UTC times at the edges",
		"negative serial", "malformed key usage", "malformed basic constraints",
		"subject escapes", "subject leading hash", "subject unicode", "subject multi-valued RDN", "subject CN in two RDNs",
		"subject street IA5", "subject printable * and &", "subject empty subject", "subject empty value", "subject spaces only"} {
		if f, n := checkSame(t, name, corpus[name]); !f || !n {
			t.Errorf("%s: the fast readers do not read it (fields %v, name %v)", name, f, n)
		}
	}
	for _, name := range []string{"root", "intermediate", "leaf", "not a CA", "generalized times", "UTC times at the edges",
		"subject escapes", "subject unicode", "subject multi-valued RDN", "subject empty subject",
		"rich leaf", "Ed25519 key", "unknown critical extension"} {
		if !fastParsed[name] {
			t.Errorf("%s: parseFast does not read it", name)
		}
	}
	for _, name := range []string{"negative serial", "malformed key usage", "malformed basic constraints",
		"name constraints", "URI name", "subject email", "subject T61String"} {
		if fastParsed[name] {
			t.Errorf("%s: parseFast reads it", name)
		}
	}
	// And leave what they do not know to encoding/asn1.
	for _, name := range []string{"subject email", "subject unknown attribute", "subject T61String", "subject BMPString",
		"subject VisibleString", "subject printable with @", "subject IA5 high byte", "subject invalid UTF-8", "subject empty RDN"} {
		if _, n := checkSame(t, name, corpus[name]); n {
			t.Errorf("%s: simpleName reads it", name)
		}
	}
	fast := 0
	for name := range corpus {
		if strings.HasPrefix(name, "system root ") && fastParsed[name] {
			fast++
		}
	}
	if system > 0 && fast*10 < system*8 {
		t.Errorf("parseFast reads only %d of the system's %d roots", fast, system)
	}
	t.Logf("system roots parseFast reads: %d of %d", fast, system)
	data, dataFast := 0, 0
	for name := range corpus {
		if strings.HasPrefix(name, "testdata ") {
			data++
			if fastParsed[name] {
				dataFast++
			}
		}
	}
	t.Logf("test data certificates parseFast reads: %d of %d", dataFast, data)
	if system > 0 && systemRead*10 < system*8 {
		t.Errorf("the fast readers read only %d of the system's %d roots", systemRead, system)
	}
	t.Logf("system roots the fast readers read: %d of %d", systemRead, system)
}

// TestFastReadersAgreeOnDamage flips every bit of two certificates (and one
// bit of every byte of an RSA root of the system's), one by one: wherever a
// fast reader still reads the damaged certificate, it must read what
// encoding/asn1 and the lenient parser read.
func TestFastReadersAgreeOnDamage(t *testing.T) {
	if testing.Short() {
		t.Skip("flips every bit of two certificates")
	}
	bases := [][]byte{
		testpki.Root("Damaged Root").DER,
		richCertificates(t, testpki.Root("Damaged Issuer"))["rich leaf"],
		testpki.RootDER("Damaged Names", testpki.RawSubject(rawName([]atv{printable(oidC, "DE")}, []atv{utf8s(oidO, "Ä, Inc.")}, []atv{utf8s(oidCN, "Damaged Names")}))),
	}
	// An RSA root of the system's, when there is one.
	for name, der := range differentialCorpus(t) {
		if x, err := x509.ParseCertificate(der); err == nil && strings.HasPrefix(name, "system root ") && x.PublicKeyAlgorithm == x509.RSA {
			bases = append(bases, der)
			break
		}
	}
	for n, base := range bases {
		der := append([]byte(nil), base...)
		for i := range der {
			for bit := range 8 {
				if n == 2 && bit != i%8 {
					continue // the large RSA root: one bit of each byte
				}
				der[i] ^= 1 << bit
				checkSame(t, "damaged", der)
				der[i] ^= 1 << bit
			}
		}
	}
}

// FuzzFastReaders: whatever the fast readers read, encoding/asn1 reads the
// same.
func FuzzFastReaders(f *testing.F) {
	f.Add(testpki.Root("Fuzz Root").DER)
	for _, der := range richCertificates(&testing.T{}, testpki.Root("Fuzz Issuer")) {
		f.Add(der)
	}
	f.Add(testpki.RootDER("Fuzz Names", testpki.RawSubject(rawName([]atv{printable(oidO, "O"), utf8s(oidCN, "a+b")}))))
	f.Fuzz(func(t *testing.T, der []byte) {
		checkSame(t, "fuzzed", der)
	})
}

// A name crypto/x509 writes renders as pkix.RDNSequence.String does.
func TestFastNameRendersAsPkix(t *testing.T) {
	n := pkix.Name{CommonName: "Common, Name", Organization: []string{"Org+Co"}, Country: []string{"NL"}}
	c := stores.MustParse(testpki.Root("unused", testpki.Subject(n)).DER)
	if want := n.ToRDNSequence().String(); c.Subject != want || c.CN != "Common, Name" {
		t.Errorf("subject %q, CN %q; want %q", c.Subject, c.CN, want)
	}
}

// Two goroutines that parse the same DER at once end up with one
// Certificate: the table keeps the first one recorded.
func TestSharedTableKeepsTheFirst(t *testing.T) {
	der := testpki.Root("Shared Table Root").DER
	first := stores.MustParse(der)
	again := *first
	if got := stores.SharedPut(&again); got != first {
		t.Fatal("a second Certificate of the same DER replaced the first in the table")
	}
	if stores.MustParse(der) != first {
		t.Fatal("ParseCertificate did not return the Certificate in use")
	}
}
