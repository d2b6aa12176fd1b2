package javastore

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"hash"
	"unicode/utf16"

	"github.com/rootsync/rootsync/internal/pbe"
)

// This file reads PKCS#12 (RFC 7292) as Java writes it. go-pkcs12 writes
// rootsync's truststores, but its decoder returns certificates without their
// friendly names (Java's aliases), which rootsync must keep; so reading is done
// here, with go-pkcs12's DecodeTrustStore as the reference in tests.

var (
	oidData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}

	oidKeyBag          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidShroudedKeyBag  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidX509Certificate = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}

	oidFriendlyName = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 20}
	oidLocalKeyID   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 21}
	// oidJavaTrust is Oracle's trusted-key-usage attribute: Java sees a
	// certificate bag as a trusted entry only when it carries it.
	oidJavaTrust = asn1.ObjectIdentifier{2, 16, 840, 1, 113894, 746875, 1, 1}
	oidAnyEKU    = asn1.ObjectIdentifier{2, 5, 29, 37, 0}
	oidSHA1      = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224    = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256    = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384    = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512    = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidPBMAC1    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
	oidPBKDF2    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
)

type pfxPDU struct {
	Version  int
	AuthSafe contentInfo
	MacData  macData `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type macData struct {
	Mac struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type encryptedData struct {
	Version int
	Content struct {
		ContentType asn1.ObjectIdentifier
		Algorithm   pkix.AlgorithmIdentifier
		Encrypted   []byte `asn1:"tag:0,optional"`
	}
}

type safeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue `asn1:"tag:0,explicit"`
	Attributes []attribute   `asn1:"set,optional"`
}

type attribute struct {
	ID     asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

type certBag struct {
	ID   asn1.ObjectIdentifier
	Data []byte `asn1:"tag:0,explicit"`
}

// pfxBag is one safe bag as read: its type, friendly name, and for a
// certificate bag the DER and the trust attribute.
type pfxBag struct {
	kind     asn1.ObjectIdentifier
	alias    string
	hasAlias bool
	der      []byte
	// trusted: the bag carries Java's trust attribute; usages is its value.
	trusted bool
	usages  []asn1.ObjectIdentifier
	// otherAttrs names attributes beyond the friendly name and the trust
	// attribute (a local key id, for example).
	otherAttrs []string
	// keyID is the local key id, which pairs a key with its certificate.
	keyID []byte
}

// pfxFile is a PKCS#12 file as read.
type pfxFile struct {
	bags []pfxBag
	// noMAC: the file has no integrity MAC (a password-less truststore).
	noMAC bool
	// macAlg is the MAC's digest (or PBMAC1) algorithm.
	macAlg asn1.ObjectIdentifier
}

// errPFXPassword is returned when the MAC does not verify with the password.
var errPFXPassword = errors.New("the password does not match the file's integrity check")

// pfxUnsupportedError: the file is well-formed PKCS#12 that rootsync cannot read.
type pfxUnsupportedError struct{ what string }

func (e pfxUnsupportedError) Error() string { return e.what }

func unmarshalAll(b []byte, v any, params ...string) error {
	var rest []byte
	var err error
	if len(params) > 0 {
		rest, err = asn1.UnmarshalWithParams(b, v, params[0])
	} else {
		rest, err = asn1.Unmarshal(b, v)
	}
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%d bytes of trailing data", len(rest))
	}
	return nil
}

// readPFX decodes a PKCS#12 file, verifying its MAC with password when it has
// one. A file without a MAC is read whatever the password (Java does the same
// for password-less truststores).
func readPFX(data []byte, password string) (*pfxFile, error) {
	var pfx pfxPDU
	if err := unmarshalAll(data, &pfx); err != nil {
		return nil, err
	}
	if pfx.Version != 3 {
		return nil, fmt.Errorf("PKCS#12 version %d, want 3", pfx.Version)
	}
	if !pfx.AuthSafe.ContentType.Equal(oidData) {
		return nil, pfxUnsupportedError{"public-key protected PKCS#12 (content type " + pfx.AuthSafe.ContentType.String() + ") is not supported"}
	}
	var authSafe []byte
	if err := unmarshalAll(pfx.AuthSafe.Content.Bytes, &authSafe); err != nil {
		return nil, fmt.Errorf("authenticated safe: %w", err)
	}
	f := &pfxFile{}
	if len(pfx.MacData.Mac.Algorithm.Algorithm) == 0 {
		f.noMAC = true
	} else {
		f.macAlg = pfx.MacData.Mac.Algorithm.Algorithm
		if err := verifyMAC(&pfx.MacData, authSafe, password); err != nil {
			return nil, err
		}
	}
	var infos []contentInfo
	if err := unmarshalAll(authSafe, &infos); err != nil {
		return nil, fmt.Errorf("authenticated safe: %w", err)
	}
	for i, ci := range infos {
		var plain []byte
		switch {
		case ci.ContentType.Equal(oidData):
			if err := unmarshalAll(ci.Content.Bytes, &plain); err != nil {
				return nil, fmt.Errorf("safe %d: %w", i+1, err)
			}
		case ci.ContentType.Equal(oidEncryptedData):
			var ed encryptedData
			if err := unmarshalAll(ci.Content.Bytes, &ed); err != nil {
				return nil, fmt.Errorf("safe %d: %w", i+1, err)
			}
			var err error
			plain, err = decrypt(ed.Content.Algorithm, ed.Content.Encrypted, password)
			if err != nil {
				if f.noMAC {
					// Without a MAC, a failed decryption is how a wrong
					// password shows.
					return nil, fmt.Errorf("safe %d: %w (%v)", i+1, errPFXPassword, err)
				}
				return nil, fmt.Errorf("safe %d: %w", i+1, err)
			}
		default:
			return nil, pfxUnsupportedError{fmt.Sprintf("safe %d: content type %s is not supported", i+1, ci.ContentType)}
		}
		var bags []safeBag
		if err := unmarshalAll(plain, &bags); err != nil {
			if ci.ContentType.Equal(oidEncryptedData) && f.noMAC {
				return nil, fmt.Errorf("safe %d: %w (%v)", i+1, errPFXPassword, err)
			}
			return nil, fmt.Errorf("safe %d: %w", i+1, err)
		}
		for j, b := range bags {
			pb, err := readBag(b)
			if err != nil {
				return nil, fmt.Errorf("safe %d, bag %d: %w", i+1, j+1, err)
			}
			f.bags = append(f.bags, pb)
		}
	}
	return f, nil
}

func readBag(b safeBag) (pfxBag, error) {
	pb := pfxBag{kind: b.ID}
	for _, a := range b.Attributes {
		switch {
		case a.ID.Equal(oidFriendlyName):
			var v asn1.RawValue
			if err := unmarshalAll(a.Values.Bytes, &v); err != nil || v.Tag != asn1.TagBMPString {
				return pb, fmt.Errorf("friendly name is not a BMPString")
			}
			s, err := decodeBMP(v.Bytes)
			if err != nil {
				return pb, fmt.Errorf("friendly name: %w", err)
			}
			pb.alias, pb.hasAlias = s, true
		case a.ID.Equal(oidJavaTrust):
			pb.trusted = true
			rest := a.Values.Bytes
			for len(rest) > 0 {
				var oid asn1.ObjectIdentifier
				var err error
				if rest, err = asn1.Unmarshal(rest, &oid); err != nil {
					return pb, fmt.Errorf("trusted key usage: %w", err)
				}
				pb.usages = append(pb.usages, oid)
			}
		default:
			if a.ID.Equal(oidLocalKeyID) {
				var id []byte
				if err := unmarshalAll(a.Values.Bytes, &id); err == nil {
					pb.keyID = id
				}
			}
			pb.otherAttrs = append(pb.otherAttrs, a.ID.String())
		}
	}
	if b.ID.Equal(oidCertBag) {
		var cb certBag
		if err := unmarshalAll(b.Value.Bytes, &cb); err != nil {
			return pb, fmt.Errorf("certificate bag: %w", err)
		}
		if !cb.ID.Equal(oidX509Certificate) {
			return pb, pfxUnsupportedError{"certificate bag of type " + cb.ID.String() + " is not supported"}
		}
		pb.der = cb.Data
	}
	return pb, nil
}

// anyUsage reports whether the trust attribute says "any extended key
// usage", the only value go-pkcs12 writes.
func (b *pfxBag) anyUsage() bool {
	return len(b.usages) == 1 && b.usages[0].Equal(oidAnyEKU)
}

// bmpPassword is the PKCS#12 form of a password: UTF-16 big endian with two
// zero bytes at the end; the empty password is empty.
func bmpPassword(s string) []byte {
	if s == "" {
		return nil
	}
	var out []byte
	for _, r := range utf16.Encode([]rune(s)) {
		out = append(out, byte(r>>8), byte(r))
	}
	return append(out, 0, 0)
}

func decodeBMP(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", errors.New("odd length")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	return string(utf16.Decode(u)), nil
}

// macHashes are the digests a PKCS#12 MAC (RFC 7292's MacData) may name.
var macHashes = []struct {
	oid asn1.ObjectIdentifier
	new func() hash.Hash
}{
	{oidSHA1, sha1.New},
	{oidSHA224, sha256.New224},
	{oidSHA256, sha256.New},
	{oidSHA384, sha512.New384},
	{oidSHA512, sha512.New},
}

// prfFor is the PBKDF2 PRF an algorithm identifier names: HMAC-SHA1 when
// none is given, nil for one it does not know.
func prfFor(oid asn1.ObjectIdentifier) func() hash.Hash {
	if len(oid) == 0 {
		return sha1.New // PBKDF2's default PRF
	}
	return pbe.HMACHash(oid)
}

func verifyMAC(md *macData, message []byte, password string) error {
	alg := md.Mac.Algorithm.Algorithm
	var key []byte
	var hf func() hash.Hash
	if alg.Equal(oidPBMAC1) {
		var params struct {
			KDF pkix.AlgorithmIdentifier
			MAC pkix.AlgorithmIdentifier
		}
		if err := unmarshalAll(md.Mac.Algorithm.Parameters.FullBytes, &params); err != nil {
			return fmt.Errorf("PBMAC1 parameters: %w", err)
		}
		hf = prfFor(params.MAC.Algorithm)
		if !params.KDF.Algorithm.Equal(oidPBKDF2) || hf == nil {
			return pfxUnsupportedError{"PBMAC1 with " + params.KDF.Algorithm.String() + "/" + params.MAC.Algorithm.String() + " is not supported"}
		}
		var err error
		if key, _, err = pbkdf2Key(params.KDF.Parameters.FullBytes, []byte(password), 0); err != nil {
			return err
		}
	} else {
		for _, h := range macHashes {
			if h.oid.Equal(alg) {
				hf = h.new
			}
		}
		if hf == nil {
			return pfxUnsupportedError{"MAC algorithm " + alg.String() + " is not supported"}
		}
		key = pbe.PKCS12KDF(hf, bmpPassword(password), md.MacSalt, md.Iterations, pbe.MACKey, hf().Size())
	}
	m := hmac.New(hf, key)
	m.Write(message)
	if !hmac.Equal(m.Sum(nil), md.Mac.Digest) {
		return errPFXPassword
	}
	return nil
}

type pbkdf2Params struct {
	Salt       asn1.RawValue
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

// pbkdf2Key derives a key from PBKDF2-params; keyLen 0 takes the length from
// the parameters. It returns the key and the PRF's output size.
func pbkdf2Key(params []byte, password []byte, keyLen int) ([]byte, int, error) {
	var p pbkdf2Params
	if err := unmarshalAll(params, &p); err != nil {
		return nil, 0, fmt.Errorf("PBKDF2 parameters: %w", err)
	}
	if p.Salt.Tag != asn1.TagOctetString {
		return nil, 0, pfxUnsupportedError{"PBKDF2 salt that is not an OCTET STRING"}
	}
	prf := prfFor(p.PRF.Algorithm)
	if prf == nil {
		return nil, 0, pfxUnsupportedError{"PBKDF2 PRF " + p.PRF.Algorithm.String() + " is not supported"}
	}
	if keyLen == 0 {
		keyLen = p.KeyLength
	}
	if keyLen == 0 {
		keyLen = prf().Size()
	}
	if p.Iterations < 1 || p.Iterations > maxIterations {
		return nil, 0, fmt.Errorf("PBKDF2 iteration count %d out of range", p.Iterations)
	}
	k, err := pbkdf2.Key(prf, string(password), p.Salt.Bytes, p.Iterations, keyLen)
	return k, prf().Size(), err
}
