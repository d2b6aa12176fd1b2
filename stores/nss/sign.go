package nss

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/rootsync/rootsync/internal/pbe"
)

// This file holds the softoken's integrity protection of authenticated
// attributes (trust values and hashes): the key derived from key4.db's
// password entry, the "password-check" value that tells a right password from
// a wrong one, and the PBMAC1 signatures kept in key4.db's metaData table.

var (
	oidPBES2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidPBMAC1    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 14}
	oidAES256CBC = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
)

// The empty password (the default of ~/.pki/nssdb) uses one PBKDF2
// iteration; a real password uses NSS's default of 10000.
const (
	emptyPasswordIterations = 1
	passwordIterations      = 10000
)

// passKey is the softoken's key for a password: SHA-1 (SHA-384 for a 48-byte
// salt, as newer NSS writes) of the global salt followed by the password.
func passKey(globalSalt, password []byte) []byte {
	var h hash.Hash = sha1.New()
	if len(globalSalt) == sha512.Size384 {
		h = sha512.New384()
	}
	h.Write(globalSalt)
	h.Write(password)
	return h.Sum(nil)
}

type algorithmIdentifier struct {
	Algorithm  asn1.ObjectIdentifier
	Parameters asn1.RawValue `asn1:"optional"`
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                 `asn1:"optional"`
	PRF        algorithmIdentifier `asn1:"optional"`
}

type pbkdf2Alg struct {
	Algorithm asn1.ObjectIdentifier
	Params    pbkdf2Params
}

type pbmac1Params struct {
	KDF pbkdf2Alg
	MAC algorithmIdentifier
}

type pbmac1Alg struct {
	Algorithm asn1.ObjectIdentifier
	Params    pbmac1Params
}

// signature is the DER stored in a sig_cert_ metaData row.
type signature struct {
	Alg pbmac1Alg
	MAC []byte
}

type pbes2Params struct {
	KDF pbkdf2Alg
	Enc struct {
		Algorithm asn1.ObjectIdentifier
		IV        []byte
	}
}

type encryptedValue struct {
	Alg struct {
		Algorithm asn1.ObjectIdentifier
		Params    pbes2Params
	}
	Data []byte
}

// maxIterations bounds the PBKDF2 iterations of one derivation, and
// verifyBudget those of all the signatures one read checks. NSS writes 1
// (empty password) or 10000 iterations with a fresh salt per signature, so a
// database of a thousand signed trust attributes costs ten million; the
// budget leaves ample room for that while a database that asks for ten
// million per signature (each costing seconds) cannot hold a read, and with
// it the lock of a root job, for hours. Variables so that tests can lower
// them.
var (
	maxIterations = 10_000_000
	verifyBudget  = 100_000_000
)

// errVerifyBudget: the signatures of one read ask for more PBKDF2 work than
// verifyBudget allows.
var errVerifyBudget = errors.New("the trust signatures ask for more PBKDF2 work than a database NSS wrote needs")

// deriveKey runs PBKDF2 as the parameters say.
func (p pbkdf2Params) deriveKey(pk []byte) ([]byte, error) {
	h := sha1.New
	if len(p.PRF.Algorithm) > 0 {
		if h = pbe.HMACHash(p.PRF.Algorithm); h == nil {
			return nil, fmt.Errorf("unknown PBKDF2 function %v", p.PRF.Algorithm)
		}
	}
	n := p.KeyLength
	if n == 0 {
		n = h().Size()
	}
	if p.Iterations < 1 || p.Iterations > maxIterations || n > 64 {
		return nil, fmt.Errorf("implausible PBKDF2 parameters (%d iterations, key length %d)", p.Iterations, n)
	}
	return pbkdf2.Key(h, string(pk), p.Salt, p.Iterations, n)
}

// macInput is what a signature covers: the object id, the attribute type and
// the attribute's stored bytes.
func macInput(objectID, attr uint32, value []byte) []byte {
	b := make([]byte, 8, 8+len(value))
	binary.BigEndian.PutUint32(b, objectID)
	binary.BigEndian.PutUint32(b[4:], attr)
	return append(b, value...)
}

// signer makes signatures with one derived key. NSS draws a fresh salt for
// every signature; a signer reuses one salt for all the signatures of one
// write, so that a password's 10000 PBKDF2 iterations are paid once per write
// instead of once per attribute. NSS verifies each signature with the salt and
// iteration count stored in it, so both forms read the same.
type signer struct {
	salt       []byte
	iterations int
	key        []byte
	// prefix is the DER of every signature of this signer up to its MAC:
	// only the 32 bytes of HMAC-SHA-256 differ from one to the next.
	prefix []byte
	mac    hash.Hash
}

func newSigner(pk []byte, iterations int) (*signer, error) {
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(sha256.New, string(pk), salt, iterations, 32)
	if err != nil {
		return nil, err
	}
	s := &signer{salt: salt, iterations: iterations, key: key, mac: hmac.New(sha256.New, key)}
	der, err := asn1.Marshal(s.signature(make([]byte, sha256.Size)))
	if err != nil {
		return nil, err
	}
	s.prefix = der[:len(der)-sha256.Size]
	return s, nil
}

// signature is the signature structure of this signer holding mac.
func (s *signer) signature(mac []byte) signature {
	return signature{
		Alg: pbmac1Alg{
			Algorithm: oidPBMAC1,
			Params: pbmac1Params{
				KDF: pbkdf2Alg{
					Algorithm: oidPBKDF2,
					Params: pbkdf2Params{
						Salt:       s.salt,
						Iterations: s.iterations,
						KeyLength:  32,
						PRF:        algorithmIdentifier{Algorithm: pbe.OIDHMACWithSHA256},
					},
				},
				MAC: algorithmIdentifier{Algorithm: pbe.OIDHMACWithSHA256},
			},
		},
		MAC: mac,
	}
}

// sign returns the DER signature of one attribute value.
func (s *signer) sign(objectID, attr uint32, value []byte) []byte {
	return s.appendSig(nil, objectID, attr, value)
}

// appendSig appends the DER signature of one attribute value to dst: the
// fixed prefix, then the MAC (what asn1.Marshal makes of s.signature(mac)).
func (s *signer) appendSig(dst []byte, objectID, attr uint32, value []byte) []byte {
	var head [8]byte
	binary.BigEndian.PutUint32(head[:], objectID)
	binary.BigEndian.PutUint32(head[4:], attr)
	s.mac.Reset()
	s.mac.Write(head[:])
	s.mac.Write(value)
	return s.mac.Sum(append(dst, s.prefix...))
}

// verifier checks signatures; it remembers derived keys, since the signatures
// of one write usually share a salt, and the parsed beginning of each
// signature it has checked (see sigTail), so that the next signature that
// begins the same costs one HMAC.
type verifier struct {
	pk   []byte
	keys map[string][]byte
	algs map[string]*sigAlg // by the signature's bytes before its last sigTail
	work int                // PBKDF2 iterations spent
	over bool               // a signature was refused for the budget
	// reading, when set, makes a signature whose key would cost more than
	// the read allows fail with errDeferred instead: it is checked after
	// the read (see checkAsRead).
	reading *readAllowance
}

// readAllowance is the PBKDF2 work a verifier may spend while key4.db is
// read: first, iterations for any key; beyond them, shared, for keys whose
// salt a second signature uses (a key most signatures of a write share, as
// rootsync writes them, rather than one per signature, as NSS writes them).
type readAllowance struct {
	first, shared int
	deferred      map[string]bool // beginnings of signatures deferred once
}

// errDeferred: the signature was not checked, because deriving its key
// would cost more than the read allows.
var errDeferred = errors.New("signature check deferred")

// sigAlg is what a verified signature's beginning says: the key and MAC
// function, and the MAC's first bytes (those before the last sigTail).
type sigAlg struct {
	mac     hash.Hash
	macHead []byte
	sum     []byte // scratch for the MAC of one check
}

func newVerifier(pk []byte) *verifier {
	return &verifier{pk: pk, keys: map[string][]byte{}, algs: map[string]*sigAlg{}}
}

var errBadSignature = errors.New("signature does not verify")

// check verifies a signature whose beginning is a's and whose last sigTail
// bytes are tail.
func (a *sigAlg) check(tail []byte, objectID, attr uint32, value []byte) error {
	var head [8]byte
	binary.BigEndian.PutUint32(head[:], objectID)
	binary.BigEndian.PutUint32(head[4:], attr)
	a.mac.Reset()
	a.mac.Write(head[:])
	a.mac.Write(value)
	a.sum = a.mac.Sum(a.sum[:0])
	sum := a.sum
	if len(sum) != len(a.macHead)+len(tail) ||
		subtle.ConstantTimeCompare(sum[:len(a.macHead)], a.macHead)&subtle.ConstantTimeCompare(sum[len(a.macHead):], tail) != 1 {
		return errBadSignature
	}
	return nil
}

// verifyParts checks the signature prefix followed by tail (see sigTable).
func (v *verifier) verifyParts(prefix string, tail []byte, objectID, attr uint32, value []byte) error {
	if a := v.algs[prefix]; a != nil && len(tail) == sigTail {
		return a.check(tail, objectID, attr, value)
	}
	return v.verify(append([]byte(prefix), tail...), objectID, attr, value)
}

// verify checks der, the stored signature of one attribute value.
func (v *verifier) verify(der []byte, objectID, attr uint32, value []byte) error {
	if len(der) >= sigTail {
		if a := v.algs[string(der[:len(der)-sigTail])]; a != nil {
			return a.check(der[len(der)-sigTail:], objectID, attr, value)
		}
	}
	var sig signature
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) > 0 {
		return fmt.Errorf("malformed signature")
	}
	if !sig.Alg.Algorithm.Equal(oidPBMAC1) || !sig.Alg.Params.KDF.Algorithm.Equal(oidPBKDF2) {
		return fmt.Errorf("signature algorithm %v is not PBMAC1 with PBKDF2", sig.Alg.Algorithm)
	}
	macHash := pbe.HMACHash(sig.Alg.Params.MAC.Algorithm)
	if macHash == nil {
		return fmt.Errorf("unknown MAC algorithm %v", sig.Alg.Params.MAC.Algorithm)
	}
	p := sig.Alg.Params.KDF.Params
	cacheKey := fmt.Sprintf("%x/%d/%d/%v", p.Salt, p.Iterations, p.KeyLength, p.PRF.Algorithm)
	key, ok := v.keys[cacheKey]
	if !ok {
		if r := v.reading; r != nil && v.work+max(p.Iterations, 0) > min(r.first, verifyBudget) {
			prefix := string(der[:max(len(der)-sigTail, 0)])
			if !r.deferred[prefix] || v.work+max(p.Iterations, 0) > min(r.first+r.shared, verifyBudget) {
				r.deferred[prefix] = true
				return errDeferred
			}
		}
		if v.work+max(p.Iterations, 0) > verifyBudget {
			v.over = true
			return errVerifyBudget
		}
		v.work += max(p.Iterations, 0)
		if key, err = p.deriveKey(v.pk); err != nil {
			return err
		}
		v.keys[cacheKey] = key
	}
	a := &sigAlg{mac: hmac.New(macHash, key)}
	if len(sig.MAC) >= sigTail && macLast(der, sig.MAC) {
		// The signature's last sigTail bytes are the MAC's: another
		// signature that begins with the same bytes has the same algorithm
		// and key, and a MAC that differs only there.
		a.macHead = bytes.Clone(sig.MAC[:len(sig.MAC)-sigTail])
		v.algs[string(der[:len(der)-sigTail])] = a
	}
	m := a.mac
	m.Reset()
	m.Write(macInput(objectID, attr, value))
	if !hmac.Equal(m.Sum(nil), sig.MAC) {
		return errBadSignature
	}
	return nil
}

// macLast reports whether der is exactly a SEQUENCE of one element and the
// OCTET STRING mac, nothing after it (encoding/asn1 accepts more elements).
func macLast(der, mac []byte) bool {
	in := cryptobyte.String(der)
	var seq, alg, got cryptobyte.String
	return in.ReadASN1(&seq, cbasn1.SEQUENCE) && in.Empty() && seq.ReadAnyASN1Element(&alg, nil) &&
		seq.ReadASN1(&got, cbasn1.OCTET_STRING) && seq.Empty() && bytes.Equal(got, mac)
}

const passwordCheck = "password-check"

// errUnknownCheck: the password check value uses an algorithm this package
// does not decrypt.
var errUnknownCheck = errors.New("password check value uses an unknown algorithm")

// checkPassword decrypts the password entry's check value with pk and reports
// whether it reads "password-check". The value is PBES2 (what NSS writes
// today) or one of the older schemes a database converted from key3.db keeps
// (see legacypbe.go).
func checkPassword(encrypted, pk []byte) (bool, error) {
	var outer struct {
		Alg  algorithmIdentifier
		Data []byte
	}
	if rest, err := asn1.Unmarshal(encrypted, &outer); err != nil || len(rest) > 0 {
		return false, errUnknownCheck
	}
	if !outer.Alg.Algorithm.Equal(oidPBES2) {
		s, ok := legacySchemes[outer.Alg.Algorithm.String()]
		if !ok {
			return false, fmt.Errorf("%w (%v)", errUnknownCheck, outer.Alg.Algorithm)
		}
		var params legacyParams
		if rest, err := asn1.Unmarshal(outer.Alg.Parameters.FullBytes, &params); err != nil || len(rest) > 0 {
			return false, fmt.Errorf("%w (malformed %s parameters)", errUnknownCheck, s.name)
		}
		plain, ok, err := s.decrypt(params, pk, outer.Data)
		if err != nil || !ok {
			return false, err
		}
		return bytes.Equal(plain, []byte(passwordCheck)), nil
	}
	var ev encryptedValue
	rest, err := asn1.Unmarshal(encrypted, &ev)
	if err != nil || len(rest) > 0 || !ev.Alg.Algorithm.Equal(oidPBES2) ||
		!ev.Alg.Params.KDF.Algorithm.Equal(oidPBKDF2) || !ev.Alg.Params.Enc.Algorithm.Equal(oidAES256CBC) {
		return false, errUnknownCheck
	}
	key, err := ev.Alg.Params.KDF.Params.deriveKey(pk)
	if err != nil {
		return false, err
	}
	if len(key) != 32 {
		return false, errUnknownCheck
	}
	iv := ev.Alg.Params.Enc.IV
	if len(iv) == 14 {
		// NSS stores 14 bytes and encrypts with their DER encoding as the IV.
		iv = append([]byte{0x04, 0x0e}, iv...)
	}
	if len(iv) != aes.BlockSize || len(ev.Data) == 0 || len(ev.Data)%aes.BlockSize != 0 {
		return false, errUnknownCheck
	}
	block, _ := aes.NewCipher(key)
	plain := make([]byte, len(ev.Data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ev.Data)
	return bytes.Equal(unpad(plain), []byte(passwordCheck)), nil
}

func unpad(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize || n > len(b) {
		return b
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return b
		}
	}
	return b[:len(b)-n]
}

// newPasswordEntry makes a new database's password entry: a random 20-byte
// global salt and the check value encrypted the way NSS 3.87 writes it.
func newPasswordEntry(password []byte) (globalSalt, encrypted []byte, err error) {
	globalSalt = make([]byte, 20)
	salt := make([]byte, 32)
	iv := make([]byte, 14)
	for _, b := range [][]byte{globalSalt, salt, iv} {
		if _, err := rand.Read(b); err != nil {
			return nil, nil, err
		}
	}
	iterations := passwordIterations
	if len(password) == 0 {
		iterations = emptyPasswordIterations
	}
	var ev encryptedValue
	ev.Alg.Algorithm = oidPBES2
	ev.Alg.Params.KDF = pbkdf2Alg{Algorithm: oidPBKDF2, Params: pbkdf2Params{
		Salt: salt, Iterations: iterations, KeyLength: 32,
		PRF: algorithmIdentifier{Algorithm: pbe.OIDHMACWithSHA256},
	}}
	ev.Alg.Params.Enc.Algorithm = oidAES256CBC
	ev.Alg.Params.Enc.IV = iv
	key, err := ev.Alg.Params.KDF.Params.deriveKey(passKey(globalSalt, password))
	if err != nil {
		return nil, nil, err
	}
	plain := []byte(passwordCheck)
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, _ := aes.NewCipher(key)
	ev.Data = make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, append([]byte{0x04, 0x0e}, iv...)).CryptBlocks(ev.Data, plain)
	encrypted, err = asn1.Marshal(ev)
	return globalSalt, encrypted, err
}
