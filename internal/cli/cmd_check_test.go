package cli

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/rootsync/rootsync/internal/report"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores/capath"
)

func writeFile(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func makeCRL(t *testing.T, issuer *testpki.Cert, revoked ...*testpki.Cert) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(30 * 24 * time.Hour)}
	for _, r := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: r.Cert.SerialNumber, RevocationTime: time.Now().Add(-time.Hour), ReasonCode: 1})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer.Cert, issuer.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// runMain runs the command line and returns status, stdout and stderr.
func runMain(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	root := testpki.Root("cli check root")
	inter := root.Intermediate("cli check issuing ca")
	other := testpki.Root("cli check other root")
	p := func(name string) string { return filepath.Join(dir, name) }
	writeFile(t, p("ca.pem"), root.PEM())
	writeFile(t, p("other.pem"), other.PEM())
	writeFile(t, p("inter.pem"), inter.PEM())
	writeFile(t, p("alice.pem"), root.Leaf("alice").PEM())
	writeFile(t, p("alice.der"), root.Leaf("alice").DER)
	writeFile(t, p("bob-chain.pem"), append(inter.Leaf("bob").PEM(), inter.PEM()...))
	writeFile(t, p("bob.pem"), inter.Leaf("bob").PEM())
	writeFile(t, p("stranger.pem"), other.Leaf("stranger").PEM())
	old := testpki.Validity(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 12, 0, 0, 0, 0, time.UTC))
	writeFile(t, p("expired.pem"), root.Leaf("expired", old).PEM())
	writeFile(t, p("revoked.pem"), root.Leaf("revoked").PEM())
	writeFile(t, p("crl.pem"), makeCRL(t, root, root.Leaf("revoked")))
	alice := root.Leaf("alice")
	p12, err := pkcs12.Modern.Encode(alice.Key, alice.Cert, nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p("alice.p12"), p12)
	bob := inter.Leaf("bob")
	p12chain, err := pkcs12.Modern.Encode(bob.Key, bob.Cert, []*x509.Certificate{inter.Cert}, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p("bob.p12"), p12chain)
	t.Setenv("CLIENT_PW", "s3cret")
	t.Setenv("WRONG_PW", "nope")

	ca := "pem:" + p("ca.pem")
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"accepted", []string{"check", p("alice.pem"), "--store", ca, "--no-discover"}, ExitOK, []string{"accepted: CN=alice"}},
		{"accepted DER", []string{"check", p("alice.der"), "--store", ca, "--no-discover"}, ExitOK, []string{"accepted: CN=alice"}},
		{"accepted PKCS#12", []string{"check", p("alice.p12"), "--store", ca, "--no-discover", "--password-env", "CLIENT_PW"}, ExitOK, []string{"accepted: CN=alice"}},
		{"PKCS#12 with its chain", []string{"check", p("bob.p12"), "--store", ca, "--no-discover", "--password-file", writeFile(t, p("pw"), []byte("s3cret\n"))}, ExitOK, []string{"[intermediates]"}},
		{"PKCS#12 wrong password", []string{"check", p("alice.p12"), "--store", ca, "--no-discover", "--password-env", "WRONG_PW"}, ExitError, []string{"wrong password", "hint: check the password in $WRONG_PW"}},
		{"chain in the PEM file", []string{"check", p("bob-chain.pem"), "--store", ca, "--no-discover"}, ExitOK, []string{"1 ", "CN=cli check issuing ca"}},
		{"intermediates flag", []string{"check", p("bob.pem"), "--intermediates", p("inter.pem"), "--store", ca, "--no-discover"}, ExitOK, nil},
		{"missing intermediate", []string{"check", p("bob.pem"), "--store", ca, "--no-discover"}, ExitRejected, []string{"reject: missing-issuer", "CN=cli check issuing ca"}},
		{"expired", []string{"check", p("expired.pem"), "--store", ca, "--no-discover", "--at", "2026-11-22"}, ExitRejected, []string{"expired 41 days ago on 2026-10-12"}},
		{"expired, judged earlier", []string{"check", p("expired.pem"), "--store", ca, "--no-discover", "--at", "2026-01-01T00:00:00Z"}, ExitOK, nil},
		{"revoked", []string{"check", p("revoked.pem"), "--store", ca, "--crl", p("crl.pem"), "--no-discover"}, ExitRejected, []string{"reject: revoked"}},
		{"unknown issuer with a fix", []string{"check", p("stranger.pem"), "--store", ca, "--no-discover", "--also", "pem:" + p("other.pem")}, ExitRejected,
			[]string{"reject: root-not-in-store", "rootsync sync pem:" + p("other.pem") + " --to " + ca + " --purpose client-auth"}},
		{"several stores after one flag", []string{"check", p("stranger.pem"), "--store", ca, "pem:" + p("other.pem"), "--no-discover"}, ExitOK, []string{"checked against " + ca + ", pem:" + p("other.pem")}},
		{"no store", []string{"check", p("alice.pem")}, ExitUsage, []string{"needs the server's CA store"}},
		{"bad time", []string{"check", p("alice.pem"), "--store", ca, "--at", "yesterday"}, ExitUsage, []string{"--at"}},
		{"no certificate", []string{"check", p("crl.pem"), "--store", ca, "--no-discover"}, ExitError, []string{"no CERTIFICATE block"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runMain(tt.args...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errs)
			}
			for _, s := range tt.contains {
				if !strings.Contains(out+errs, s) {
					t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", s, out, errs)
				}
			}
		})
	}
}

func TestCheckCapathCRL(t *testing.T) {
	dir := t.TempDir()
	root := testpki.Root("capath check root")
	leaf := root.Leaf("revoked in capath")
	h, err := capath.HashName(root.Cert.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, h+".0"), root.PEM())
	writeFile(t, filepath.Join(dir, "leaf.pem"+".x"), leaf.PEM())
	ca := "capath:" + dir
	cert := writeFile(t, filepath.Join(t.TempDir(), "leaf.pem"), leaf.PEM())
	if code, out, errs := runMain("check", cert, "--store", ca, "--no-discover"); code != ExitOK {
		t.Fatalf("before the CRL: exit %d\n%s%s", code, out, errs)
	}
	writeFile(t, filepath.Join(dir, h+".r0"), makeCRL(t, root, leaf))
	code, out, errs := runMain("check", cert, "--store", ca, "--no-discover")
	if code != ExitRejected || !strings.Contains(out, "reject: revoked") {
		t.Errorf("with %s.r0: exit %d, want %d and revoked\n%s%s", h, code, ExitRejected, out, errs)
	}
	// Under another hash OpenSSL does not find it: a note, and no revocation.
	if err := os.Rename(filepath.Join(dir, h+".r0"), filepath.Join(dir, "00000000.r0")); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runMain("check", cert, "--store", ca, "--no-discover")
	if code != ExitOK || !strings.Contains(out, "not named for its issuer's hash") {
		t.Errorf("misnamed CRL: exit %d, want %d and a note\n%s", code, ExitOK, out)
	}
}

func TestCheckJSON(t *testing.T) {
	dir := t.TempDir()
	root := testpki.Root("json check root")
	other := testpki.Root("json check other")
	ca := "pem:" + writeFile(t, filepath.Join(dir, "ca.pem"), root.PEM())
	also := "pem:" + writeFile(t, filepath.Join(dir, "other.pem"), other.PEM())
	leaf := writeFile(t, filepath.Join(dir, "leaf.pem"), other.Leaf("json leaf", testpki.ExtKeyUsage(x509.ExtKeyUsageServerAuth)).PEM())
	code, out, errs := runMain("check", leaf, "--store", ca, "--also", also, "--no-discover", "--output", "json", "--at", "2026-05-01")
	if code != ExitRejected {
		t.Fatalf("exit %d, want %d\n%s", code, ExitRejected, errs)
	}
	var got struct {
		Schema      string `json:"schema"`
		Verdict     string `json:"verdict"`
		Accepted    bool   `json:"accepted"`
		At          string `json:"at"`
		Certificate struct {
			Subject, Fingerprint string
		} `json:"certificate"`
		Stores  []string                  `json:"stores"`
		Chain   []struct{ Source string } `json:"chain"`
		Reasons []struct {
			Code, Severity string
			Missing        *struct {
				Subject        string `json:"subject"`
				AuthorityKeyID string `json:"authority_key_id"`
			} `json:"missing_issuer"`
			Fix *struct{ Store, Command string } `json:"fix"`
		} `json:"reasons"`
		Notes []string `json:"notes"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var codes []string
	for _, r := range got.Reasons {
		codes = append(codes, r.Severity+":"+r.Code)
	}
	if got.Schema != report.CheckSchema || got.Verdict != "rejected" || got.Accepted || got.At != "2026-05-01T00:00:00Z" ||
		got.Certificate.Subject != "CN=json leaf,O=rootsync tests" || len(got.Certificate.Fingerprint) != 64 ||
		strings.Join(got.Stores, " ") != ca || len(got.Chain) != 1 || got.Notes == nil {
		t.Errorf("document = %+v", got)
	}
	if want := "reject:root-not-in-store reject:eku"; strings.Join(codes, " ") != want {
		t.Errorf("reasons = %q, want %q", strings.Join(codes, " "), want)
	}
	if r := got.Reasons[0]; r.Fix == nil || r.Fix.Store != also || r.Missing == nil || r.Missing.Subject != "CN=json check other,O=rootsync tests" || r.Missing.AuthorityKeyID == "" {
		t.Errorf("first reason = %+v (fix %+v, missing %+v)", r, r.Fix, r.Missing)
	}
}

func TestSplitMulti(t *testing.T) {
	tests := []struct{ in, want string }{
		{"c.pem --store pem:a pem:b", "c.pem --store pem:a --store pem:b"},
		{"--store pem:a c.pem", "--store pem:a c.pem"},
		{"--store pem:a system --also nss:x c.pem", "--store pem:a --store system --also nss:x c.pem"},
		{"--store=pem:a pem:b", "--store=pem:a pem:b"},
		{"--crl x --store pem:a -o json", "--crl x --store pem:a -o json"},
	}
	for _, tt := range tests {
		if got := strings.Join(splitMulti(strings.Fields(tt.in), "--store", "--also"), " "); got != tt.want {
			t.Errorf("splitMulti(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
