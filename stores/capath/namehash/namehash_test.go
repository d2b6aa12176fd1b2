package namehash

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/rootsync/rootsync/stores/storetest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// --- building Names by hand ---

var (
	oidCN = []byte{0x55, 0x04, 0x03}
	oidO  = []byte{0x55, 0x04, 0x0a}
	oidOU = []byte{0x55, 0x04, 0x0b}
	oidC  = []byte{0x55, 0x04, 0x06}
	// 1.2.3.4.5: an attribute type nobody defines.
	oidOdd = []byte{0x2a, 0x03, 0x04, 0x05}
)

func der(tag byte, content ...[]byte) []byte { return appendTLV(nil, tag, bytes.Join(content, nil)) }

// atv is an AttributeTypeAndValue whose value has the given tag byte.
func atv(oid []byte, tag byte, value []byte) []byte {
	return der(0x30, der(0x06, oid), der(tag, value))
}

func rdn(atvs ...[]byte) []byte    { return der(0x31, atvs...) }
func name(rdns ...[]byte) []byte   { return der(0x30, rdns...) }
func cn(tag byte, v string) []byte { return rdn(atv(oidCN, tag, []byte(v))) }

func bmp(s string) []byte {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return b
}

func ucs4(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r>>24), byte(r>>16), byte(r>>8), byte(r))
	}
	return b
}

// nameCase is one subject for the differential test.
type nameCase struct {
	name    string
	raw     []byte
	refused bool // OpenSSL must refuse the certificate
}

func awkwardNames() []nameCase {
	o := rdn(atv(oidO, 0x13, []byte("rootsync tests")))
	ok := func(n string, raw []byte) nameCase { return nameCase{name: n, raw: raw} }
	bad := func(n string, raw []byte) nameCase { return nameCase{name: n, raw: raw, refused: true} }
	return []nameCase{
		ok("printable mixed case", name(o, cn(0x13, "Hello World CA"))),
		ok("utf8 leading and trailing whitespace", name(o, cn(0x0c, "\t \r\n Foo Bar \v\f\r\n"))),
		ok("inner whitespace runs", name(cn(0x0c, "A \t\t B\r\n\v\fC  D"))),
		ok("carriage return only", name(cn(0x13, "\rEdge\r"))),
		ok("whitespace only", name(cn(0x0c, " \t\n "))),
		ok("empty value", name(cn(0x0c, ""))),
		ok("nbsp not stripped", name(cn(0x0c, "\u00a0Foo\u00a0 \u00a0Bar\u00a0"))),
		ok("unicode upper case kept", name(cn(0x0c, "ÄÖÜ Straße ABC ΣΑΣ"))),
		ok("t61 latin1", name(cn(0x14, "Caf\xe9 \xc0 LA CR\xc8ME"))),
		ok("printable with odd bytes", name(cn(0x13, "Bad\x01Printable\xff*"))),
		ok("ia5", name(rdn(atv([]byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01}, 0x16, []byte(" Root@Example.COM "))))),
		ok("bmp", name(rdn(atv(oidCN, 0x1e, bmp(" Über  Straße CA "))))),
		ok("bmp astral-free whitespace", name(rdn(atv(oidCN, 0x1e, bmp("\tTAB\u00a0NBSP\t"))))),
		ok("universal", name(rdn(atv(oidCN, 0x1c, ucs4("  Universal ABC 😀 "))))),
		ok("numeric kept as is", name(rdn(atv(oidOdd, 0x12, []byte(" 12  34 "))))),
		ok("mixed string types", name(
			rdn(atv(oidC, 0x13, []byte("DE"))),
			rdn(atv(oidO, 0x14, []byte("T61 Org"))),
			rdn(atv(oidOU, 0x1e, bmp("BMP Unit"))),
			rdn(atv(oidCN, 0x0c, []byte("UTF8 Name"))))),
		ok("multi-valued rdn order 1", name(rdn(atv(oidCN, 0x0c, []byte("Zed")), atv(oidO, 0x13, []byte("Alpha"))))),
		ok("multi-valued rdn order 2", name(rdn(atv(oidO, 0x13, []byte("Alpha")), atv(oidCN, 0x0c, []byte("Zed"))))),
		ok("multi-valued rdn case differs", name(rdn(atv(oidCN, 0x13, []byte("SAME")), atv(oidCN, 0x0c, []byte("same"))))),
		ok("empty rdn in the middle", name(o, rdn(), cn(0x0c, "After Empty"))),
		ok("empty subject", name()),
		ok("only empty rdns", name(rdn(), rdn())),
		ok("bit string", name(rdn(atv(oidOdd, 0x03, []byte{0x03, 0xab, 0xcf})))),
		ok("bit string no bits", name(rdn(atv(oidOdd, 0x03, []byte{0x05})))),
		ok("sequence value", name(rdn(atv(oidOdd, 0x30, der(0x13, []byte("In A Sequence")))))),
		ok("unknown tag 7", name(rdn(atv(oidOdd, 0x07, []byte("Seven"))))),
		ok("unknown tag 8", name(rdn(atv(oidOdd, 0x08, []byte("Eight"))))),
		ok("unknown tag 9", name(rdn(atv(oidOdd, 0x09, []byte{0x03, '1', 'E', '2'})))),
		ok("unknown tag 11", name(rdn(atv(oidOdd, 0x0b, []byte("Eleven"))))),
		ok("unknown tag 13", name(rdn(atv(oidOdd, 0x0d, []byte{0x01, 0x02})))),
		ok("unknown tag 14", name(rdn(atv(oidOdd, 0x0e, []byte("Fourteen"))))),
		ok("unknown tag 15", name(rdn(atv(oidOdd, 0x0f, []byte("Fifteen"))))),
		ok("unknown tag 29", name(rdn(atv(oidOdd, 0x1d, []byte("Twenty Nine"))))),
		ok("long value", name(cn(0x0c, strings.Repeat("Long   Name ", 30)))),
		ok("constructed utf8", name(rdn(der(0x30, der(0x06, oidCN),
			der(0x2c, der(0x04, []byte("  Split ")), der(0x04, []byte("VALUE  "))))))),
		ok("non-minimal length", name(rdn([]byte{0x30, 0x81, 0x0a, 0x06, 0x03, 0x55, 0x04, 0x03, 0x13, 0x03, 'A', 'B', 'C'}))),

		bad("visible string", name(rdn(atv(oidCN, 0x1a, []byte("Visible"))))),
		bad("graphic string", name(rdn(atv(oidCN, 0x19, []byte("Graphic"))))),
		bad("general string", name(rdn(atv(oidCN, 0x1b, []byte("General"))))),
		bad("videotex string", name(rdn(atv(oidCN, 0x15, []byte("Videotex"))))),
		bad("octet string", name(rdn(atv(oidCN, 0x04, []byte("Octets"))))),
		bad("utctime", name(rdn(atv(oidOdd, 0x17, []byte("240101000000Z"))))),
		bad("generalizedtime", name(rdn(atv(oidOdd, 0x18, []byte("20240101000000Z"))))),
		bad("integer", name(rdn(atv(oidOdd, 0x02, []byte{0x05})))),
		bad("enumerated", name(rdn(atv(oidOdd, 0x0a, []byte{0x05})))),
		bad("null", name(rdn(atv(oidOdd, 0x05, nil)))),
		bad("context specific", name(rdn(atv(oidCN, 0x80, []byte("ctx"))))),
		bad("bmp odd length", name(rdn(atv(oidCN, 0x1e, []byte{0x00, 0x41, 0x00})))),
		bad("bmp surrogate", name(rdn(atv(oidCN, 0x1e, []byte{0xd8, 0x3d, 0xde, 0x00})))),
		bad("utf8 overlong", name(cn(0x0c, "A\xc0\xafB"))),
		bad("utf8 surrogate", name(cn(0x0c, "A\xed\xa0\x80B"))),
		bad("utf8 above U+10FFFF", name(cn(0x0c, "A\xf4\x90\x80\x80B"))),
		bad("utf8 truncated", name(cn(0x0c, "A\xe2\x82"))),
		bad("universal bad length", name(rdn(atv(oidCN, 0x1c, []byte{0, 0, 0x41})))),
		bad("universal above U+10FFFF", name(rdn(atv(oidCN, 0x1c, []byte{0, 0x11, 0, 0})))),
		bad("bit string too many unused bits", name(rdn(atv(oidOdd, 0x03, []byte{0x08, 0xff})))),
	}
}

// --- running openssl ---

func needOpenSSL(t testing.TB) string {
	return storetest.Tool(t, "openssl")
}

// opensslHashes returns openssl's new and old subject hash of the
// certificate in file, or an error when openssl refuses it.
func opensslHashes(t *testing.T, bin, file string) (string, string, error) {
	t.Helper()
	out, err := exec.Command(bin, "x509", "-subject_hash", "-subject_hash_old", "-noout", "-in", file).CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("%v: %s", err, out)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		t.Fatalf("openssl x509 -subject_hash: unexpected output %q", out)
	}
	return f[0], f[1], nil
}

func writePEM(t *testing.T, dir, name string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, stores.EncodeCertificatePEM(der), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDifferentialAwkwardSubjects(t *testing.T) {
	bin := needOpenSSL(t)
	dir := t.TempDir()
	for i, tc := range awkwardNames() {
		t.Run(tc.name, func(t *testing.T) {
			certDER := testpki.RootDER(fmt.Sprintf("awkward %d", i), testpki.RawSubject(tc.raw))
			c, err := stores.ParseCertificate(certDER)
			if err != nil {
				t.Fatalf("ParseCertificate: %v", err)
			}
			if !bytes.Equal(c.RawSubject, tc.raw) {
				t.Fatalf("certificate subject %x, want %x", c.RawSubject, tc.raw)
			}
			file := writePEM(t, dir, fmt.Sprintf("%02d.pem", i), certDER)
			wantNew, wantOld, oerr := opensslHashes(t, bin, file)
			got, err := SubjectHash(tc.raw)
			if tc.refused {
				if oerr == nil {
					t.Fatalf("openssl accepted the certificate (hash %s); the case expects a refusal", wantNew)
				}
				if err == nil {
					t.Fatalf("SubjectHash = %08x, want an error (openssl: %v)", got, oerr)
				}
				if !errors.Is(err, ErrRefused) {
					t.Errorf("error %v does not wrap ErrRefused", err)
				}
				return
			}
			if oerr != nil {
				t.Fatalf("openssl refused the certificate: %v", oerr)
			}
			if err != nil {
				t.Fatalf("SubjectHash: %v (openssl says %s)", err, wantNew)
			}
			if Hex(got) != wantNew {
				c, _ := Canonical(tc.raw)
				t.Errorf("SubjectHash = %s, openssl = %s (canonical %x)", Hex(got), wantNew, c)
			}
			if old := Hex(SubjectHashOld(tc.raw)); old != wantOld {
				t.Errorf("SubjectHashOld = %s, openssl = %s", old, wantOld)
			}
		})
	}
}

func TestDifferentialSystemBundle(t *testing.T) {
	bin := needOpenSSL(t)
	const bundle = "/etc/ssl/certs/ca-certificates.crt"
	data, err := os.ReadFile(bundle)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	bundleBlocks, err := stores.DecodePEM(data, stores.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, blk := range bundleBlocks.Certificates() {
		n++
		c := blk.Cert
		file := writePEM(t, dir, fmt.Sprintf("%03d.pem", n), c.DER)
		wantNew, wantOld, err := opensslHashes(t, bin, file)
		if err != nil {
			t.Fatalf("%s: openssl: %v", c.Subject, err)
		}
		got, err := SubjectHash(c.RawSubject)
		if err != nil {
			t.Errorf("%s: %v", c.Subject, err)
			continue
		}
		if Hex(got) != wantNew {
			t.Errorf("%s: SubjectHash = %s, openssl = %s", c.Subject, Hex(got), wantNew)
		}
		if old := Hex(SubjectHashOld(c.RawSubject)); old != wantOld {
			t.Errorf("%s: SubjectHashOld = %s, openssl = %s", c.Subject, old, wantOld)
		}
	}
	if n < 100 {
		t.Fatalf("%s holds only %d certificates", bundle, n)
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		name string
		a, b []byte
		same bool
	}{
		{"case folds", name(cn(0x13, "ABC")), name(cn(0x0c, "abc")), true},
		{"whitespace folds", name(cn(0x0c, " a \t b ")), name(cn(0x13, "a b")), true},
		{"multi-valued order", name(rdn(atv(oidCN, 0x0c, []byte("x")), atv(oidO, 0x0c, []byte("y")))),
			name(rdn(atv(oidO, 0x0c, []byte("y")), atv(oidCN, 0x0c, []byte("x")))), true},
		{"empty rdn dropped", name(rdn(), cn(0x0c, "x")), name(cn(0x0c, "x")), true},
		{"rdn order matters", name(cn(0x0c, "x"), rdn(atv(oidO, 0x0c, []byte("y")))),
			name(rdn(atv(oidO, 0x0c, []byte("y"))), cn(0x0c, "x")), false},
		{"nbsp is not space", name(cn(0x0c, "\u00a0x")), name(cn(0x0c, "x")), false},
		{"unicode not lower-cased", name(cn(0x0c, "Ä")), name(cn(0x0c, "ä")), false},
		{"numeric not folded", name(rdn(atv(oidOdd, 0x12, []byte(" 1")))), name(rdn(atv(oidOdd, 0x12, []byte("1")))), false},
		{"latin1 t61 equals utf8", name(cn(0x14, "caf\xe9")), name(cn(0x0c, "café")), true},
		{"bmp equals utf8", name(rdn(atv(oidCN, 0x1e, bmp("Ünï")))), name(cn(0x0c, "Ünï")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ha, err := SubjectHash(tt.a)
			if err != nil {
				t.Fatal(err)
			}
			hb, err := SubjectHash(tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got := ha == hb; got != tt.same {
				t.Errorf("hash equal = %v (%08x, %08x), want %v", got, ha, hb, tt.same)
			}
		})
	}
	if h, err := SubjectHash(name()); err != nil || Hex(h) != "eea339da" {
		t.Errorf("empty name: %08x, %v; want eea339da", h, err)
	}
}

func FuzzCanonical(f *testing.F) {
	for _, tc := range awkwardNames() {
		f.Add(tc.raw)
	}
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		c1, err1 := Canonical(raw)
		c2, err2 := Canonical(raw)
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(c1, c2) {
			t.Fatalf("not deterministic: %x %v / %x %v", c1, err1, c2, err2)
		}
		h1, herr := SubjectHash(raw)
		if (herr == nil) != (err1 == nil) {
			t.Fatalf("SubjectHash error %v, Canonical error %v", herr, err1)
		}
		if h2, _ := SubjectHash(raw); h1 != h2 {
			t.Fatal("hash not deterministic")
		}
		_ = SubjectHashOld(raw)
		if plainName(raw) && err1 != nil {
			t.Fatalf("plainName passes a name Canonical refuses: %v", err1)
		}
		if c, ok := appendPlainCanonical(nil, raw); ok && !bytes.Equal(c, c1) {
			t.Fatalf("fast canonical form %x, Canonical %x", c, c1)
		}
		if err1 != nil {
			if !errors.Is(err1, ErrRefused) {
				t.Fatalf("error does not wrap ErrRefused: %v", err1)
			}
			return
		}
		again, err := Canonical(appendTLV(nil, 0x30, c1))
		if err != nil {
			t.Fatalf("canonical form %x refused: %v", c1, err)
		}
		if !bytes.Equal(again, c1) {
			t.Fatalf("canonical form not stable:\n first %x\nsecond %x", c1, again)
		}
	})
}

// TestCheckNamesFastPath: the fast path takes the names of real roots and
// never a name Canonical refuses, so CheckNames says what Canonical says.
func TestCheckNamesFastPath(t *testing.T) {
	plain := name(rdn(atv(oidC, 0x13, []byte("DE"))), rdn(atv(oidCN, 0x0c, []byte("Some Root  CA"))))
	if !plainName(plain) {
		t.Error("a PrintableString/UTF8String name is not taken by the fast path")
	}
	for _, tc := range awkwardNames() {
		_, err := Canonical(tc.raw)
		if plainName(tc.raw) && err != nil {
			t.Errorf("%s: the fast path takes a name Canonical refuses: %v", tc.name, err)
		}
		if cerr := CheckNames(tc.raw, plain); (cerr == nil) != (err == nil) {
			t.Errorf("%s: CheckNames %v, Canonical %v", tc.name, cerr, err)
		}
	}
}

// TestPlainCanonical: the canonical form built in place is Canonical's for
// the names it takes (whitespace trimmed and folded, upper case, values long
// enough for long-form lengths, empty RDNs), it leaves names with several
// attributes in one RDN and non-plain names to Canonical, and SubjectHash
// gives the same hash either way.
func TestPlainCanonical(t *testing.T) {
	long := strings.Repeat("Long  Value ", 30)
	cases := []struct {
		name string
		raw  []byte
		fast bool
	}{
		{"usual", name(rdn(atv(oidC, 0x13, []byte("DE"))), rdn(atv(oidO, 0x0c, []byte("Some Trust Center GmbH"))), cn(0x0c, "Root CA 2")), true},
		{"spaces and case", name(cn(0x13, "  Some \t\n ROOT   CA  ")), true},
		{"IA5String", name(rdn(atv(oidCN, 0x16, []byte("Mail Root")))), true},
		{"only spaces", name(cn(0x0c, "   ")), true},
		{"empty value", name(cn(0x0c, "")), true},
		{"empty RDN", name(rdn(), cn(0x0c, "After Empty")), true},
		{"empty name", name(), true},
		{"long value", name(cn(0x0c, long)), true},
		{"very long value", name(cn(0x0c, strings.Repeat(long, 3))), true},
		{"two attributes in one RDN", name(rdn(atv(oidO, 0x0c, []byte("B")), atv(oidCN, 0x0c, []byte("A")))), false},
		{"BMPString", name(rdn(atv(oidCN, 0x1e, bmp("Wide")))), false},
		{"Latin-1 T61String", name(rdn(atv(oidCN, 0x14, []byte("Caf\xe9")))), false},
	}
	for _, tc := range append(cases, func() (out []struct {
		name string
		raw  []byte
		fast bool
	}) {
		for _, a := range awkwardNames() {
			out = append(out, struct {
				name string
				raw  []byte
				fast bool
			}{a.name, a.raw, plainName(a.raw) && !multiValued(a.raw)})
		}
		return out
	}()...) {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := appendPlainCanonical([]byte("prefix"), tc.raw)
			if ok != tc.fast {
				t.Fatalf("fast path taken = %v, want %v", ok, tc.fast)
			}
			want, err := Canonical(tc.raw)
			if ok {
				if err != nil {
					t.Fatalf("fast path took a name Canonical refuses: %v", err)
				}
				if !bytes.Equal(got, append([]byte("prefix"), want...)) {
					t.Errorf("fast form %x, Canonical %x", got[6:], want)
				}
			}
			h, herr := SubjectHash(tc.raw)
			if (herr == nil) != (err == nil) {
				t.Fatalf("SubjectHash error %v, Canonical error %v", herr, err)
			}
			if err == nil {
				sum := sha1.Sum(want)
				if h != binary.LittleEndian.Uint32(sum[:4]) {
					t.Errorf("SubjectHash %08x is not the hash of Canonical's form", h)
				}
			}
		})
	}
}

// multiValued reports whether some RDN of a well-formed name holds more
// than one attribute.
func multiValued(raw []byte) bool {
	n, _, err := readTLV(raw)
	if err != nil {
		return false
	}
	for body := n.content; len(body) > 0; {
		r, rest, err := readTLV(body)
		if err != nil {
			return false
		}
		body = rest
		if len(r.content) > 0 {
			if _, others, err := readTLV(r.content); err == nil && len(others) > 0 {
				return true
			}
		}
	}
	return false
}

func BenchmarkCheckNames(b *testing.B) {
	raw := name(rdn(atv(oidC, 0x13, []byte("DE"))), rdn(atv(oidO, 0x0c, []byte("Some Trust Center GmbH"))),
		rdn(atv(oidCN, 0x0c, []byte("Some Trust Center  Root CA 2"))))
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckNames(raw, raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSubjectHash(b *testing.B) {
	raw := name(rdn(atv(oidC, 0x13, []byte("DE"))), rdn(atv(oidO, 0x0c, []byte("Some Trust Center GmbH"))),
		rdn(atv(oidCN, 0x0c, []byte("Some Trust Center  Root CA 2"))))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SubjectHash(raw); err != nil {
			b.Fatal(err)
		}
	}
}
