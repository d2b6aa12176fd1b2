package javastore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/sha1"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/rootsync/rootsync/internal/pbe"
)

var (
	oidPBEWithSHA3DES    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPBEWithSHARC2_128 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 5}
	oidPBEWithSHARC2_40  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 6}
	oidPBES2             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidAES128CBC         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidDESEDE3CBC        = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
)

var errBadPadding = errors.New("decryption failed (bad padding)")

// maxIterations bounds key-derivation work, so that a damaged or hostile
// file cannot keep rootsync busy for hours.
const maxIterations = 10_000_000

// decrypt undoes the password-based encryption of a PKCS#12 safe: PBES2
// (PBKDF2 with AES-CBC or 3DES-CBC, what JDK 12+ and OpenSSL 3 write) or the
// PKCS#12 PBE schemes with SHA-1 and 3DES or RC2 (older Java and OpenSSL).
func decrypt(alg pkix.AlgorithmIdentifier, data []byte, password string) ([]byte, error) {
	var block cipher.Block
	var iv []byte
	switch {
	case alg.Algorithm.Equal(oidPBES2):
		var params struct {
			KDF pkix.AlgorithmIdentifier
			Enc pkix.AlgorithmIdentifier
		}
		if err := unmarshalAll(alg.Parameters.FullBytes, &params); err != nil {
			return nil, fmt.Errorf("PBES2 parameters: %w", err)
		}
		if !params.KDF.Algorithm.Equal(oidPBKDF2) {
			return nil, pfxUnsupportedError{"PBES2 key derivation " + params.KDF.Algorithm.String() + " is not supported"}
		}
		var keyLen int
		switch {
		case params.Enc.Algorithm.Equal(oidAES128CBC):
			keyLen = 16
		case params.Enc.Algorithm.Equal(oidAES192CBC):
			keyLen = 24
		case params.Enc.Algorithm.Equal(oidAES256CBC):
			keyLen = 32
		case params.Enc.Algorithm.Equal(oidDESEDE3CBC):
			keyLen = 24
		default:
			return nil, pfxUnsupportedError{"PBES2 cipher " + params.Enc.Algorithm.String() + " is not supported"}
		}
		// RFC 8018 passwords are octet strings; Java, OpenSSL and Windows
		// use UTF-8.
		key, _, err := pbkdf2Key(params.KDF.Parameters.FullBytes, []byte(password), keyLen)
		if err != nil {
			return nil, err
		}
		if err := unmarshalAll(params.Enc.Parameters.FullBytes, &iv); err != nil {
			return nil, fmt.Errorf("PBES2 IV: %w", err)
		}
		if keyLen == 24 && params.Enc.Algorithm.Equal(oidDESEDE3CBC) {
			block, err = des.NewTripleDESCipher(key)
		} else {
			block, err = aes.NewCipher(key)
		}
		if err != nil {
			return nil, err
		}
	case alg.Algorithm.Equal(oidPBEWithSHA3DES), alg.Algorithm.Equal(oidPBEWithSHARC2_128), alg.Algorithm.Equal(oidPBEWithSHARC2_40):
		var params struct {
			Salt       []byte
			Iterations int
		}
		if err := unmarshalAll(alg.Parameters.FullBytes, &params); err != nil {
			return nil, fmt.Errorf("PBE parameters: %w", err)
		}
		if params.Iterations < 1 || params.Iterations > maxIterations {
			return nil, fmt.Errorf("PBE iteration count %d out of range", params.Iterations)
		}
		pw := bmpPassword(password)
		var err error
		switch {
		case alg.Algorithm.Equal(oidPBEWithSHA3DES):
			block, err = des.NewTripleDESCipher(pbe.PKCS12KDF(sha1.New, pw, params.Salt, params.Iterations, pbe.KeyMaterial, 24))
		case alg.Algorithm.Equal(oidPBEWithSHARC2_128):
			block, err = newRC2(pbe.PKCS12KDF(sha1.New, pw, params.Salt, params.Iterations, pbe.KeyMaterial, 16), 128)
		default:
			block, err = newRC2(pbe.PKCS12KDF(sha1.New, pw, params.Salt, params.Iterations, pbe.KeyMaterial, 5), 40)
		}
		if err != nil {
			return nil, err
		}
		iv = pbe.PKCS12KDF(sha1.New, pw, params.Salt, params.Iterations, pbe.IV, 8)
	default:
		return nil, pfxUnsupportedError{"encryption " + alg.Algorithm.String() + " is not supported"}
	}
	bs := block.BlockSize()
	if len(iv) != bs {
		return nil, fmt.Errorf("IV of %d bytes for a %d-byte block cipher", len(iv), bs)
	}
	if len(data) == 0 || len(data)%bs != 0 {
		return nil, fmt.Errorf("encrypted data of %d bytes is not a whole number of blocks", len(data))
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
	n := int(out[len(out)-1])
	if n == 0 || n > bs || !bytes.Equal(out[len(out)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return nil, errBadPadding
	}
	return out[:len(out)-n], nil
}
