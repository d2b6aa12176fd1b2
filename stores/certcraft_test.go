package stores_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// elem encodes one DER element of the given one-byte tag whose content is
// parts, one after the other.
func elem(tag byte, parts ...[]byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.Tag(tag), func(b *cryptobyte.Builder) {
		for _, p := range parts {
			b.AddBytes(p)
		}
	})
	return b.BytesOrPanic()
}

func seq(parts ...[]byte) []byte { return elem(0x30, parts...) }

func oidDER(oid asn1.ObjectIdentifier) []byte {
	der, err := asn1.Marshal(oid)
	if err != nil {
		panic(err)
	}
	return der
}

func integer(content ...byte) []byte { return elem(0x02, content) }

// bitString is a BIT STRING of content without unused bits.
func bitString(content []byte) []byte { return elem(0x03, append([]byte{0}, content...)) }

// crafted is a certificate put together element by element, so that each
// part can break one of crypto/x509's rules. Its signature is not one.
type crafted struct {
	version             []byte // the whole [0] element, nil for none (v1)
	serial              []byte // the INTEGER's content
	sigAlg, outerSigAlg []byte // whole elements; outerSigAlg nil: sigAlg
	issuer, subject     []byte // whole Names
	spki                []byte // the whole SubjectPublicKeyInfo
	tail                []byte // what follows the key in the TBSCertificate
}

var (
	craftV3         = elem(0xa0, integer(2))
	ecdsaWithSHA256 = seq(oidDER(asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}))
	ecdsaWithSHA384 = seq(oidDER(asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}))
	craftIssuer     = rawName([]atv{utf8s(oidCN, "Crafted Issuer")})
	craftSubject    = rawName([]atv{utf8s(oidCN, "Crafted")})
	craftValidity   = seq(elem(0x17, []byte("240101000000Z")), elem(0x17, []byte("340101000000Z")))
)

// craft is a plain version 3 certificate with the extensions given: a P-256
// key, a serial of 1 and an issuer other than the subject.
func craft(exts ...[]byte) crafted {
	spki, err := x509.MarshalPKIXPublicKey(&testpki.Key("crafted").PublicKey)
	if err != nil {
		panic(err)
	}
	c := crafted{version: craftV3, serial: []byte{1}, sigAlg: ecdsaWithSHA256, issuer: craftIssuer, subject: craftSubject, spki: spki}
	if len(exts) > 0 {
		c.tail = extensions(exts...)
	}
	return c
}

func (c crafted) der() []byte {
	outer := c.outerSigAlg
	if outer == nil {
		outer = c.sigAlg
	}
	tbs := seq(c.version, integer(c.serial...), c.sigAlg, c.issuer, craftValidity, c.subject, c.spki, c.tail)
	return seq(tbs, outer, bitString([]byte{0x30, 0x00}))
}

// with returns c changed by edit.
func (c crafted) with(edit func(*crafted)) crafted {
	edit(&c)
	return c
}

// extensions is the [3] element of the extensions given.
func extensions(exts ...[]byte) []byte { return elem(0xa3, seq(exts...)) }

// ext is one extension; value is its OCTET STRING's content.
func ext(oid asn1.ObjectIdentifier, critical bool, value []byte) []byte {
	var c []byte
	if critical {
		c = []byte{0x01, 0x01, 0xff}
	}
	return seq(oidDER(oid), c, elem(0x04, value))
}

func ce(n int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 5, 29, n} }

var (
	oidAIAExt   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
	oidOCSP     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1}
	oidRSAKey   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECKey    = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidEd25519K = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidP224     = asn1.ObjectIdentifier{1, 3, 132, 0, 33}
	oidP256     = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384     = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521     = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
	oidK256     = asn1.ObjectIdentifier{1, 3, 132, 0, 10} // secp256k1, which crypto/x509 does not know
	oidPolicy1  = asn1.ObjectIdentifier{2, 23, 140, 1, 2, 1}
	oidPolicy2  = asn1.ObjectIdentifier{2, 23, 140, 1, 2, 2}
)

// basicCA is a basic constraints extension that says CA.
var basicCA = ext(ce(19), true, seq([]byte{0x01, 0x01, 0xff}))

// rsaSPKI is an RSA key of the modulus and exponent contents given, with
// params as the algorithm's parameters.
func rsaSPKI(params, n, e []byte) []byte {
	return seq(seq(oidDER(oidRSAKey), params), bitString(seq(integer(n...), integer(e...))))
}

var (
	null      = []byte{0x05, 0x00}
	modulus   = append([]byte{0x00, 0xc5}, bytes.Repeat([]byte{0x5a}, 254)...)
	exponent  = []byte{0x01, 0x00, 0x01}
	edKey     = bytes.Repeat([]byte{0x42}, 32)
	tooBigInt = []byte{0x00, 0x80, 0, 0, 0, 0, 0, 0, 0} // 2^63
)

func ecSPKI(curve asn1.ObjectIdentifier, point []byte) []byte {
	return seq(seq(oidDER(oidECKey), oidDER(curve)), bitString(point))
}

func ecPoint(t *testing.T, c elliptic.Curve) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFastParseFollowsCryptoX509 holds parseFast to crypto/x509's rules one
// by one: for each crafted certificate, crypto/x509's verdict is as stated
// (so the case tests the rule it names), readFields reads it (so the
// verdict is parseFast's own), and parseFast either leaves it to the
// general path or reads what crypto/x509 and the lenient parser read.
// Every certificate crypto/x509 refuses must be left to the general path.
func TestFastParseFollowsCryptoX509(t *testing.T) {
	p256 := ecPoint(t, elliptic.P256())
	offCurve := append([]byte(nil), p256...)
	offCurve[len(offCurve)-1] ^= 1
	compressed := append([]byte{0x02 | p256[len(p256)-1]&1}, p256[1:33]...)
	san := func(names ...[]byte) []byte { return ext(ce(17), false, seq(names...)) }
	v1 := func(c *crafted) { c.version = nil }

	for _, tc := range []struct {
		name       string
		c          crafted
		x509, fast bool // crypto/x509 reads it; parseFast reads it
	}{
		{"plain", craft(basicCA), true, true},
		{"no extensions", craft(), true, true},
		{"empty extensions", craft().with(func(c *crafted) { c.tail = extensions() }), true, true},
		{"v1 self-issued", craft().with(func(c *crafted) { c.version, c.issuer = nil, c.subject }), true, true},
		{"v1 explicit", craft().with(func(c *crafted) { c.version = elem(0xa0, integer(0)) }), true, true},
		{"v2", craft().with(func(c *crafted) { c.version = elem(0xa0, integer(1)) }), true, true},
		{"version 4", craft().with(func(c *crafted) { c.version = elem(0xa0, integer(3)) }), false, false},
		{"negative version", craft().with(func(c *crafted) { c.version = elem(0xa0, integer(0xff)) }), false, false},
		{"extensions in a v1 certificate", craft(basicCA).with(v1), true, false},
		{"extensions in a v2 certificate", craft(basicCA).with(func(c *crafted) { c.version = elem(0xa0, integer(1)) }), true, false},
		{"unique ids in a v3 certificate", craft().with(func(c *crafted) { c.tail = elem(0x81, []byte{0, 1}) }), true, false},
		{"serial zero", craft().with(func(c *crafted) { c.serial = []byte{0} }), true, true},
		{"serial with a needless zero", craft().with(func(c *crafted) { c.serial = []byte{0, 1} }), false, false},
		{"serial with a needless zero before a high bit", craft().with(func(c *crafted) { c.serial = []byte{0, 0x80} }), true, true},
		{"negative serial", craft().with(func(c *crafted) { c.serial = []byte{0xff} }), false, false},
		{"signature algorithms differ", craft().with(func(c *crafted) { c.outerSigAlg = ecdsaWithSHA384 }), false, false},
		{"subject PrintableString with @", craft().with(func(c *crafted) {
			c.subject = rawName([]atv{printable(oidCN, "a@b")})
		}), false, false},
		{"issuer PrintableString with @", craft().with(func(c *crafted) {
			c.issuer = rawName([]atv{printable(oidCN, "a@b")})
		}), false, false},
		{"common name escaped", craft().with(func(c *crafted) {
			c.subject = rawName([]atv{utf8s(oidCN, "a, b"), utf8s(oidCN, " last ")}, []atv{utf8s(oidO, "O")})
		}), true, true},

		{"RSA", craft().with(func(c *crafted) { c.spki = rsaSPKI(null, modulus, exponent) }), true, true},
		{"RSA without NULL parameters", craft().with(func(c *crafted) { c.spki = rsaSPKI(nil, modulus, exponent) }), false, false},
		{"RSA exponent 0", craft().with(func(c *crafted) { c.spki = rsaSPKI(null, modulus, []byte{0}) }), false, false},
		{"RSA exponent negative", craft().with(func(c *crafted) { c.spki = rsaSPKI(null, modulus, []byte{0xfd}) }), false, false},
		{"RSA exponent too large for an int", craft().with(func(c *crafted) { c.spki = rsaSPKI(null, modulus, tooBigInt) }), false, false},
		{"RSA exponent of 63 bits", craft().with(func(c *crafted) {
			c.spki = rsaSPKI(null, modulus, []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		}), true, true},
		{"RSA exponent with a needless zero", craft().with(func(c *crafted) { c.spki = rsaSPKI(null, modulus, []byte{0, 3}) }), false, false},
		{"RSA modulus 0", craft().with(func(c *crafted) { c.spki = rsaSPKI(null, []byte{0}, exponent) }), false, false},
		{"RSA modulus negative", craft().with(func(c *crafted) { c.spki = rsaSPKI(null, modulus[1:], exponent) }), false, false},
		{"RSA modulus with a needless zero", craft().with(func(c *crafted) {
			c.spki = rsaSPKI(null, append([]byte{0}, modulus...), exponent)
		}), false, false},

		{"EC P-256", craft().with(func(c *crafted) { c.spki = ecSPKI(oidP256, p256) }), true, true},
		{"EC P-224", craft().with(func(c *crafted) { c.spki = ecSPKI(oidP224, ecPoint(t, elliptic.P224())) }), true, true},
		{"EC P-384", craft().with(func(c *crafted) { c.spki = ecSPKI(oidP384, ecPoint(t, elliptic.P384())) }), true, true},
		{"EC P-521", craft().with(func(c *crafted) { c.spki = ecSPKI(oidP521, ecPoint(t, elliptic.P521())) }), true, true},
		{"EC point off the curve", craft().with(func(c *crafted) { c.spki = ecSPKI(oidP256, offCurve) }), false, false},
		{"EC point of P-256 on P-384", craft().with(func(c *crafted) { c.spki = ecSPKI(oidP384, p256) }), false, false},
		{"EC point compressed", craft().with(func(c *crafted) { c.spki = ecSPKI(oidP256, compressed) }), false, false},
		{"EC point short", craft().with(func(c *crafted) { c.spki = ecSPKI(oidP256, p256[:64]) }), false, false},
		{"EC curve unknown", craft().with(func(c *crafted) { c.spki = ecSPKI(oidK256, p256) }), false, false},
		{"Ed25519", craft().with(func(c *crafted) { c.spki = seq(seq(oidDER(oidEd25519K)), bitString(edKey)) }), true, true},
		{"Ed25519 with parameters", craft().with(func(c *crafted) { c.spki = seq(seq(oidDER(oidEd25519K), null), bitString(edKey)) }), false, false},
		{"Ed25519 of 31 bytes", craft().with(func(c *crafted) { c.spki = seq(seq(oidDER(oidEd25519K)), bitString(edKey[1:])) }), false, false},

		{"duplicate extension", craft(basicCA, ext(ce(14), false, elem(0x04, []byte{1})), ext(ce(14), false, elem(0x04, []byte{2}))), false, false},
		{"key usage with 8 unused bits", craft(ext(ce(15), true, elem(0x03, []byte{8, 0x80}))), false, false},
		{"basic constraints with pathLen and without cA", craft(ext(ce(19), true, seq(integer(0)))), true, true},
		{"basic constraints with cA false", craft(ext(ce(19), true, seq([]byte{0x01, 0x01, 0x00}, integer(3)))), true, true},
		{"basic constraints empty", craft(ext(ce(19), false, seq())), true, true},
		{"basic constraints with a negative pathLen", craft(ext(ce(19), true, seq([]byte{0x01, 0x01, 0xff}, integer(0xff)))), false, false},
		{"basic constraints with a pathLen beyond an int", craft(ext(ce(19), true, seq([]byte{0x01, 0x01, 0xff}, integer(tooBigInt...)))), false, false},
		{"basic constraints with a pathLen with a needless zero", craft(ext(ce(19), true, seq([]byte{0x01, 0x01, 0xff}, integer(0, 1)))), false, false},
		{"SAN DNS name, email and addresses", craft(san(elem(0x82, []byte("a.example")), elem(0x81, []byte("a@a.example")),
			elem(0x87, []byte{192, 0, 2, 1}), elem(0x87, bytes.Repeat([]byte{0x20}, 16)))), true, true},
		{"SAN DNS name with a non-ASCII byte", craft(san(elem(0x82, []byte("caf\xc3\xa9.example")))), false, false},
		{"SAN email with a non-ASCII byte", craft(san(elem(0x81, []byte("a@caf\xe9.example")))), false, false},
		{"SAN IP address of 5 bytes", craft(san(elem(0x87, []byte{192, 0, 2, 1, 0}))), false, false},
		{"SAN URI", craft(san(elem(0x86, []byte("https://a.example/")))), true, false},
		{"subject key id critical", craft(ext(ce(14), true, elem(0x04, []byte{1, 2}))), false, false},
		{"subject key id", craft(ext(ce(14), false, elem(0x04, []byte{1, 2}))), true, true},
		{"authority key id critical", craft(ext(ce(35), true, seq(elem(0x80, []byte{1, 2})))), false, false},
		{"authority key id", craft(ext(ce(35), false, seq(elem(0x80, []byte{1, 2})))), true, true},
		{"AIA critical", craft(ext(oidAIAExt, true, seq(seq(oidDER(oidOCSP), elem(0x86, []byte("http://o.example")))))), false, false},
		{"AIA", craft(ext(oidAIAExt, false, seq(seq(oidDER(oidOCSP), elem(0x86, []byte("http://o.example")))))), true, true},
		{"EKU with an arc padded with 0x80", craft(ext(ce(37), false, seq(elem(0x06, []byte{0x2b, 0x80, 0x01})))), false, false},
		{"policies", craft(ext(ce(32), false, seq(seq(oidDER(oidPolicy1)), seq(oidDER(oidPolicy2))))), true, true},
		{"policies naming one twice", craft(ext(ce(32), false, seq(seq(oidDER(oidPolicy1)), seq(oidDER(oidPolicy1))))), false, false},
		{"CRL distribution point with a relative name", craft(ext(ce(31), false, seq(seq(elem(0xa0, elem(0xa1, seq())))))), false, false},
		{"CRL distribution point", craft(ext(ce(31), false, seq(seq(elem(0xa0, elem(0xa0, elem(0x86, []byte("http://c.example")))))))), true, true},
		{"policy constraints", craft(ext(ce(36), true, seq(elem(0x80, []byte{0}), elem(0x81, []byte{2})))), true, true},
		{"policy constraints with a needless zero", craft(ext(ce(36), true, seq(elem(0x80, []byte{0, 1})))), false, false},
		{"policy mappings", craft(ext(ce(33), true, seq(seq(oidDER(oidPolicy1), oidDER(oidPolicy2))))), true, true},
		{"policy mappings of one policy", craft(ext(ce(33), true, seq(seq(oidDER(oidPolicy1))))), false, false},
		{"inhibit anyPolicy", craft(ext(ce(54), true, integer(1))), true, true},
		{"inhibit anyPolicy not an INTEGER", craft(ext(ce(54), true, elem(0x04, []byte{1}))), false, false},
		{"name constraints", craft(ext(ce(30), true, seq(elem(0xa0, seq(elem(0x82, []byte("a.example"))))))), true, false},
		{"unknown critical extension", craft(ext(asn1.ObjectIdentifier{1, 2, 3, 4}, true, null)), true, true},
	} {
		der := tc.c.der()
		_, err := x509.ParseCertificate(der)
		if (err == nil) != tc.x509 {
			t.Errorf("%s: crypto/x509 reads it: %v (%v); the case does not test what it says", tc.name, err == nil, err)
		}
		if f, _ := stores.FastFieldsAgree(der); !f {
			t.Errorf("%s: readFields leaves it to the general path; the case tests nothing of parseFast", tc.name)
		}
		read, diff := stores.FastParseAgrees(der)
		if diff != "" {
			t.Errorf("%s: %s\n%x", tc.name, diff, der)
		}
		if read != tc.fast {
			t.Errorf("%s: parseFast reads it: %v, want %v\n%x", tc.name, read, tc.fast, der)
		}
	}
}

// TestFastParseAllocations: parseFast allocates the Certificate and the
// subject's rendering (the common name shares it unless it is escaped),
// nothing else.
func TestFastParseAllocations(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("coverage counters change what escapes, the race detector what sync.Pool keeps")
	}
	rsa := craft(basicCA, ext(ce(14), false, elem(0x04, []byte{1, 2}))).with(func(c *crafted) {
		c.spki = rsaSPKI(null, modulus, exponent)
	})
	for _, tc := range []struct {
		name string
		der  []byte
		max  float64
	}{
		{"RSA", rsa.der(), 2},
		{"RSA, common name escaped", rsa.with(func(c *crafted) { c.subject = rawName([]atv{utf8s(oidCN, "a, b")}) }).der(), 3},
		{"Ed25519", craft(basicCA).with(func(c *crafted) { c.spki = seq(seq(oidDER(oidEd25519K)), bitString(edKey)) }).der(), 2},
		{"P-256", testpki.Root("Allocations Root").DER, 2},
	} {
		parse := stores.FastParser(tc.der)
		if parse() == nil {
			t.Fatalf("%s: parseFast does not read it", tc.name)
		}
		if n := testing.AllocsPerRun(100, func() { parse() }); n > tc.max {
			t.Errorf("%s: %v allocations, want at most %v", tc.name, n, tc.max)
		}
	}
}

// TestFastTimeAgrees: readTime reads a time only where cryptobyte (crypto/x509)
// and encoding/asn1 (the lenient parser) read the same one, and it reads
// every valid date in the two forms RFC 5280 requires.
func TestFastTimeAgrees(t *testing.T) {
	read := 0
	check := func(tag byte, s string, valid bool) {
		t.Helper()
		r, diff := stores.FastTimeAgrees(elem(tag, []byte(s)))
		if diff != "" {
			t.Errorf("%x %q: %s", tag, s, diff)
		}
		if valid && !r {
			t.Errorf("%x %q: readTime does not read it", tag, s)
		}
		if r {
			read++
		}
	}
	days := []string{"00", "01", "28", "29", "30", "31", "32", "99"}
	months := []string{"00", "01", "02", "04", "09", "11", "12", "13"}
	for _, yy := range []string{"00", "01", "04", "49", "50", "51", "52", "68", "69", "70", "96", "99"} {
		for _, mm := range months {
			for _, dd := range days {
				check(0x17, yy+mm+dd+"235959Z", false)
			}
		}
	}
	for _, yyyy := range []string{"0000", "0001", "0004", "1600", "1900", "1950", "2000", "2024", "2050", "2100", "9999"} {
		for _, mm := range months {
			for _, dd := range days {
				check(0x18, yyyy+mm+dd+"000000Z", false)
			}
		}
	}
	for _, odd := range []string{"240101240000Z", "240101236000Z", "240101235960Z", "2401012359Z", "240101235959+0000",
		"24010123595Z", "2401012359590Z", "24o101235959Z", "+40101235959Z", " 40101235959Z", "240101235959z"} {
		check(0x17, odd, false)
		check(0x18, "20"+odd, false)
	}
	check(0x17, "240229120000Z", true)
	check(0x17, "500101000000Z", true)
	check(0x18, "20000229000000Z", true)
	check(0x18, "99991231235959Z", true)
	check(0x04, "240101000000Z", false)
	if read < 500 {
		t.Errorf("readTime read only %d of the times", read)
	}
}

// TestOnCurveAgreesWithCryptoECDSA: onCurve says a point is on the curve
// exactly where crypto/ecdsa.ParseUncompressedPublicKey (what crypto/x509
// uses) accepts it: points of keys made here, each with every bit flipped,
// coordinates of the prime itself, other forms and lengths.
func TestOnCurveAgreesWithCryptoECDSA(t *testing.T) {
	for _, c := range []struct {
		curve elliptic.Curve
		oid   asn1.ObjectIdentifier
	}{{elliptic.P224(), oidP224}, {elliptic.P256(), oidP256}, {elliptic.P384(), oidP384}, {elliptic.P521(), oidP521}} {
		oid := oidDER(c.oid)[2:]
		size := (c.curve.Params().BitSize + 7) / 8
		prime := c.curve.Params().P.FillBytes(make([]byte, size))
		check := func(what string, point []byte) bool {
			_, err := ecdsa.ParseUncompressedPublicKey(c.curve, point)
			if got := stores.OnCurve(oid, point); got != (err == nil) {
				t.Errorf("%s %s %x: onCurve %v, crypto/ecdsa %v", c.curve.Params().Name, what, point, got, err)
			}
			return err == nil
		}
		on := 0
		for range 3 {
			p := ecPoint(t, c.curve)
			if !check("key", p) {
				t.Errorf("%s: a key's point is not on the curve", c.curve.Params().Name)
			}
			for i := range len(p) * 8 {
				p[i/8] ^= 1 << (i % 8)
				if check("flipped", p) {
					on++
				}
				p[i/8] ^= 1 << (i % 8)
			}
			check("x the prime", append(append([]byte{4}, prime...), p[1+size:]...))
			check("y the prime", append(append([]byte{4}, p[1:1+size]...), prime...))
			check("short", p[:len(p)-1])
			check("long", append(p, 0))
			check("compressed", append([]byte{2 | p[len(p)-1]&1}, p[1:1+size]...))
			check("infinity", []byte{0})
			check("empty", nil)
		}
		if on > 0 {
			t.Errorf("%s: %d points with a bit flipped are on the curve", c.curve.Params().Name, on)
		}
	}
	if stores.OnCurve(oidDER(oidK256)[2:], ecPoint(t, elliptic.P256())) {
		t.Error("onCurve knows secp256k1")
	}
}
