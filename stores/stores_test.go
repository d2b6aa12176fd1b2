package stores_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

func TestTrustMergeDistrustWins(t *testing.T) {
	a := stores.Trust{}.With(stores.ServerAuth, stores.Trusted).With(stores.Email, stores.Trusted)
	b := stores.Trust{}.With(stores.ServerAuth, stores.Distrusted).With(stores.ClientAuth, stores.Trusted)
	got := a.Merge(b)
	want := stores.Trust{stores.Distrusted, stores.Trusted, stores.Trusted, stores.Unspecified}
	if got != want {
		t.Fatalf("merge = %v, want %v", got, want)
	}
	if got.String() != "client-auth,email !server-auth" {
		t.Errorf("String() = %q", got.String())
	}
	if b.Merge(a) != got {
		t.Error("merge is not symmetric")
	}
}

// negativeSerial rewrites a certificate's serial number to a negative one, as
// in the former Mozilla root EC-ACC. The signature no longer matches, which a
// store tool does not check.
func negativeSerial(t *testing.T, der []byte, serial []byte) []byte {
	t.Helper()
	i := bytes.Index(der, serial)
	if i < 0 {
		t.Fatal("serial not found")
	}
	out := append([]byte(nil), der...)
	out[i] |= 0x80
	return out
}

func TestParseCertificateKeepsWhatTheParserRefuses(t *testing.T) {
	root := testpki.Root("Negative Serial Root")
	der := negativeSerial(t, root.DER, root.Cert.SerialNumber.Bytes())
	c, err := stores.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate refused a certificate with a negative serial: %v", err)
	}
	if c.Fingerprint != stores.FingerprintOf(der) || !bytes.Equal(c.DER, der) {
		t.Error("fingerprint or bytes not taken from the raw DER")
	}
	if c.Subject != "CN=Negative Serial Root,O=rootsync tests" {
		t.Errorf("subject = %q", c.Subject)
	}
	if !c.SelfIssued {
		t.Error("self-issued not detected from the raw names")
	}

	good, err := stores.ParseCertificate(root.DER)
	if err != nil || good.ParseError != nil || !good.IsCA || good.Parsed() == nil {
		t.Fatalf("a plain root: err=%v parseErr=%v isCA=%v", err, good.ParseError, good.IsCA)
	}
	if _, err := stores.ParseCertificate([]byte("not a certificate")); !errors.Is(err, stores.ErrNotCertificate) {
		t.Errorf("garbage: err = %v, want ErrNotCertificate", err)
	}
	if _, err := stores.ParseCertificate(append(append([]byte(nil), root.DER...), 0)); !errors.Is(err, stores.ErrNotCertificate) {
		t.Errorf("trailing byte: err = %v, want ErrNotCertificate", err)
	}
}

func TestSecret(t *testing.T) {
	t.Setenv("ROOTSYNC_TEST_PW", "s3cret")
	if v, err := (stores.Secret{Env: "ROOTSYNC_TEST_PW"}).Value(); err != nil || string(v) != "s3cret" {
		t.Errorf("env secret = %q, %v", v, err)
	}
	f := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(f, []byte("from file\nsecond line\n"), 0o600)
	if v, err := (stores.Secret{File: f}).Value(); err != nil || string(v) != "from file" {
		t.Errorf("file secret = %q, %v", v, err)
	}
	if _, err := (stores.Secret{Env: "ROOTSYNC_TEST_UNSET_VAR"}).Value(); err == nil {
		t.Error("unset variable gave no error")
	}
	if _, err := (stores.Secret{}).Value(); !errors.Is(err, stores.ErrNoSecret) {
		t.Errorf("zero secret: %v", err)
	}
	spec := stores.Spec{Kind: "jks", Location: "x.jks", Options: map[string]string{"password-file": f}}
	if s := stores.SecretFromSpec(spec, stores.Secret{Env: "X"}); s.File != f {
		t.Errorf("SecretFromSpec = %+v", s)
	}
}

// TestSecretCredential: a systemd credential is the file of its name in
// $CREDENTIALS_DIRECTORY (set here by hand, as systemd sets it for a unit
// with LoadCredential=); without the variable the error names the
// credential and the hint says how to pass it.
func TestSecretCredential(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "truststore"), []byte("from systemd\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	spec := stores.Spec{Kind: "p12", Location: "x.p12", Options: map[string]string{"password-credential": "truststore"}}
	s := stores.SecretFromSpec(spec, stores.Secret{})
	if s.Credential != "truststore" || s.IsZero() || s.String() != "credential truststore" {
		t.Fatalf("SecretFromSpec = %+v (%s)", s, s)
	}
	t.Setenv(stores.CredentialsDirEnv, dir)
	if v, err := s.Value(); err != nil || string(v) != "from systemd" {
		t.Errorf("credential = %q, %v", v, err)
	}
	if _, err := (stores.Secret{Credential: "missing"}).Value(); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "missing")) {
		t.Errorf("a credential systemd did not pass: err = %v, want one naming its file", err)
	}
	t.Setenv(stores.CredentialsDirEnv, "")
	_, err := s.Value()
	var ce *stores.CredentialError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `"truststore"`) || !strings.Contains(err.Error(), "CREDENTIALS_DIRECTORY is not set") ||
		!strings.Contains(stores.HintOf(err), "LoadCredential=truststore:") {
		t.Errorf("without CREDENTIALS_DIRECTORY: err = %v (hint %q), want a CredentialError naming it and LoadCredential=", err, stores.HintOf(err))
	}
	for _, bad := range []string{"../etc/shadow", "a/b", "..", ""} {
		t.Setenv(stores.CredentialsDirEnv, dir)
		if _, err := (stores.Secret{Credential: bad}).Value(); !errors.As(err, &ce) && bad != "" {
			t.Errorf("credential name %q: err = %v, want a CredentialError", bad, err)
		}
	}
}
