package pbe_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/rootsync/rootsync/internal/pbe"
	"github.com/rootsync/rootsync/stores/storetest"
)

// bmp is "smeg" as PKCS#12 feeds it: a BMPString with a zero terminator.
var bmp = []byte{0, 's', 0, 'm', 0, 'e', 0, 'g', 0, 0}

// TestPKCS12KDFVector: the derivation of OpenSSL's and Bouncy Castle's test
// vectors (password "smeg", salt 0A58CF64530D823F, one iteration).
func TestPKCS12KDFVector(t *testing.T) {
	salt, _ := hex.DecodeString("0a58cf64530d823f")
	for _, tc := range []struct {
		id   byte
		size int
		want string
	}{
		{pbe.KeyMaterial, 24, "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3"},
		{pbe.IV, 8, "79993dfe048d3b76"},
	} {
		got := hex.EncodeToString(pbe.PKCS12KDF(sha1.New, bmp, salt, 1, tc.id, tc.size))
		if got != tc.want {
			t.Errorf("id %d: %s, want %s", tc.id, got, tc.want)
		}
	}
}

// TestPKCS12KDFOpenSSL compares the derivation with OpenSSL's PKCS12KDF for
// every hash the readers use, several lengths (past one hash output, so that
// the I_j update runs) and iteration counts, and passwords of any length
// (NSS feeds its 20- or 48-byte softoken key).
func TestPKCS12KDFOpenSSL(t *testing.T) {
	openssl := storetest.Tool(t, "openssl")
	salt := []byte("0123456789abcdef")
	for _, h := range []struct {
		name string
		new  func() hash.Hash
	}{{"SHA1", sha1.New}, {"SHA256", sha256.New}, {"SHA384", sha512.New384}, {"SHA512", sha512.New}} {
		for _, pw := range [][]byte{bmp, bytes.Repeat([]byte{0xa5}, 48), nil} {
			for _, iter := range []int{1, 3} {
				for _, id := range []byte{pbe.KeyMaterial, pbe.IV, pbe.MACKey} {
					size := 150
					out, err := exec.Command(openssl, "kdf", "-keylen", fmt.Sprint(size), "-kdfopt", "digest:"+h.name,
						"-kdfopt", "hexpass:"+hex.EncodeToString(pw), "-kdfopt", "hexsalt:"+hex.EncodeToString(salt),
						"-kdfopt", fmt.Sprintf("iter:%d", iter), "-kdfopt", fmt.Sprintf("id:%d", id), "PKCS12KDF").CombinedOutput()
					if err != nil {
						t.Fatalf("openssl kdf: %v\n%s", err, out)
					}
					want := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(string(out)), ":", ""))
					got := hex.EncodeToString(pbe.PKCS12KDF(h.new, pw, salt, iter, id, size))
					if got != want {
						t.Errorf("%s, password %x, %d iterations, id %d:\n got  %s\n want %s", h.name, pw, iter, id, got, want)
					}
				}
			}
		}
	}
}

// TestPKCS12KDFSesame: a vector with many iterations.
func TestPKCS12KDFSesame(t *testing.T) {
	// From `openssl kdf -keylen 24 -kdfopt digest:SHA1 -kdfopt
	// hexpass:<BMPString "sesame"> -kdfopt hexsalt:ffffffffffffffff
	// -kdfopt iter:2048 -kdfopt id:1 PKCS12KDF`.
	got := pbe.PKCS12KDF(sha1.New, bmpString("sesame"), bytes.Repeat([]byte{0xff}, 8), 2048, 1, 24)
	if want := "7cd9fd3e2b3be7691a44e3bef0f9ea0fb9b897d4e325d9d1"; hex.EncodeToString(got) != want {
		t.Errorf("pkcs12KDF = %x, want %s", got, want)
	}
}

// TestPKCS12KDFNSSInputs compares the derivation with OpenSSL's on the
// inputs NSS uses (a 20-byte key as the password, a 20-byte salt) and on
// lengths that need several hash blocks and carry across I's blocks.
func TestPKCS12KDFNSSInputs(t *testing.T) {
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
		if got := hex.EncodeToString(pbe.PKCS12KDF(sha1.New, pw, salt, c.iter, c.id, c.n)); got != want {
			t.Errorf("%+v: pkcs12KDF = %s, openssl %s", c, got, want)
		}
	}
}

// bmpString is RFC 7292's password encoding: UTF-16BE with two zero bytes.
func bmpString(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = append(b, byte(r>>8), byte(r))
	}
	return append(b, 0, 0)
}

func TestHMACHash(t *testing.T) {
	if h := pbe.HMACHash(pbe.OIDHMACWithSHA256); h == nil || h().Size() != 32 {
		t.Error("hmacWithSHA256 is not SHA-256")
	}
	if pbe.HMACHash(nil) != nil || pbe.HMACHash([]int{1, 2, 3}) != nil {
		t.Error("an empty or unknown identifier has a hash")
	}
}
