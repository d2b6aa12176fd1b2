// Package pbe holds the password-based key derivation that the PKCS#12
// reader (stores/javastore) and the NSS key database (stores/nss) share: the
// key derivation of RFC 7292 appendix B.2 and the table of HMAC algorithm
// identifiers (RFC 8018) that PBKDF2 and PBMAC1 name their hash with.
package pbe

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"hash"
)

// The HMAC algorithm identifiers of RFC 8018 appendix B.1.
var (
	OIDHMACWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	OIDHMACWithSHA224 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}
	OIDHMACWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	OIDHMACWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	OIDHMACWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
)

var hmacHashes = []struct {
	oid asn1.ObjectIdentifier
	h   func() hash.Hash
}{
	{OIDHMACWithSHA1, sha1.New},
	{OIDHMACWithSHA224, sha256.New224},
	{OIDHMACWithSHA256, sha256.New},
	{OIDHMACWithSHA384, sha512.New384},
	{OIDHMACWithSHA512, sha512.New},
}

// HMACHash returns the hash of the HMAC algorithm oid names, or nil for an
// identifier it does not know (an empty one included: PBKDF2's default of
// HMAC-SHA1 for an absent PRF is the caller's to apply).
func HMACHash(oid asn1.ObjectIdentifier) func() hash.Hash {
	for _, h := range hmacHashes {
		if h.oid.Equal(oid) {
			return h.h
		}
	}
	return nil
}

// Purposes of the RFC 7292 key derivation (its diversifier ID).
const (
	KeyMaterial byte = 1
	IV          byte = 2
	MACKey      byte = 3
)

// PKCS12KDF is the key derivation of RFC 7292 appendix B.2 with hash h and
// diversifier id, returning size bytes. The password is used as given:
// PKCS#12 files feed a BMPString with two zero bytes at the end, NSS feeds
// its softoken key. An iteration count below 1 counts as 1.
func PKCS12KDF(h func() hash.Hash, password, salt []byte, iterations int, id byte, size int) []byte {
	iterations = max(iterations, 1)
	d := h()
	u, v := d.Size(), d.BlockSize()
	fill := func(p []byte) []byte {
		if len(p) == 0 {
			return nil
		}
		out := make([]byte, v*((len(p)+v-1)/v))
		for i := range out {
			out[i] = p[i%len(p)]
		}
		return out
	}
	D := bytes.Repeat([]byte{id}, v)
	I := append(fill(salt), fill(password)...)
	B := make([]byte, v)
	var out []byte
	for {
		d.Reset()
		d.Write(D)
		d.Write(I)
		A := d.Sum(nil)
		for i := 1; i < iterations; i++ {
			d.Reset()
			d.Write(A)
			A = d.Sum(A[:0])
		}
		out = append(out, A...)
		if len(out) >= size {
			return out[:size]
		}
		for i := range B {
			B[i] = A[i%u]
		}
		// I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block of I.
		for j := 0; j+v <= len(I); j += v {
			carry := 1
			for k := v - 1; k >= 0; k-- {
				x := int(I[j+k]) + int(B[k]) + carry
				I[j+k] = byte(x)
				carry = x >> 8
			}
		}
	}
}
