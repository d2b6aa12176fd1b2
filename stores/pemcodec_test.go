package stores_test

import (
	"bytes"
	"crypto/x509"
	encpem "encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

var (
	codecRoot  = testpki.Root("Codec Aux Root")
	codecInter = codecRoot.Intermediate("Codec Aux Intermediate")
	codecLeaf  = codecRoot.Leaf("codec-aux.test", testpki.ExtKeyUsage(x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageCodeSigning))
)

// tlv is a DER TLV with a definite length.
func tlv(tag byte, content ...[]byte) []byte {
	c := bytes.Join(content, nil)
	n := len(c)
	switch {
	case n < 0x80:
		return append([]byte{tag, byte(n)}, c...)
	case n < 0x100:
		return append([]byte{tag, 0x81, byte(n)}, c...)
	default:
		return append([]byte{tag, 0x82, byte(n >> 8), byte(n)}, c...)
	}
}

func oid(o stores.RawOID) []byte { return tlv(0x06, o) }

var (
	oidServer = stores.OIDBytes(stores.ServerAuth.EKU())
	oidClient = stores.OIDBytes(stores.ClientAuth.EKU())
	oidEmail  = stores.OIDBytes(stores.Email.EKU())
	oidAny    = stores.OIDBytes(stores.OIDAnyExtendedKeyUsage)
)

// trustedRaw is a TRUSTED CERTIFICATE block of a certificate and raw trust
// data bytes.
func trustedRaw(cert, aux []byte) []byte {
	return encpem.EncodeToMemory(&encpem.Block{Type: stores.LabelTrustedCertificate, Bytes: append(append([]byte(nil), cert...), aux...)})
}

// auxSample is trust data with whether OpenSSL 3's file loader
// (PEM_X509_INFO_read_bio, behind -CAfile, nginx and curl) accepts it.
type auxSample struct {
	name   string
	aux    []byte
	accept bool
}

func auxSamples() []auxSample {
	seq := func(c ...[]byte) []byte { return tlv(0x30, c...) }
	return []auxSample{
		{"none", nil, true},
		{"empty sequence", seq(), true},
		{"trust serverAuth", seq(tlv(0x30, oid(oidServer))), true},
		{"empty trust list", seq(tlv(0x30)), true},
		{"reject emailProtection", seq(tlv(0xa0, oid(oidEmail))), true},
		{"alias", seq(tlv(0x0c, []byte("x"))), true},
		{"key id", seq(tlv(0x04, []byte{1, 2})), true},
		{"other empty", seq(tlv(0xa1)), true},
		{"other algorithm", seq(tlv(0xa1, seq(oid(oidServer)))), true},
		{"other algorithm with NULL", seq(tlv(0xa1, seq(oid(oidServer), tlv(0x05)))), true},
		{"all fields", seq(tlv(0x30, oid(oidServer)), tlv(0xa0, oid(oidEmail)), tlv(0x0c, []byte("al")), tlv(0x04, []byte("k")), tlv(0xa1, seq(oid(oidServer)))), true},
		{"trust any", seq(tlv(0x30, oid(oidAny))), true},
		{"reject any", seq(tlv(0x30, oid(oidServer)), tlv(0xa0, oid(oidAny))), true},
		{"unknown OID in trust list", seq(tlv(0x30, oid(stores.RawOID{0x2a, 0x03, 0x04}))), true},
		{"huge OID arc", seq(tlv(0x30, oid(stores.RawOID{0x2a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}))), true},
		{"bytes after the trust data", append(seq(tlv(0x30, oid(oidServer))), 0x05, 0x00), true},
		{"two trust data sequences", append(seq(tlv(0x30, oid(oidServer))), seq()...), true},
		{"indefinite length", append(append([]byte{0x30, 0x80}, tlv(0x30, oid(oidServer))...), 0, 0), true},
		{"indefinite trust list", seq(append(append([]byte{0x30, 0x80}, oid(oidServer)...), 0, 0)), true},
		{"long-form length with leading zero", append([]byte{0x30, 0x82, 0x00, 0x0c}, tlv(0x30, oid(oidServer))...), true},
		{"reject list primitive", seq(tlv(0x80, oid(oidEmail))), true},
		{"trust list primitive", seq(tlv(0x10, oid(oidEmail))), true},
		{"alias not UTF-8", seq(tlv(0x0c, []byte{0xff, 0xfe})), true},
		{"alias empty", seq(tlv(0x0c)), true},
		{"alias constructed", seq(tlv(0x2c, tlv(0x0c, []byte("x")))), true},
		{"alias constructed of other tags", seq(tlv(0x2c, tlv(0x04, []byte("x")), tlv(0x13, []byte("y")))), true},
		{"key id constructed", seq(tlv(0x24, tlv(0x04, []byte("x")))), true},
		{"other parameter SEQUENCE indefinite", seq(tlv(0xa1, seq(oid(oidServer), []byte{0x30, 0x80, 0x05, 0x00, 0x00, 0x00}))), true},
		{"other parameter context tag", seq(tlv(0xa1, seq(oid(oidServer), tlv(0x81, []byte{1})))), true},

		{"other not an algorithm", seq(tlv(0xa1, oid(oidServer))), false},
		{"unknown field", seq(tlv(0x30, oid(oidServer)), tlv(0x02, []byte{1})), false},
		{"unknown context field", seq(tlv(0xa2)), false},
		{"fields out of order", seq(tlv(0x0c, []byte("x")), tlv(0x30, oid(oidServer))), false},
		{"alias twice", seq(tlv(0x0c, []byte("x")), tlv(0x0c, []byte("y"))), false},
		{"trust data a SET", tlv(0x31), false},
		{"trust data an OCTET STRING", tlv(0x04, []byte("ab")), false},
		{"trust data primitive SEQUENCE", []byte{0x10, 0x00}, false},
		{"garbage", []byte{0xff, 0xff}, false},
		{"truncated", seq(tlv(0x30, oid(oidServer)))[:10], false},
		{"empty OID", seq(tlv(0x30, tlv(0x06))), false},
		{"OID with padding", seq(tlv(0x30, oid(stores.RawOID{0x2b, 0x80, 0x06}))), false},
		{"OID cut in an arc", seq(tlv(0x30, oid(stores.RawOID{0x2b, 0x86}))), false},
		{"OID starting with padding", seq(tlv(0x30, oid(stores.RawOID{0x80, 0x2b}))), false},
		{"OID constructed", seq(tlv(0x30, tlv(0x26, oid(oidServer)))), false},
		{"trust list of strings", seq(tlv(0x30, tlv(0x0c, []byte("x")))), false},
		{"reject list explicitly tagged", seq(tlv(0xa0, tlv(0x30, oid(oidEmail)))), false},
		{"alias PrintableString", seq(tlv(0x13, []byte("x"))), false},
		{"trust list a SET", seq(tlv(0x31, oid(oidServer))), false},
		{"trust data NULL", tlv(0x05), false},
		{"high tag number", seq([]byte{0x1f, 0x81, 0x00, 0x00}), false},
		{"end-of-contents in a definite sequence", seq([]byte{0, 0}), false},
		{"indefinite without end-of-contents", append([]byte{0x30, 0x80}, tlv(0x30, oid(oidServer))...), false},
		{"length longer than the data", []byte{0x30, 0x05, 0x30, 0x00}, false},
		{"other parameter NULL with content", seq(tlv(0xa1, seq(oid(oidServer), tlv(0x05, []byte{0})))), false},
		{"other parameter BOOLEAN too long", seq(tlv(0xa1, seq(oid(oidServer), tlv(0x01, []byte{1, 1})))), false},
		{"other parameter INTEGER padded", seq(tlv(0xa1, seq(oid(oidServer), tlv(0x02, []byte{0, 1})))), false},
		{"other parameter BMPString odd", seq(tlv(0xa1, seq(oid(oidServer), tlv(0x1e, []byte{0, 1, 2})))), false},
		{"other parameter primitive SEQUENCE", seq(tlv(0xa1, seq(oid(oidServer), tlv(0x10)))), false},
		{"other algorithm missing", seq(tlv(0xa1, seq())), false},
	}
}

// TestAuxMatchesOpenSSL decodes trust data OpenSSL accepts and refuses and,
// where openssl is installed, checks each answer against OpenSSL's file
// loader, and each trust decision against openssl verify.
func TestAuxMatchesOpenSSL(t *testing.T) {
	bin := storetest.Tool(t, "openssl")
	dir := t.TempDir()
	leaf := filepath.Join(dir, "leaf.pem")
	if err := os.WriteFile(leaf, codecLeaf.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	verifyPurposes := map[stores.Purpose]string{stores.ServerAuth: "sslserver", stores.ClientAuth: "sslclient", stores.Email: "smimesign"}
	for i, s := range auxSamples() {
		t.Run(s.name, func(t *testing.T) {
			data := trustedRaw(codecRoot.DER, s.aux)
			b, err := stores.DecodePEM(data, stores.DecodeOptions{})
			if accepted := err == nil; accepted != s.accept {
				t.Errorf("rootsync accepts: %v (%v), want %v", accepted, err, s.accept)
			}
			if err != nil && (!errors.Is(err, stores.ErrCorrupt) || !errors.Is(err, stores.ErrBadAux)) {
				t.Errorf("error %v does not wrap ErrCorrupt and ErrBadAux", err)
			}
			file := filepath.Join(dir, fmt.Sprintf("sample%d.pem", i))
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			out, lerr := exec.Command(bin, "crl2pkcs7", "-nocrl", "-certfile", file, "-out", os.DevNull).CombinedOutput()
			if loaded := lerr == nil; loaded != s.accept {
				t.Fatalf("openssl loads the file: %v, but the table says %v: %s", loaded, s.accept, out)
			}
			if err != nil {
				return
			}
			got := b.Blocks[0].Trust()
			for p, name := range verifyPurposes {
				verr := exec.Command(bin, "verify", "-CAfile", file, "-purpose", name, leaf).Run()
				if ok := verr == nil; ok != (got[p] == stores.Trusted) {
					t.Errorf("%v: openssl verify -purpose %s ok=%v, rootsync says %v", p, name, ok, got[p])
				}
			}
		})
	}
}

// TestAuxTrustFor is OpenSSL's reading of trust and reject lists (obj_trust).
func TestAuxTrustFor(t *testing.T) {
	T, D, U := stores.Trusted, stores.Distrusted, stores.Unspecified
	lists := func(trust, reject []stores.RawOID) *stores.Aux {
		return &stores.Aux{HasTrust: trust != nil, Trust: trust, HasReject: reject != nil, Reject: reject}
	}
	tests := []struct {
		name       string
		aux        *stores.Aux
		selfSigned bool
		want       stores.Trust
	}{
		{"no trust data, self-signed", nil, true, stores.TrustAll()},
		{"no trust data, not self-signed", nil, false, stores.Trust{}},
		{"alias only", &stores.Aux{HasAlias: true, Alias: []byte("a")}, true, stores.TrustAll()},
		{"trust list", lists([]stores.RawOID{oidServer, oidClient}, nil), true, stores.Trust{T, T, U, U}},
		{"empty trust list", lists([]stores.RawOID{}, nil), true, stores.Trust{}},
		{"empty reject list", lists(nil, []stores.RawOID{}), true, stores.TrustAll()},
		{"any EKU trusted", lists([]stores.RawOID{oidAny}, nil), false, stores.TrustAll()},
		{"reject wins", lists([]stores.RawOID{oidServer, oidEmail}, []stores.RawOID{oidServer}), true, stores.Trust{D, U, T, U}},
		{"reject only", lists(nil, []stores.RawOID{oidEmail}), true, stores.Trust{T, T, D, T}},
		{"reject only, not self-signed", lists(nil, []stores.RawOID{oidEmail}), false, stores.Trust{U, U, D, U}},
		{"reject any", lists(nil, []stores.RawOID{oidAny}), true, stores.DistrustAll()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.aux.TrustFor(tt.selfSigned); got != tt.want {
				t.Errorf("trust = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTrustoutByteForByte: openssl x509 -trustout writes exactly the bytes
// EncodeTrustedCertificatePEM writes for the same trust, and DecodePEM reads
// openssl's block back to that trust and alias.
func TestTrustoutByteForByte(t *testing.T) {
	bin := storetest.Tool(t, "openssl")
	T, D, U := stores.Trusted, stores.Distrusted, stores.Unspecified
	dir := t.TempDir()
	in := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(in, codecRoot.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		trust stores.Trust
		alias string
	}{
		{stores.Trust{T, U, U, U}, ""},
		{stores.Trust{T, T, D, U}, "My Root"},
		{stores.Trust{U, U, U, D}, ""},
		{stores.Trust{T, T, T, T}, "all"},
		{stores.Trust{}, "alias only"},
	}
	for _, tt := range tests {
		t.Run(tt.trust.String()+" "+tt.alias, func(t *testing.T) {
			args := []string{"x509", "-in", in, "-trustout"}
			for _, p := range stores.Purposes {
				switch tt.trust[p] {
				case T:
					args = append(args, "-addtrust", p.OpenSSLName())
				case D:
					args = append(args, "-addreject", p.OpenSSLName())
				}
			}
			if tt.alias != "" {
				args = append(args, "-setalias", tt.alias)
			}
			out, err := exec.Command(bin, args...).Output()
			if err != nil {
				t.Fatalf("openssl %v: %v", args, err)
			}
			want := stores.EncodeTrustedCertificatePEM(codecRoot.DER, stores.AuxFor(tt.trust, tt.alias))
			if !bytes.Equal(out, want) {
				t.Errorf("openssl wrote\n%s\nrootsync writes\n%s", out, want)
			}
			b, err := stores.DecodePEM(out, stores.DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			blk := b.Certificates()[0]
			wantTrust := tt.trust
			if !tt.trust.Any(T) {
				// Without a trust list a self-signed root is trusted for
				// what is not rejected.
				wantTrust = stores.TrustAll()
				for _, p := range stores.Purposes {
					if tt.trust[p] == D {
						wantTrust[p] = D
					}
				}
			}
			if blk.Trust() != wantTrust || string(blk.Aux.Alias) != tt.alias || blk.Cert.Fingerprint != stores.FingerprintOf(codecRoot.DER) {
				t.Errorf("read back trust %v alias %q; want %v %q", blk.Trust(), blk.Aux.Alias, wantTrust, tt.alias)
			}
		})
	}
}

// TestP11KitOpenSSLBundle reads what p11-kit's openssl-bundle extraction
// writes (the ca-bundle.trust.crt of Fedora-family systems): plain anchors,
// trust and reject lists passed through from openssl -trustout input, and
// distrust from a .p11-kit file. Each trust decision is checked against
// openssl verify on the same file.
func TestP11KitOpenSSLBundle(t *testing.T) {
	bin := storetest.Tool(t, "openssl")
	T, D, U := stores.Trusted, stores.Distrusted, stores.Unspecified
	plain := testpki.Root("P11 Plain Root")
	partial := testpki.Root("P11 Partial Root")
	distrusted := testpki.Root("P11 Distrusted Root")
	src := filepath.Join(t.TempDir(), "source")
	anchors := filepath.Join(src, "anchors")
	if err := os.MkdirAll(anchors, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(anchors, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("plain.pem", plain.PEM())
	write("partial.pem", stores.EncodeTrustedCertificatePEM(partial.DER, stores.AuxFor(stores.Trust{T, U, D, U}, "Partial")))
	write("distrusted.p11-kit", append([]byte("[p11-kit-object-v1]\nclass: certificate\nx-distrusted: true\n"), distrusted.PEM()...))
	data := storetest.TrustExtract(t, src, "--format=openssl-bundle", "--filter=certificates")
	b, err := stores.DecodePEM(data, stores.DecodeOptions{})
	if err != nil {
		t.Fatalf("DecodePEM of p11-kit's bundle: %v\n%s", err, data)
	}
	want := map[stores.Fingerprint]stores.Trust{
		stores.FingerprintOf(plain.DER):      stores.TrustAll(),
		stores.FingerprintOf(partial.DER):    {T, U, D, U},
		stores.FingerprintOf(distrusted.DER): stores.DistrustAll(),
	}
	certs := b.Certificates()
	if len(certs) != len(want) {
		t.Fatalf("%d certificates in p11-kit's bundle, want %d", len(certs), len(want))
	}
	dir := t.TempDir()
	verifyPurposes := map[stores.Purpose]string{stores.ServerAuth: "sslserver", stores.ClientAuth: "sslclient", stores.Email: "smimesign"}
	for i, blk := range certs {
		w, ok := want[blk.Cert.Fingerprint]
		if !ok || !blk.Trusted() {
			t.Fatalf("block %d: %s (%s) is not one of the anchors as TRUSTED CERTIFICATE", blk.Index, blk.Cert.Subject, blk.Label)
		}
		if blk.Trust() != w {
			t.Errorf("%s: trust %v, want %v", blk.Cert.Subject, blk.Trust(), w)
		}
		ca := filepath.Join(dir, fmt.Sprintf("ca%d.pem", i))
		if err := os.WriteFile(ca, data[blk.Start:blk.End], 0o644); err != nil {
			t.Fatal(err)
		}
		var root *testpki.Cert
		for _, r := range []*testpki.Cert{plain, partial, distrusted} {
			if stores.FingerprintOf(r.DER) == blk.Cert.Fingerprint {
				root = r
			}
		}
		leaf := filepath.Join(dir, fmt.Sprintf("leaf%d.pem", i))
		if err := os.WriteFile(leaf, root.Leaf("p11.test", testpki.ExtKeyUsage(x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection)).PEM(), 0o644); err != nil {
			t.Fatal(err)
		}
		for p, name := range verifyPurposes {
			verr := exec.Command(bin, "verify", "-CAfile", ca, "-purpose", name, leaf).Run()
			if ok := verr == nil; ok != (blk.Trust()[p] == stores.Trusted) {
				t.Errorf("%s %v: openssl verify ok=%v, rootsync says %v", blk.Cert.Subject, p, ok, blk.Trust()[p])
			}
		}
	}
}

// TestDecodePEMPositions: blocks are numbered among all PEM blocks and know
// their line; errors name both.
func TestDecodePEMPositions(t *testing.T) {
	r := codecRoot.PEM()
	lines := bytes.Count(r, []byte("\n"))
	key := codecRoot.KeyPEM()
	data := bytes.Join([][]byte{[]byte("# comment\n\n"), r, key, []byte("text\n"), trustedRaw(codecInter.DER, nil)}, nil)
	b, err := stores.DecodePEM(data, stores.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keyLines := bytes.Count(key, []byte("\n"))
	want := []struct {
		label string
		line  int
	}{{"CERTIFICATE", 3}, {"PRIVATE KEY", 3 + lines}, {"TRUSTED CERTIFICATE", 3 + lines + keyLines + 1}}
	if len(b.Blocks) != len(want) {
		t.Fatalf("%d blocks, want %d", len(b.Blocks), len(want))
	}
	for i, w := range want {
		blk := b.Blocks[i]
		if blk.Label != w.label || blk.Line != w.line || blk.Index != i+1 {
			t.Errorf("block %d: %s at line %d, want %s at line %d", i+1, blk.Label, blk.Line, w.label, w.line)
		}
		if blk.Label == "PRIVATE KEY" && (blk.Cert != nil || !bytes.Equal(data[blk.Start:blk.End], key)) {
			t.Errorf("key block: cert %v, bytes %q", blk.Cert, data[blk.Start:blk.End])
		}
	}
	if got := b.Certificates()[1].Trust(); got != (stores.Trust{}) {
		t.Errorf("TRUSTED CERTIFICATE of an intermediate without trust data: %v, want nothing", got)
	}
	bad := append(append([]byte(nil), data...), trustedRaw(codecRoot.DER, []byte{0x05, 0x00})...)
	_, err = stores.DecodePEM(bad, stores.DecodeOptions{})
	var be *stores.BlockError
	if !errors.As(err, &be) || be.Index != 4 || be.Line != 3+lines+keyLines+1+bytes.Count(trustedRaw(codecInter.DER, nil), []byte("\n")) {
		t.Fatalf("error %v, want block 4 at its line", err)
	}
	if !strings.HasPrefix(err.Error(), be.Position()+": ") {
		t.Errorf("error %q does not start with the position", err)
	}
	if _, err := stores.DecodePEM(append(r, "-----BEGIN CERTIFICATE-----\nMIIB\n"...), stores.DecodeOptions{}); !errors.As(err, &be) || be.Index != 2 || be.Line != lines+1 {
		t.Errorf("cut-off block: %v, want block 2 at line %d", err, lines+1)
	}
}

func TestDecodePEMDER(t *testing.T) {
	b, err := stores.DecodePEM(codecRoot.DER, stores.DecodeOptions{DER: true})
	if err != nil || !b.DER || len(b.Certificates()) != 1 || b.Certificates()[0].Trust() != stores.TrustAll() {
		t.Fatalf("DER with DER allowed: %+v, %v", b, err)
	}
	if b, err := stores.DecodePEM(codecRoot.DER, stores.DecodeOptions{}); err != nil || len(b.Blocks) != 0 {
		t.Fatalf("DER without DER allowed: %+v, %v; want no block", b, err)
	}
	if _, err := stores.DecodePEM([]byte{0x30, 0x03, 0x02, 0x01, 0x01}, stores.DecodeOptions{DER: true}); !errors.Is(err, stores.ErrCorrupt) {
		t.Fatalf("bad DER: %v, want ErrCorrupt", err)
	}
}

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpora under testdata/fuzz")

// TestFuzzCorpus writes the checked-in seed corpora (go test ./stores -run
// TestFuzzCorpus -update-corpus) from the samples above and openssl's own
// output, and otherwise checks that they are there.
func TestFuzzCorpus(t *testing.T) {
	samples := auxSamples()
	seeds := map[string][][]byte{}
	for _, s := range samples {
		seeds["FuzzDecodeAux"] = append(seeds["FuzzDecodeAux"], s.aux)
		seeds["FuzzDecodePEM"] = append(seeds["FuzzDecodePEM"], trustedRaw(codecRoot.DER, s.aux))
	}
	seeds["FuzzDecodePEM"] = append(seeds["FuzzDecodePEM"],
		append(append([]byte("# comment\n"), codecRoot.PEM()...), codecRoot.KeyPEM()...),
		codecRoot.DER,
		stores.EncodeTrustedCertificatePEM(codecRoot.DER, stores.AuxFor(stores.Trust{stores.Trusted, stores.Unspecified, stores.Distrusted}, "seed")))
	for name, list := range seeds {
		dir := filepath.Join("testdata", "fuzz", name)
		if !*updateCorpus {
			if ents, err := os.ReadDir(dir); err != nil || len(ents) < len(list) {
				t.Errorf("%s: %d seeds checked in, want %d (run with -update-corpus)", dir, len(ents), len(list))
			}
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, data := range list {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%03d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// FuzzDecodeAux: trust data that decodes survives Marshal and decoding
// again unchanged, and Marshal is stable.
func FuzzDecodeAux(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := stores.DecodeAux(data)
		if err != nil || a == nil {
			return
		}
		der := a.Marshal()
		b, err := stores.DecodeAux(der)
		if err != nil {
			t.Fatalf("re-encoded trust data does not decode: %v\n%x", err, der)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the trust data:\n%+v\n%+v", a, b)
		}
		if !bytes.Equal(b.Marshal(), der) {
			t.Fatal("Marshal is not stable")
		}
		if a.TrustFor(true) != b.TrustFor(true) || a.TrustFor(false) != b.TrustFor(false) {
			t.Fatal("trust changed in the round trip")
		}
	})
}

// FuzzDecodePEM: every certificate block that decodes, written again with
// the encoder, decodes to the same certificate and trust data.
func FuzzDecodePEM(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := stores.DecodePEM(data, stores.DecodeOptions{DER: true})
		if err != nil {
			return
		}
		for _, blk := range b.Blocks {
			if blk.Start < 0 || blk.Start > blk.End || blk.End > len(data) || blk.Line < 1 {
				t.Fatalf("block %d: bad position %d-%d line %d", blk.Index, blk.Start, blk.End, blk.Line)
			}
		}
		for _, blk := range b.Certificates() {
			var out []byte
			if blk.Trusted() {
				out = stores.EncodeTrustedCertificatePEM(blk.Cert.DER, blk.Aux)
			} else {
				out = stores.EncodeCertificatePEM(blk.Cert.DER)
			}
			again, err := stores.DecodePEM(out, stores.DecodeOptions{})
			if err != nil {
				t.Fatalf("block %d written again does not decode: %v", blk.Index, err)
			}
			c := again.Certificates()
			if len(c) != 1 || c[0].Cert.Fingerprint != blk.Cert.Fingerprint || c[0].Trust() != blk.Trust() || !reflect.DeepEqual(c[0].Aux, blk.Aux) {
				t.Fatalf("block %d changed in the round trip", blk.Index)
			}
		}
	})
}

// manyBlocks is a bundle of n roots, with a comment line before every third
// and a key block after every tenth; the blocks one by one and the line
// before each.
func manyBlocks(n int) (data []byte, blocks [][]byte, befores []string) {
	for i := range n {
		before := ""
		if i%3 == 0 {
			before = fmt.Sprintf("# root %d\n", i)
			data = append(data, before...)
		}
		blk := testpki.Root(fmt.Sprintf("Many Blocks %d", i)).PEM()
		data = append(data, blk...)
		blocks, befores = append(blocks, blk), append(befores, before)
		if i%10 == 9 {
			key := codecRoot.KeyPEM()
			data = append(data, key...)
			blocks, befores = append(blocks, key), append(befores, "")
		}
	}
	return data, blocks, befores
}

// TestScanPEMInParallel: with several goroutines decoding, ScanPEM still
// gives every block in file order with what decoding it alone gives, the
// line before it, and the same Certificate for the same DER; and it stops at
// the first error in file order, whoever decoded which block first.
func TestScanPEMInParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	data, blocks, wantBefores := manyBlocks(200)
	data = append(data, blocks[0]...) // the first root again, last
	blocks, wantBefores = append(blocks, blocks[0]), append(wantBefores, "")
	var got []*stores.PEMBlock
	var befores []string
	err := stores.ScanPEM(bytes.NewReader(data), func(b *stores.PEMBlock, before []byte) error {
		cp := *b // b is valid only during the call
		got = append(got, &cp)
		befores = append(befores, string(before))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(blocks) {
		t.Fatalf("%d blocks, want %d", len(got), len(blocks))
	}
	for i, b := range got {
		if b.Index != i+1 || !bytes.Equal(data[b.Start:b.End], blocks[i]) {
			t.Fatalf("block %d: index %d, bytes %q", i+1, b.Index, data[b.Start:b.End])
		}
		alone, err := stores.DecodePEM(blocks[i], stores.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want := alone.Blocks[0].Cert; (want == nil) != (b.Cert == nil) || want != nil && want.Fingerprint != b.Cert.Fingerprint {
			t.Fatalf("block %d: certificate %v, want %v", i+1, b.Cert, want)
		}
		if befores[i] != wantBefores[i] {
			t.Errorf("block %d: line before %q, want %q", i+1, befores[i], wantBefores[i])
		}
	}
	if got[0].Cert != got[len(got)-1].Cert {
		t.Error("the same DER twice gave two Certificates")
	}

	// A bad block: fn sees exactly the blocks before it.
	for _, badAt := range []int{0, 1, 57, len(blocks) - 1} {
		bad := bytes.Replace(data, blocks[badAt], bytes.Replace(blocks[badAt], []byte("\n"), []byte("\n!"), 3), 1)
		if badAt == len(blocks)-1 {
			bad = append(append([]byte(nil), data[:len(data)-len(blocks[badAt])]...), bytes.Replace(blocks[badAt], []byte("\n"), []byte("\n!"), 3)...)
		}
		n := 0
		err := stores.ScanPEM(bytes.NewReader(bad), func(*stores.PEMBlock, []byte) error { n++; return nil })
		var be *stores.BlockError
		if !errors.As(err, &be) || be.Index != badAt+1 || n != badAt {
			t.Errorf("bad block %d: %d blocks given, error %v; want %d and the bad block's", badAt+1, n, err, badAt)
		}
	}
	// fn's error ends the scan at that block.
	stop := errors.New("stop")
	n := 0
	err = stores.ScanPEM(bytes.NewReader(data), func(b *stores.PEMBlock, _ []byte) error {
		n++
		if b.Index == 30 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 30 {
		t.Errorf("fn's error: %v after %d blocks, want stop after 30", err, n)
	}
	// A block without END after good ones: they reach fn first.
	n = 0
	err = stores.ScanPEM(bytes.NewReader(append(append([]byte(nil), data...), "-----BEGIN CERTIFICATE-----\nMIIB\n"...)),
		func(*stores.PEMBlock, []byte) error { n++; return nil })
	var be *stores.BlockError
	if !errors.As(err, &be) || be.Index != len(blocks)+1 || n != len(blocks) {
		t.Errorf("cut-off last block: %d blocks given, error %v", n, err)
	}
}

// TestPlainBlockAgreesWithEncodingPEM: the fast block decoder reads the
// plain blocks and, on every block it reads (each byte of some blocks
// replaced by characters that matter to a PEM reader, or removed),
// decodes what encoding/pem decodes.
func TestPlainBlockAgreesWithEncodingPEM(t *testing.T) {
	cert := codecRoot.PEM()
	trusted := trustedRaw(codecInter.DER, nil)
	x509Label := bytes.ReplaceAll(cert, []byte("CERTIFICATE"), []byte("X509 CERTIFICATE"))
	wide := encpem.EncodeToMemory(&encpem.Block{Type: "CERTIFICATE", Bytes: codecLeaf.DER})
	wide = bytes.Replace(wide, []byte("\n"), nil, 3) // longer lines
	wide = bytes.Replace(wide, []byte("BEGIN CERTIFICATE-----"), []byte("BEGIN CERTIFICATE-----\n"), 1)
	for _, c := range []struct {
		name  string
		raw   []byte
		label string
		plain bool
	}{
		{"certificate", cert, "CERTIFICATE", true},
		{"no final line feed", bytes.TrimSuffix(cert, []byte("\n")), "CERTIFICATE", true},
		{"trusted", trusted, "TRUSTED CERTIFICATE", true},
		{"X509 CERTIFICATE", x509Label, "X509 CERTIFICATE", true},
		{"long lines", wide, "CERTIFICATE", true},
		{"CRLF", bytes.ReplaceAll(cert, []byte("\n"), []byte("\r\n")), "CERTIFICATE", false},
		{"header", bytes.Replace(cert, []byte("-----\n"), []byte("-----\nProc-Type: 4,ENCRYPTED\n\n"), 1), "CERTIFICATE", false},
		{"trailing blank", bytes.Replace(cert, []byte("-----\n"), []byte("----- \n"), 1), "CERTIFICATE", false},
		{"other label", cert, "TRUSTED CERTIFICATE", false},
	} {
		read, diff := stores.PlainBlockAgrees(c.raw, c.label)
		if diff != "" {
			t.Errorf("%s: %s", c.name, diff)
		}
		if read != c.plain {
			t.Errorf("%s: read by the fast decoder %v, want %v", c.name, read, c.plain)
		}
		if !c.plain {
			continue
		}
		for i := range c.raw {
			for _, r := range []byte{'-', ' ', '\r', '\n', ':', '=', 'A', '/', '\t', 0} {
				m := append([]byte(nil), c.raw...)
				m[i] = r
				if _, diff := stores.PlainBlockAgrees(m, c.label); diff != "" {
					t.Fatalf("%s with byte %d set to %q: %s", c.name, i, r, diff)
				}
			}
			m := append(append([]byte(nil), c.raw[:i]...), c.raw[i+1:]...)
			if _, diff := stores.PlainBlockAgrees(m, c.label); diff != "" {
				t.Fatalf("%s without byte %d: %s", c.name, i, diff)
			}
		}
	}
}

// FuzzPlainBlock: whatever the fast block decoder reads, encoding/pem reads
// the same.
func FuzzPlainBlock(f *testing.F) {
	f.Add(codecRoot.PEM(), "CERTIFICATE")
	f.Add(trustedRaw(codecInter.DER, nil), "TRUSTED CERTIFICATE")
	f.Fuzz(func(t *testing.T, raw []byte, label string) {
		if _, diff := stores.PlainBlockAgrees(raw, label); diff != "" {
			t.Fatal(diff)
		}
	})
}
