package pem

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	encpem "encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

func open(t testing.TB, path string) stores.Store {
	t.Helper()
	s, err := Open(stores.Spec{Kind: "pem", Location: path}, stores.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func appendFile(t testing.TB, path string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, dir string) stores.Store { return open(t, filepath.Join(dir, "bundle.pem")) },
		AddForeign: func(t *testing.T, s stores.Store, c *stores.Certificate) {
			appendFile(t, s.Paths()[0], append([]byte("# added by hand\n"), stores.EncodeCertificatePEM(c.DER)...))
		},
		Corrupt: func(t *testing.T, s stores.Store) {
			b, err := os.ReadFile(s.Paths()[0])
			if err != nil {
				t.Fatal(err)
			}
			i := bytes.Index(b, []byte("-----\n")) + 20
			copy(b[i:], "!!!!")
			if err := os.WriteFile(s.Paths()[0], b, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	})
}

func load(t *testing.T, s stores.Store) *stores.Set {
	t.Helper()
	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func add(certs ...*testpki.Cert) []stores.Change {
	var out []stores.Change
	for _, c := range certs {
		out = append(out, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: stores.MustParse(c.DER), Trust: stores.TrustAll()}})
	}
	return out
}

var (
	rootA = testpki.Root("PEM Root A")
	rootB = testpki.Root("PEM Root B")
	rootF = testpki.Root("PEM Foreign Root")
)

// TestKeepsOtherContent: other blocks (PKCS7, CRLs), comments, CRLF lines and a missing final
// newline survive an add and removals byte for byte.
func TestKeepsOtherContent(t *testing.T) {
	head := "# Corporate bundle\r\n\r\nsome text\n"
	key := "-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----\n"
	crl := "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----"
	orig := head + string(rootF.PEM()) + "between\n" + key + string(rootB.PEM()) + crl
	path := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(path, []byte(orig), 0o640); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	set := load(t, s)
	if set.Len() != 2 {
		t.Fatalf("Load: %d entries, want 2", set.Len())
	}
	if e := set.Get(stores.FingerprintOf(rootB.DER)); e == nil || e.Label != "block 3" || e.Owned {
		t.Fatalf("root B entry = %+v, want label block 3, foreign", e)
	}
	if err := s.Apply(context.Background(), add(rootA)); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	a := stores.MustParse(rootA.DER)
	want := orig + "\n" + OwnerPrefix + a.Subject + "\n" + string(rootA.PEM())
	if string(got) != want {
		t.Fatalf("after add:\n%s\nwant:\n%s", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640 kept", fi.Mode().Perm())
	}
	// Remove the owned entry (with its comment) and the foreign root B.
	set = load(t, s)
	rm := []stores.Change{
		{Action: stores.Remove, Entry: set.Get(a.Fingerprint)},
		{Action: stores.Remove, Entry: set.Get(stores.FingerprintOf(rootB.DER))},
	}
	if err := s.Apply(context.Background(), rm); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	want = head + string(rootF.PEM()) + "between\n" + key + crl + "\n"
	if string(got) != want {
		t.Fatalf("after removals:\n%q\nwant:\n%q", got, want)
	}
}

func TestDERFileRewrittenAsPEM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "root.der")
	if err := os.WriteFile(path, rootF.DER, 0o644); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	set := load(t, s)
	if e := set.Get(stores.FingerprintOf(rootF.DER)); set.Len() != 1 || e == nil || e.Trust != stores.TrustAll() {
		t.Fatalf("DER file: %d entries, %+v", set.Len(), e)
	}
	if err := s.Apply(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, rootF.DER) {
		t.Fatal("empty Apply changed a DER file")
	}
	if err := s.Apply(context.Background(), add(rootA)); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := string(rootF.PEM()) + OwnerPrefix + stores.MustParse(rootA.DER).Subject + "\n" + string(rootA.PEM())
	if string(got) != want {
		t.Fatalf("DER file after add:\n%s\nwant:\n%s", got, want)
	}
}

func TestCorruptBlockNamed(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"bad base64", string(rootA.PEM()) + string(rootB.PEM()) + "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "bundle.pem: block 3 (line 23): "},
		{"no end", string(rootA.PEM()) + "-----BEGIN CERTIFICATE-----\nMIIB\n", "bundle.pem: block 2 (line 12): "},
		{"not a certificate", "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", "bundle.pem: block 1 (line 1): "},
		{"bad trust settings", trustedPEM(rootA.DER, []byte{0x04, 0x00}), "bundle.pem: block 1 (line 1): "},
		{"garbage binary", "\x30\x03\x02\x01", "bundle.pem: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bundle.pem")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := open(t, path).Load(context.Background())
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if !errors.Is(err, stores.ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
			if stores.HintOf(err) == "" {
				t.Errorf("error %v has no hint", err)
			}
		})
	}
}

func TestDuplicatesFold(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(path, bytes.Join([][]byte{rootA.PEM(), rootB.PEM(), rootA.PEM()}, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	set := load(t, s)
	e := set.Get(stores.FingerprintOf(rootA.DER))
	if set.Len() != 2 || e == nil || e.Label != "block 1" || len(e.Notes) != 1 || !strings.Contains(e.Notes[0], "block 3") {
		t.Fatalf("duplicates: %d entries, root A %+v", set.Len(), e)
	}
	if err := s.Apply(context.Background(), []stores.Change{{Action: stores.Remove, Entry: e}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, rootB.PEM()) {
		t.Fatalf("after removing the duplicated root:\n%s", got)
	}
}

func TestUnparseableKeptByteForByte(t *testing.T) {
	odd := testpki.RootDER("PEM Odd Root", func(c *x509.Certificate) {
		c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Value: []byte{0x05, 0x00}}}
	})
	if stores.MustParse(odd).ParseError == nil {
		t.Fatal("test certificate is parsed; it should be refused by the parser")
	}
	path := filepath.Join(t.TempDir(), "bundle.pem")
	s := open(t, path)
	e := &stores.Entry{Cert: stores.MustParse(odd), Trust: stores.TrustAll()}
	if err := s.Apply(context.Background(), []stores.Change{{Action: stores.Add, Entry: e}}); err != nil {
		t.Fatal(err)
	}
	got := load(t, s).Get(stores.FingerprintOf(odd))
	if got == nil || !bytes.Equal(got.Cert.DER, odd) || got.Cert.ParseError == nil {
		t.Fatalf("unparseable certificate after a round trip: %+v", got)
	}
}

func TestRefusesTrustItCannotHold(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bundle.pem")
	s := open(t, path)
	for _, tr := range []stores.Trust{{}, stores.DistrustAll()} {
		err := s.Apply(context.Background(), []stores.Change{{Action: stores.Add, Entry: &stores.Entry{Cert: stores.MustParse(rootA.DER), Trust: tr}}})
		if !errors.Is(err, stores.ErrUnsupported) {
			t.Errorf("Add with trust %v: %v, want ErrUnsupported", tr, err)
		}
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused Apply created the file: %v", err)
	}
}

func TestFullDiskLeavesFile(t *testing.T) {
	dir := storetest.TinyFS(t, 64<<10)
	path := filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(path, bytes.Repeat(rootF.PEM(), 60), 0o644); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	before := storetest.Snapshot(t, s.Paths())
	var ch []stores.Change
	for i := 0; i < 80; i++ {
		ch = append(ch, add(testpki.Root(fmt.Sprintf("PEM Filler %d", i)))...)
	}
	if err := s.Apply(context.Background(), ch); err == nil {
		t.Fatal("Apply on a full disk succeeded")
	}
	storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("folder holds %d entries after a failed Apply, want only the bundle", len(ents))
	}
}

// trustedPEM builds a TRUSTED CERTIFICATE block from a certificate and raw
// X509_AUX bytes.
func trustedPEM(cert, aux []byte) string {
	return string(encpem.EncodeToMemory(&encpem.Block{Type: stores.LabelTrustedCertificate, Bytes: append(append([]byte(nil), cert...), aux...)}))
}

// TestTrustedCertificateOpenSSL makes TRUSTED CERTIFICATE blocks with the real
// openssl x509 -addtrust/-addreject -trustout, checks the mapping against a
// table, and checks every Trusted/not-Trusted answer against what openssl
// verify decides for that purpose.
func TestTrustedCertificateOpenSSL(t *testing.T) {
	bin := needOpenSSL(t)
	root := testpki.Root("PEM Trust Root")
	inter := root.Intermediate("PEM Trust Intermediate")
	leaf := root.Leaf("pem-trust.test", testpki.ExtKeyUsage(x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageCodeSigning))
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rootFile := write("root.pem", root.PEM())
	interFile := write("inter.pem", inter.PEM())
	leafFile := write("leaf.pem", leaf.PEM())
	T, D, U := stores.Trusted, stores.Distrusted, stores.Unspecified
	tests := []struct {
		name string
		in   string
		args []string
		want stores.Trust // server, client, email, code signing
	}{
		{"no aux self-signed", rootFile, nil, stores.Trust{T, T, T, T}},
		{"no aux not self-signed", interFile, nil, stores.Trust{U, U, U, U}},
		{"trust serverAuth", rootFile, []string{"-addtrust", "serverAuth"}, stores.Trust{T, U, U, U}},
		{"trust server and client", rootFile, []string{"-addtrust", "serverAuth", "-addtrust", "clientAuth"}, stores.Trust{T, T, U, U}},
		{"trust server reject email", rootFile, []string{"-addtrust", "serverAuth", "-addreject", "emailProtection"}, stores.Trust{T, U, D, U}},
		{"reject email only", rootFile, []string{"-addreject", "emailProtection"}, stores.Trust{T, T, D, T}},
		{"reject any", rootFile, []string{"-addtrust", "serverAuth", "-addreject", "anyExtendedKeyUsage"}, stores.Trust{D, D, D, D}},
		{"trust any", rootFile, []string{"-addtrust", "anyExtendedKeyUsage"}, stores.Trust{T, T, T, T}},
		{"trust any reject client", rootFile, []string{"-addtrust", "anyExtendedKeyUsage", "-addreject", "clientAuth"}, stores.Trust{T, D, T, T}},
		{"trust codeSigning", rootFile, []string{"-addtrust", "codeSigning"}, stores.Trust{U, U, U, T}},
		{"trust emailProtection", rootFile, []string{"-addtrust", "emailProtection"}, stores.Trust{U, U, T, U}},
		{"trust timeStamping only", rootFile, []string{"-addtrust", "timeStamping"}, stores.Trust{U, U, U, U}},
		{"alias only", rootFile, []string{"-setalias", "My Root"}, stores.Trust{T, T, T, T}},
		{"reject server trust server", rootFile, []string{"-addtrust", "serverAuth", "-addreject", "serverAuth"}, stores.Trust{D, U, U, U}},
	}
	verifyPurposes := map[stores.Purpose]string{stores.ServerAuth: "sslserver", stores.ClientAuth: "sslclient", stores.Email: "smimesign"}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"x509", "-in", tt.in}, tt.args...)
			args = append(args, "-trustout")
			out, err := exec.Command(bin, args...).Output()
			if err != nil {
				t.Fatalf("openssl %v: %v", args, err)
			}
			if !bytes.Contains(out, []byte("BEGIN TRUSTED CERTIFICATE")) {
				t.Fatalf("openssl wrote no TRUSTED CERTIFICATE block:\n%s", out)
			}
			f, err := ParseFile("trusted.pem", out)
			if err != nil {
				t.Fatal(err)
			}
			certs := f.Certificates()
			if len(certs) != 1 {
				t.Fatalf("%d certificates", len(certs))
			}
			if got := certs[0].Trust; got != tt.want {
				t.Errorf("trust = %v (%v), want %v (%v)", got, [4]stores.Level(got), tt.want, [4]stores.Level(tt.want))
			}
			if tt.in != rootFile {
				return
			}
			// openssl verify with the block as the only CA must agree.
			caFile := write(fmt.Sprintf("ca%d.pem", i), out)
			for p, purpose := range verifyPurposes {
				err := exec.Command(bin, "verify", "-CAfile", caFile, "-purpose", purpose, leafFile).Run()
				if verified := err == nil; verified != (certs[0].Trust[p] == stores.Trusted) {
					t.Errorf("%v: openssl verify -purpose %s ok=%v, but trust says %v", p, purpose, verified, certs[0].Trust[p])
				}
			}
		})
	}
}

// TestTrustListsByHand covers X509_AUX forms openssl x509 cannot write: a
// present but empty trust list.
func TestTrustListsByHand(t *testing.T) {
	seq := func(b ...byte) []byte { return append([]byte{0x30, byte(len(b))}, b...) }
	emptyTrust := seq(0x30, 0x00)
	emptyReject := seq(0xa0, 0x00)
	T, U := stores.Trusted, stores.Unspecified
	tests := []struct {
		name string
		aux  []byte
		want stores.Trust
	}{
		{"empty trust list", emptyTrust, stores.Trust{U, U, U, U}},
		{"empty reject list", emptyReject, stores.Trust{T, T, T, T}},
		{"empty aux", seq(), stores.Trust{T, T, T, T}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFile("x.pem", []byte(trustedPEM(rootA.DER, tt.aux)))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Certificates()[0].Trust; got != tt.want {
				t.Errorf("trust = %v, want %v", got, tt.want)
			}
		})
	}
}

func needOpenSSL(t testing.TB) string {
	return storetest.Tool(t, "openssl")
}

func FuzzParseFile(f *testing.F) {
	f.Add(append(append([]byte("# c\n"), rootA.PEM()...), rootB.KeyPEM()...))
	f.Add([]byte(trustedPEM(rootA.DER, []byte{0x30, 0x02, 0x30, 0x00})))
	f.Add(rootA.DER)
	f.Add([]byte(OwnerPrefix + "x\n" + string(rootB.PEM()) + "tail"))
	f.Fuzz(func(t *testing.T, data []byte) {
		f1, err := ParseFile("fuzz.pem", data)
		if err != nil {
			return
		}
		if !bytes.Equal(f1.Bytes(), data) {
			t.Fatal("unchanged file does not give back its bytes")
		}
		// Force a rewrite from the pieces, then read it again.
		f1.changed = true
		out := f1.Bytes()
		if !f1.IsDER() && !bytes.Equal(out, data) {
			t.Fatalf("rewrite changed the bytes:\n%q\n%q", data, out)
		}
		f2, err := ParseFile("fuzz.pem", out)
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v", err)
		}
		a, b := f1.Certificates(), f2.Certificates()
		if len(a) != len(b) {
			t.Fatalf("%d certificates, then %d", len(a), len(b))
		}
		for i := range a {
			if a[i].Cert.Fingerprint != b[i].Cert.Fingerprint || a[i].Trust != b[i].Trust || a[i].Owned != b[i].Owned {
				t.Fatalf("certificate %d differs after the round trip: %+v / %+v", i, a[i], b[i])
			}
		}
	})
}

func BenchmarkPEMParse(b *testing.B) {
	data, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f, err := ParseFile("ca-certificates.crt", data)
		if err != nil {
			b.Fatal(err)
		}
		Entries(f)
	}
}

// TestFixtureBundle reads the committed fixtures (see testdata/README.md).
func TestFixtureBundle(t *testing.T) {
	a := testpki.Root("Fixture Root A")
	b := testpki.Root("Fixture Root B")
	c := testpki.Root("Fixture Root C")
	set := load(t, open(t, filepath.Join("..", "..", "testdata", "pem", "mixed.pem")))
	tests := []struct {
		cert  *testpki.Cert
		label string
		trust stores.Trust
		owned bool
		notes int
	}{
		{a, "block 1", stores.TrustAll(), false, 1},
		{b, "block 3", stores.Trust{stores.Trusted, stores.Unspecified, stores.Distrusted, stores.Unspecified}, false, 0},
		{c, "block 5", stores.TrustAll(), true, 0},
	}
	if set.Len() != len(tests) {
		t.Errorf("%d entries, want %d", set.Len(), len(tests))
	}
	for _, tt := range tests {
		e := set.Get(stores.FingerprintOf(tt.cert.DER))
		if e == nil {
			t.Errorf("%s missing", tt.cert.Cert.Subject.CommonName)
			continue
		}
		if e.Label != tt.label || e.Trust != tt.trust || e.Owned != tt.owned || len(e.Notes) != tt.notes {
			t.Errorf("%s: label %q trust %v owned %v notes %q; want %q %v %v %d notes",
				tt.cert.Cert.Subject.CommonName, e.Label, e.Trust, e.Owned, e.Notes, tt.label, tt.trust, tt.owned, tt.notes)
		}
	}
	der := load(t, open(t, filepath.Join("..", "..", "testdata", "pem", "root-a.der")))
	if der.Len() != 1 || der.Get(stores.FingerprintOf(a.DER)) == nil {
		t.Errorf("root-a.der: %d entries, want Fixture Root A", der.Len())
	}
}
