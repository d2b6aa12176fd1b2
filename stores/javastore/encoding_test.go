package javastore_test

import (
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/javastore/javatest"
)

// Every encoding go-pkcs12 writes is read with its aliases, and agrees with
// go-pkcs12's own DecodeTrustStore; what rootsync writes back, go-pkcs12
// reads with the same password.
func TestReadsEveryPKCS12Encoding(t *testing.T) {
	a, b, c := testpki.Root("Encoding Root A"), testpki.Root("Encoding Root B"), testpki.Root("Encoding Root C")
	parsed := func(tc *testpki.Cert) *x509.Certificate { return tc.Cert }
	entries := []pkcs12.TrustStoreEntry{
		{Cert: parsed(a), FriendlyName: "Alpha Alias"},
		{Cert: parsed(b), FriendlyName: "RootSync-beta"},
	}
	tests := []struct {
		name string
		enc  *pkcs12.Encoder
		pw   string
	}{
		{"LegacyRC2", pkcs12.LegacyRC2, "legacy-pw"},
		{"LegacyDES", pkcs12.LegacyDES, "legacy-pw"},
		{"Modern2023", pkcs12.Modern2023, "modern-pw"},
		{"Modern2026", pkcs12.Modern2026, "pbmac1-pw"},
		{"Passwordless", pkcs12.Passwordless, ""},
		{"non-ASCII password", pkcs12.Modern2023, "pässwörd-€"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := tc.enc.EncodeTrustStoreEntries(entries, tc.pw)
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "trust.p12")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			s := open(t, "p12", file, ptr(tc.pw))
			var got []string
			for _, e := range mustLoad(t, s).Entries() {
				got = append(got, e.Label+" "+e.Cert.Fingerprint.String()+" owned="+map[bool]string{true: "yes", false: "no"}[e.Owned])
			}
			// Aliases as Java shows them: lower-cased.
			want := []string{"alpha alias " + fp(a) + " owned=no", "rootsync-beta " + fp(b) + " owned=yes"}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("Load:\n got  %q\n want %q", got, want)
			}
			ref, err := pkcs12.DecodeTrustStore(data, tc.pw)
			if err != nil {
				t.Fatalf("go-pkcs12 DecodeTrustStore: %v", err)
			}
			if len(ref) != 2 || stores.FingerprintOf(ref[0].Raw).String() != fp(a) || stores.FingerprintOf(ref[1].Raw).String() != fp(b) {
				t.Errorf("go-pkcs12 reads different certificates")
			}

			mustApply(t, s, addChanges(c))
			written, _ := os.ReadFile(file)
			back, err := pkcs12.DecodeTrustStore(written, tc.pw)
			if err != nil {
				t.Fatalf("go-pkcs12 cannot read the rewritten file: %v", err)
			}
			var fps []string
			for _, cert := range back {
				fps = append(fps, stores.FingerprintOf(cert.Raw).String())
			}
			wantFPs := []string{fp(a), fp(b), fp(c)}
			sort.Strings(fps)
			sort.Strings(wantFPs)
			if strings.Join(fps, " ") != strings.Join(wantFPs, " ") {
				t.Errorf("rewritten file holds %v, want %v", fps, wantFPs)
			}
		})
	}
}

// openssl describes what rootsync writes: Modern2023 (PBES2/AES-256 with an
// HMAC-SHA-256 MAC, never PBMAC1) for a new store, and the legacy encoding
// for a file that keytool wrote in legacy mode; keytool reads both.
func TestWrittenPKCS12Encoding(t *testing.T) {
	javatest.Require(t, "keytool", "openssl")
	foreign := testpki.Root("Legacy Foreign")
	added := testpki.Root("Encoding Added")
	dir := t.TempDir()

	modern := filepath.Join(dir, "modern.p12")
	mustApply(t, open(t, "p12", modern, ptr("modern-pw")), addChanges(added))

	legacy := filepath.Join(dir, "legacy.p12")
	pemFile := filepath.Join(dir, "foreign.pem")
	os.WriteFile(pemFile, foreign.PEM(), 0o644)
	if _, err := javatest.Keytool("legacy-pw", "-J-Dkeystore.pkcs12.legacy", "-importcert", "-noprompt", "-alias", "foreign", "-file", pemFile,
		"-keystore", legacy, "-storetype", "PKCS12", "-storepass:env", javatest.PasswordEnv); err != nil {
		t.Fatal(err)
	}
	before := opensslInfo(t, legacy, "legacy-pw")
	if !strings.Contains(before, "MAC: sha1") || !strings.Contains(before, "RC2") {
		t.Fatalf("keytool's legacy mode wrote something else:\n%s", before)
	}
	ls := open(t, "p12", legacy, ptr("legacy-pw"))
	if set := mustLoad(t, ls); set.Len() != 1 || set.Entries()[0].Label != "foreign" {
		t.Fatalf("legacy file: %d entries", set.Len())
	}
	mustApply(t, ls, addChanges(added))

	// keytool's own default (JDK 17): PBES2 with AES-256 and an HMAC-SHA-256
	// MAC; rootsync reads it with its alias.
	keytoolDefault := filepath.Join(dir, "keytool-default.p12")
	javatest.ImportCert(t, keytoolDefault, "PKCS12", "default-pw", "Default-Alias", foreign.DER)
	if info := opensslInfo(t, keytoolDefault, "default-pw"); !strings.Contains(info, "AES-256-CBC") || !strings.Contains(info, "MAC: sha256") {
		t.Errorf("keytool's default is not PBES2/AES-256 with HMAC-SHA-256:\n%s", info)
	}
	if set := mustLoad(t, open(t, "p12", keytoolDefault, ptr("default-pw"))); set.Len() != 1 || set.Entries()[0].Label != "default-alias" {
		t.Errorf("keytool's default file: %d entries", set.Len())
	}

	tests := []struct {
		file, pw string
		want     []string
	}{
		{modern, "modern-pw", []string{"MAC: sha256", "PBES2, PBKDF2, AES-256-CBC"}},
		{legacy, "legacy-pw", []string{"MAC: sha1", "pbeWithSHA1And3-KeyTripleDES-CBC"}},
	}
	for _, tc := range tests {
		info := opensslInfo(t, tc.file, tc.pw)
		for _, w := range tc.want {
			if !strings.Contains(info, w) {
				t.Errorf("%s: openssl says\n%s\nwant %q", filepath.Base(tc.file), info, w)
			}
		}
		if strings.Contains(info, "PBMAC1") {
			t.Errorf("%s: written with PBMAC1, which JDK 17 cannot read", filepath.Base(tc.file))
		}
	}
	got := listStrings(javatest.List(t, legacy, "PKCS12", "legacy-pw"))
	want := []string{"foreign trustedCertEntry " + fp(foreign), "rootsync-encoding-added trustedCertEntry " + fp(added)}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("keytool -list of the rewritten legacy file: %q, want %q", got, want)
	}
}

func opensslInfo(t *testing.T, file, pw string) string {
	t.Helper()
	cmd := exec.Command("openssl", "pkcs12", "-in", file, "-info", "-nokeys", "-noout", "-legacy", "-passin", "env:RS_OPENSSL_PW")
	cmd.Env = append(os.Environ(), "RS_OPENSSL_PW="+pw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12 -info %s: %v\n%s", file, err, out)
	}
	return string(out)
}

// Entries rootsync adds never collide with an existing alias, ignoring case.
func TestAliasesUniqueIgnoringCase(t *testing.T) {
	file := filepath.Join(t.TempDir(), "trust.p12")
	first := testpki.Root("Same Name")
	data, err := pkcs12.Modern2023.EncodeTrustStoreEntries([]pkcs12.TrustStoreEntry{{Cert: first.Cert, FriendlyName: "RootSync-Same-Name"}}, "changeit")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, data, 0o644)
	s := open(t, "p12", file, nil)
	// Two more certificates whose common names give the same alias.
	second := testpki.Root("Same Name", testpki.Serial(2))
	third := testpki.Root("same  name!", testpki.Serial(3))
	mustApply(t, s, addChanges(second, third))
	seen := map[string]bool{}
	for _, e := range mustLoad(t, s).Entries() {
		l := strings.ToLower(e.Label)
		if seen[l] {
			t.Errorf("alias %q used twice ignoring case", e.Label)
		}
		seen[l] = true
		if !strings.HasPrefix(l, "rootsync-same-name") {
			t.Errorf("alias %q", e.Label)
		}
	}
	if len(seen) != 3 {
		t.Errorf("%d entries, want 3", len(seen))
	}
	// Adding again changes nothing, not even the bytes.
	before, _ := os.ReadFile(file)
	mustApply(t, s, addChanges(second))
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Error("adding a certificate already present rewrote the file")
	}
}
