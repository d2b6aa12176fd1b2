package nss

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

func TestPKCS12KDFKnownVector(t *testing.T) {
	// From `openssl kdf -keylen 24 -kdfopt digest:SHA1 -kdfopt
	// hexpass:<BMPString "sesame"> -kdfopt hexsalt:ffffffffffffffff
	// -kdfopt iter:2048 -kdfopt id:1 PKCS12KDF`.
	got := pkcs12KDF(sha1.New, bmpString("sesame"), bytes.Repeat([]byte{0xff}, 8), 2048, 1, 24)
	if want := "7cd9fd3e2b3be7691a44e3bef0f9ea0fb9b897d4e325d9d1"; hex.EncodeToString(got) != want {
		t.Errorf("pkcs12KDF = %x, want %s", got, want)
	}
}

// TestPKCS12KDFMatchesOpenSSL compares the derivation with OpenSSL's on the
// inputs NSS uses (a 20-byte key as the password, a 20-byte salt) and on
// lengths that need several hash blocks and carry across I's blocks.
func TestPKCS12KDFMatchesOpenSSL(t *testing.T) {
	openssl := storetest.Tool(t, "openssl")
	for _, c := range []struct {
		pwLen, saltLen, iter int
		id                   byte
		n                    int
	}{
		{20, 20, 1, 1, 24}, {20, 20, 1, 2, 8}, {20, 8, 3, 1, 16}, {0, 20, 1, 1, 5},
		{70, 65, 2, 3, 60}, {130, 1, 1, 1, 41},
	} {
		pw, salt := make([]byte, c.pwLen), make([]byte, c.saltLen)
		rand.Read(pw)
		rand.Read(salt)
		// Bytes of 0xff make the additions carry.
		if c.pwLen > 64 {
			for i := range 10 {
				pw[i] = 0xff
			}
		}
		args := []string{"kdf", "-keylen", strconv.Itoa(c.n), "-kdfopt", "digest:SHA1",
			"-kdfopt", "hexsalt:" + hex.EncodeToString(salt), "-kdfopt", "iter:" + strconv.Itoa(c.iter),
			"-kdfopt", "id:" + strconv.Itoa(int(c.id))}
		if c.pwLen > 0 {
			args = append(args, "-kdfopt", "hexpass:"+hex.EncodeToString(pw))
		} else {
			args = append(args, "-kdfopt", "pass:")
		}
		out, err := exec.Command(openssl, append(args, "PKCS12KDF")...).Output()
		if err != nil {
			t.Fatalf("openssl %v: %v", args, err)
		}
		want := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(string(out)), ":", ""))
		if got := hex.EncodeToString(pkcs12KDF(sha1.New, pw, salt, c.iter, c.id, c.n)); got != want {
			t.Errorf("%+v: pkcs12KDF = %s, openssl %s", c, got, want)
		}
	}
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
