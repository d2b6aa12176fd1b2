package nss

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/rc4"
	"crypto/sha1"
	"encoding/asn1"
	"fmt"
	"hash"

	"github.com/rootsync/rootsync/internal/pbe"
)

// This file holds the password-based encryption of NSS's old key database
// (key3.db). When NSS converts an old database to cert9.db and key4.db it
// copies key3.db's global salt and "password-check" value into key4.db as
// they are, so a converted key4.db can keep a check value encrypted with one
// of these schemes (NSS 3.87 writes pbeWithSHA1AndTripleDES-CBC from the
// PKCS#12 draft OID arc) until its password is changed. The password input of
// every scheme is the softoken's key (see passKey), not the password itself.

// legacyKDF is how a scheme turns the key and salt into cipher key and IV.
type legacyKDF int

const (
	// kdfPBKDF1 is NSS's PBKDF1 (hash of key || salt, iterated), extended
	// with HMAC as the PKCS#12 draft proposed when more bytes are needed.
	// The IV is taken from the end of the bytes produced.
	kdfPBKDF1 legacyKDF = iota
	// kdfPKCS12 is the derivation of RFC 7292 appendix B.2 (ID 1 for the
	// key, 2 for the IV), fed the key bytes as they are.
	kdfPKCS12
)

type legacyCipher int

const (
	cipher3DES legacyCipher = iota
	cipherRC4
)

// legacyScheme is one password-based encryption algorithm NSS's softoken
// decrypts (lib/softoken/lowpbe.c, nsspkcs5_FillInParam).
type legacyScheme struct {
	name          string
	kdf           legacyKDF
	hash          func() hash.Hash
	cipher        legacyCipher
	keyLen, ivLen int
	twoKey        bool // 2-key triple DES: the third key is the first
}

var (
	oidPKCS12 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1} // RFC 7292 pkcs-12PbeIds
	oidNSSPBE = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 5, 1}
)

func sub(base asn1.ObjectIdentifier, n int) string {
	return append(append(asn1.ObjectIdentifier{}, base...), n).String()
}

// legacySchemes maps an algorithm OID to its scheme: the PKCS#12 schemes of
// both OID arcs that NSS decrypts, except RC2 (PKCS#12 arcs .5 and .6, NSS
// draft arcs .4 and .5), which NSS never used for the password check and Go
// does not implement. A check value with any other algorithm is refused with
// errUnknownCheck.
var legacySchemes = map[string]legacyScheme{
	sub(oidNSSPBE, 1): {"pbeWithSHA1And128BitRC4 (NSS)", kdfPBKDF1, sha1.New, cipherRC4, 16, 0, false},
	sub(oidNSSPBE, 2): {"pbeWithSHA1And40BitRC4 (NSS)", kdfPBKDF1, sha1.New, cipherRC4, 5, 0, false},
	sub(oidNSSPBE, 3): {"pbeWithSHA1AndTripleDES-CBC (NSS)", kdfPBKDF1, sha1.New, cipher3DES, 24, 8, false},
	sub(oidPKCS12, 1): {"pbeWithSHAAnd128BitRC4", kdfPKCS12, sha1.New, cipherRC4, 16, 0, false},
	sub(oidPKCS12, 2): {"pbeWithSHAAnd40BitRC4", kdfPKCS12, sha1.New, cipherRC4, 5, 0, false},
	sub(oidPKCS12, 3): {"pbeWithSHAAnd3-KeyTripleDES-CBC", kdfPKCS12, sha1.New, cipher3DES, 24, 8, false},
	sub(oidPKCS12, 4): {"pbeWithSHAAnd2-KeyTripleDES-CBC", kdfPKCS12, sha1.New, cipher3DES, 24, 8, true},
}

// legacyParams are the parameters of every scheme: PKCS#5 v1 PBEParameter
// and RFC 7292 pkcs-12PbeParams have the same shape.
type legacyParams struct {
	Salt       []byte
	Iterations int
}

// legacyDecrypt decrypts data encrypted with scheme s under key pk, as NSS's
// nsspkcs5_CipherData does. ok is false when the padding is wrong (a wrong
// key, almost always).
func (s legacyScheme) decrypt(params legacyParams, pk, data []byte) (plain []byte, ok bool, err error) {
	if params.Iterations < 1 || params.Iterations > maxIterations || len(params.Salt) > 1024 {
		return nil, false, fmt.Errorf("implausible %s parameters (%d iterations, %d-byte salt)", s.name, params.Iterations, len(params.Salt))
	}
	var key, iv []byte
	switch s.kdf {
	case kdfPBKDF1:
		b := nssPBKDF1(s.hash, pk, params.Salt, params.Iterations, s.keyLen+s.ivLen)
		key, iv = b[:s.keyLen], b[len(b)-s.ivLen:]
	case kdfPKCS12:
		key = pbe.PKCS12KDF(s.hash, pk, params.Salt, params.Iterations, pbe.KeyMaterial, s.keyLen)
		if s.ivLen > 0 {
			iv = pbe.PKCS12KDF(s.hash, pk, params.Salt, params.Iterations, pbe.IV, s.ivLen)
		}
	}
	if s.twoKey {
		key = append(append([]byte{}, key[:16]...), key[:8]...)
	}
	if s.cipher == cipherRC4 {
		c, err := rc4.NewCipher(key)
		if err != nil {
			return nil, false, err
		}
		plain = make([]byte, len(data))
		c.XORKeyStream(plain, data)
		return plain, true, nil
	}
	block, err := des.NewTripleDESCipher(key)
	if err != nil {
		return nil, false, err
	}
	if plain, ok = cbcDecrypt(block, iv, data); ok {
		return plain, true, nil
	}
	// NSS retries a triple-DES value that does not decrypt as single DES:
	// some old databases claimed triple DES for DES.
	block, err = des.NewCipher(key[:8])
	if err != nil {
		return nil, false, err
	}
	plain, ok = cbcDecrypt(block, iv, data)
	return plain, ok, nil
}

// cbcDecrypt decrypts data and strips PKCS#5 padding; ok is false when the
// data is not whole blocks or the padding is wrong.
func cbcDecrypt(block cipher.Block, iv, data []byte) ([]byte, bool) {
	bs := block.BlockSize()
	if len(iv) != bs || len(data) == 0 || len(data)%bs != 0 {
		return nil, false
	}
	plain := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, data)
	n := int(plain[len(plain)-1])
	if n == 0 || n > bs {
		return nil, false
	}
	for _, c := range plain[len(plain)-n:] {
		if int(c) != n {
			return nil, false
		}
	}
	return plain[:len(plain)-n], true
}

// nssPBKDF1 returns at least need bytes: H^iterations(pw || salt), and when
// that is too short, NSS's extension (lowpbe.c nsspkcs5_PFXPBE): with
// h0 the hash above as HMAC key and a state that starts as the salt padded
// with zeros to at least one hash length, each round appends
// HMAC(state || salt) and replaces the state with HMAC(state).
func nssPBKDF1(h func() hash.Hash, pw, salt []byte, iterations, need int) []byte {
	d := h()
	d.Write(pw)
	d.Write(salt)
	h0 := d.Sum(nil)
	for i := 1; i < iterations; i++ {
		d.Reset()
		d.Write(h0)
		h0 = d.Sum(h0[:0])
	}
	if need <= len(h0) {
		return h0
	}
	state := make([]byte, max(len(h0), len(salt)))
	copy(state, salt)
	m := hmac.New(h, h0)
	var out []byte
	for len(out) < need {
		m.Reset()
		m.Write(state)
		m.Write(salt)
		out = m.Sum(out)
		m.Reset()
		m.Write(state)
		state = m.Sum(nil)
	}
	return out
}
