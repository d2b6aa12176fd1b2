package nss

import (
	"crypto/x509"
	"encoding/asn1"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"unicode/utf16"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores/storetest"
)

// bmpString is RFC 7292's password encoding: UTF-16BE with two zero bytes.
func bmpString(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = append(b, byte(r>>8), byte(r))
	}
	return append(b, 0, 0)
}

// TestLegacySchemesDecryptOpenSSL decrypts private keys that OpenSSL
// encrypted with each RFC 7292 scheme NSS accepts for a password check.
func TestLegacySchemesDecryptOpenSSL(t *testing.T) {
	openssl := storetest.Tool(t, "openssl")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	writeFile(t, keyFile, string(testpki.Root("Legacy PBE").KeyPEM()))
	const password = "pässwörd 1"
	for _, c := range []struct{ openssl, oid string }{
		{"PBE-SHA1-3DES", sub(oidPKCS12, 3)},
		{"PBE-SHA1-2DES", sub(oidPKCS12, 4)},
		{"PBE-SHA1-RC4-128", sub(oidPKCS12, 1)},
		{"PBE-SHA1-RC4-40", sub(oidPKCS12, 2)},
	} {
		t.Run(c.openssl, func(t *testing.T) {
			out := filepath.Join(dir, c.openssl+".der")
			cmd := exec.Command(openssl, "pkcs8", "-topk8", "-in", keyFile, "-v1", c.openssl, "-passout", "env:PBE_PW",
				"-outform", "DER", "-out", out, "-provider", "legacy", "-provider", "default")
			cmd.Env = append(cmd.Environ(), "PBE_PW="+password)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Skipf("openssl cannot write %s here: %v\n%s", c.openssl, err, b)
			}
			var epki struct {
				Alg  algorithmIdentifier
				Data []byte
			}
			der, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := asn1.Unmarshal(der, &epki); err != nil {
				t.Fatal(err)
			}
			if epki.Alg.Algorithm.String() != c.oid {
				t.Fatalf("openssl wrote %v, want %s", epki.Alg.Algorithm, c.oid)
			}
			s := legacySchemes[c.oid]
			var params legacyParams
			if _, err := asn1.Unmarshal(epki.Alg.Parameters.FullBytes, &params); err != nil {
				t.Fatal(err)
			}
			plain, ok, err := s.decrypt(params, bmpString(password), epki.Data)
			if err != nil || !ok {
				t.Fatalf("decrypt: ok %v err %v", ok, err)
			}
			if _, err := x509.ParsePKCS8PrivateKey(plain); err != nil {
				t.Errorf("decrypted key does not parse: %v", err)
			}
			if plain, ok, _ := s.decrypt(params, bmpString(password+"x"), epki.Data); ok {
				if _, err := x509.ParsePKCS8PrivateKey(plain); err == nil {
					t.Error("a wrong password decrypts the key")
				}
			}
		})
	}
}
