package stores

import (
	"bytes"
	"crypto/ed25519"
	"crypto/elliptic"
	"math/big"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// parseFast is parseCertificate for the certificates nearly every store
// holds, without certificate-transparency-go's parser (whose reflection-based
// ASN.1 is most of the cost of reading a store) and without crypto/x509's
// (whose Certificate is most of the garbage): it reads them with readFields,
// readSimpleName and the checks below, and returns nil for any certificate
// it cannot vouch for, which the general path then reads.
//
// A certificate it reads is one both crypto/x509.ParseCertificate and the
// lenient parser read without a fatal error, so ParseError stays nil exactly
// where it did. It refuses everything crypto/x509 refuses (its rules, in
// crypto/x509/parser.go, are checked here one by one: the version's range, a
// minimal serial, equal signature algorithms, the names, the public key and,
// in a version 3 certificate only, the extensions crypto/x509 decodes), and
// every part the lenient parser decodes strictly must be in the one plain
// DER form both parsers accept; any other form (an unusual key type, name
// constraints, a URI name, unique ids, extensions in a version 1 or 2
// certificate) is left to the general path. IsCA and CN are what
// crypto/x509 makes of the certificate. The differential tests in
// certfast_test.go and the rule-by-rule ones in certcraft_test.go hold the
// two paths, and crypto/x509, to that.
//
// It allocates the Certificate and the subject's rendering (the common name
// shares its bytes), nothing else.
func parseFast(der []byte, f *certFields, fp Fingerprint) *Certificate {
	if f.version < 0 || f.version > 2 { // crypto/x509 reads versions 1 to 3
		return nil
	}
	if _, _, ok := readSimpleName(f.issuer, false); !ok {
		return nil
	}
	serial := cryptobyte.String(f.serial)
	var n cryptobyte.String
	if !serial.ReadASN1(&n, cbasn1.INTEGER) || !positiveInteger(n, true) { // a negative serial too
		return nil
	}
	if !bytes.Equal(f.sigAlg, f.outerSigAlg) || !plainAlgorithm(f.sigAlg) || !plainKey(f.spki) {
		return nil
	}
	isCA, ok := plainExtensions(f.tail, f.version)
	if !ok {
		return nil
	}
	subject, cn, ok := readSimpleName(f.subject, true) // last: the one part that allocates
	if !ok {
		return nil
	}
	selfIssued := bytes.Equal(f.subject, f.issuer)
	return &Certificate{
		DER:         der,
		Fingerprint: fp,
		RawSubject:  f.subject,
		RawIssuer:   f.issuer,
		RawSerial:   f.serial,
		Subject:     subject,
		NotBefore:   f.notBefore,
		NotAfter:    f.notAfter,
		IsCA:        isCA || (f.version < 2 && selfIssued),
		SelfIssued:  selfIssued,
		CN:          cn,
	}
}

// positiveInteger: the content of a minimally encoded INTEGER (as
// cryptobyte's ReadASN1Integer requires) that is not negative and, unless
// zero is allowed, not zero.
func positiveInteger(n []byte, zero bool) bool {
	switch {
	case len(n) == 0 || n[0]&0x80 != 0:
		return false
	case len(n) > 1 && n[0] == 0 && n[1]&0x80 == 0:
		return false // a needless leading zero
	}
	return zero || len(n) > 1 || n[0] != 0
}

// plainAlgorithm: an AlgorithmIdentifier of an object identifier and at most
// one parameter element.
func plainAlgorithm(el cryptobyte.String) bool {
	var ai, oid cryptobyte.String
	if !el.ReadASN1(&ai, cbasn1.SEQUENCE) || !el.Empty() ||
		!ai.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) || !plainOID(oid) {
		return false
	}
	if !ai.Empty() && !readOne(&ai) {
		return false
	}
	return ai.Empty()
}

// readOne reads one element with a one-byte tag.
func readOne(s *cryptobyte.String) bool {
	if s.Empty() || (*s)[0]&0x1f == 0x1f {
		return false
	}
	var x cryptobyte.String
	var tag cbasn1.Tag
	return s.ReadAnyASN1Element(&x, &tag)
}

// plainOID: an object identifier every ASN.1 reader decodes: at least one
// byte, no arc longer than four bytes (28 bits), no padding byte.
func plainOID(oid []byte) bool {
	if len(oid) == 0 || oid[len(oid)-1]&0x80 != 0 {
		return false
	}
	n := 0 // bytes of the arc so far
	for _, c := range oid {
		if n == 0 && c == 0x80 {
			return false // a non-minimal arc
		}
		if n++; n > 4 {
			return false
		}
		if c&0x80 == 0 {
			n = 0
		}
	}
	return true
}

// Object identifiers of the public keys parseFast reads (DER content).
var (
	oidRSA     = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}
	oidECDSA   = []byte{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01}
	oidEd25519 = []byte{0x2b, 0x65, 0x70}
	oidP256    = []byte{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	oidP224    = []byte{0x2b, 0x81, 0x04, 0x00, 0x21}
	oidP384    = []byte{0x2b, 0x81, 0x04, 0x00, 0x22}
	oidP521    = []byte{0x2b, 0x81, 0x04, 0x00, 0x23}
)

// plainKey: the content of a SubjectPublicKeyInfo crypto/x509 reads, in
// the one form the lenient parser reads too: an RSA key (NULL parameters, a
// SEQUENCE of a positive modulus and a positive exponent that fits an int,
// both minimally encoded, and nothing after it), an ECDSA key on a named
// NIST curve whose point is uncompressed and on the curve, or an Ed25519
// key (no parameters, 32 bytes).
func plainKey(spki cryptobyte.String) bool {
	var ai, oid, key cryptobyte.String
	var bits cbasn1BitString
	if !spki.ReadASN1(&ai, cbasn1.SEQUENCE) || !ai.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
		!spki.ReadASN1(&key, cbasn1.BIT_STRING) || !spki.Empty() || !bits.read(key) {
		return false
	}
	switch {
	case bytes.Equal(oid, oidRSA):
		var null, pub, n, e cryptobyte.String
		k := cryptobyte.String(bits)
		return ai.ReadASN1(&null, cbasn1.NULL) && len(null) == 0 && ai.Empty() &&
			k.ReadASN1(&pub, cbasn1.SEQUENCE) && k.Empty() &&
			pub.ReadASN1(&n, cbasn1.INTEGER) && pub.ReadASN1(&e, cbasn1.INTEGER) && pub.Empty() &&
			positiveInteger(n, false) && positiveInteger(e, false) && len(e) <= 8 // an int64
	case bytes.Equal(oid, oidECDSA):
		var curve cryptobyte.String
		if !ai.ReadASN1(&curve, cbasn1.OBJECT_IDENTIFIER) || !ai.Empty() {
			return false
		}
		return onCurve(curve, bits)
	case bytes.Equal(oid, oidEd25519):
		return ai.Empty() && len(bits) == ed25519.PublicKeySize
	}
	return false
}

// onCurve reports whether point is an uncompressed point on the named curve,
// as crypto/x509 requires (through crypto/ecdsa.ParseUncompressedPublicKey:
// the form, both coordinates below the field's prime p and y² = x³ - 3x + b
// mod p). It computes in big.Ints kept for reuse, which allocate nothing once
// they have grown, where crypto/ecdh or crypto/ecdsa would make a public key
// of a few hundred bytes for every certificate.
func onCurve(curve, point []byte) bool {
	var c *weierstrass
	switch {
	case bytes.Equal(curve, oidP256):
		c = &curves[1]
	case bytes.Equal(curve, oidP384):
		c = &curves[2]
	case bytes.Equal(curve, oidP521):
		c = &curves[3]
	case bytes.Equal(curve, oidP224):
		c = &curves[0]
	default:
		return false
	}
	if len(point) != 1+2*c.size || point[0] != 4 {
		return false
	}
	w := curveWork.Get().(*curveScratch)
	defer curveWork.Put(w)
	w.x.SetBytes(point[1 : 1+c.size])
	w.y.SetBytes(point[1+c.size:])
	if w.x.Cmp(c.p) >= 0 || w.y.Cmp(c.p) >= 0 {
		return false
	}
	// d = x·(x² mod p) + b + 3p + p² - 3x - y² is positive (3x < 3p, y² < p²)
	// and a multiple of p exactly where the point is on the curve. No result
	// shares its storage with an operand, so that once the scratch has grown
	// no operation needs new storage.
	w.t.Mul(&w.x, &w.x)
	w.q.QuoRem(&w.t, c.p, &w.u)
	w.t.Mul(&w.u, &w.x)
	w.u.Add(&w.t, c.offset)
	w.t.Lsh(&w.x, 1)
	w.v.Add(&w.t, &w.x)
	w.t.Sub(&w.u, &w.v)
	w.v.Mul(&w.y, &w.y)
	w.u.Sub(&w.t, &w.v)
	w.q.QuoRem(&w.u, c.p, &w.t)
	return w.t.Sign() == 0
}

// weierstrass is what onCurve needs of a NIST curve: its prime, the size of
// a coordinate in bytes and b + 3p + p².
type weierstrass struct {
	p, offset *big.Int
	size      int
}

// curves are P-224, P-256, P-384 and P-521.
var curves = func() (out [4]weierstrass) {
	for i, c := range [...]elliptic.Curve{elliptic.P224(), elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		p := c.Params().P
		offset := new(big.Int).Mul(p, p)
		offset.Add(offset, new(big.Int).Mul(p, big.NewInt(3)))
		offset.Add(offset, c.Params().B)
		out[i] = weierstrass{p: p, offset: offset, size: (c.Params().BitSize + 7) / 8}
	}
	return out
}()

// curveScratch is onCurve's working storage.
type curveScratch struct{ x, y, t, u, v, q big.Int }

var curveWork = sync.Pool{New: func() any { return new(curveScratch) }}

// cbasn1BitString is the content of a BIT STRING without unused bits.
type cbasn1BitString []byte

func (b *cbasn1BitString) read(content cryptobyte.String) bool {
	if len(content) == 0 || content[0] != 0 {
		return false
	}
	*b = cbasn1BitString(content[1:])
	return true
}

// validBitString: a BIT STRING's content as encoding/asn1 and cryptobyte
// both accept it.
func validBitString(c []byte) bool {
	if len(c) == 0 {
		return false
	}
	pad := c[0]
	if pad > 7 || len(c) == 1 && pad > 0 {
		return false
	}
	return len(c) == 1 || c[len(c)-1]&(1<<pad-1) == 0
}

// Object identifiers of the extensions the lenient parser or crypto/x509
// decodes (DER content); the second group are id-ce arcs 2.5.29.N by N.
var (
	oidAIA = []byte{0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01}
	oidSIA = []byte{0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x0b}
)

const (
	ceSubjectKeyID     = 14
	ceKeyUsage         = 15
	ceSubjectAltName   = 17
	ceBasicConstr      = 19
	ceNameConstr       = 30
	ceCRLDistPoints    = 31
	cePolicies         = 32
	cePolicyMappings   = 33
	ceAuthorityKeyID   = 35
	cePolicyConstr     = 36
	ceExtKeyUsage      = 37
	ceInhibitAnyPolicy = 54
)

// maxExtensions and maxPolicies bound what plainExtensions compares for
// duplicates without allocating; a certificate with more is left to the
// general path.
const (
	maxExtensions = 32
	maxPolicies   = 16
)

// plainExtensions: what follows the public key in the TBSCertificate is
// nothing or, in a version 3 certificate (version 2 as encoded), the
// extensions ([3], no unique ids): each an identifier, an optional critical
// flag and a value, no identifier twice, and the value of every extension
// the lenient parser or crypto/x509 decodes in the form plainExtension
// accepts. isCA is the basic constraints' cA flag (false without them).
//
// crypto/x509 skips whatever follows the public key of a version 1 or 2
// certificate while the lenient parser reads the extensions of every
// version, so such a certificate with extensions is left to the general
// path.
func plainExtensions(tail cryptobyte.String, version int64) (isCA, ok bool) {
	if tail.Empty() {
		return false, true
	}
	if version != 2 {
		return false, false
	}
	var wrap, exts cryptobyte.String
	if !tail.ReadASN1(&wrap, cbasn1.Tag(3).Constructed().ContextSpecific()) || !tail.Empty() ||
		!wrap.ReadASN1(&exts, cbasn1.SEQUENCE) || !wrap.Empty() {
		return false, false
	}
	var seen [maxExtensions]cryptobyte.String
	for n := 0; !exts.Empty(); n++ {
		var ext, oid, value cryptobyte.String
		if n == len(seen) || !exts.ReadASN1(&ext, cbasn1.SEQUENCE) ||
			!ext.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) || !plainOID(oid) {
			return false, false
		}
		for _, o := range seen[:n] {
			if bytes.Equal(o, oid) {
				return false, false // crypto/x509 refuses duplicate extensions
			}
		}
		seen[n] = oid
		var critical bool
		if ext.PeekASN1Tag(cbasn1.BOOLEAN) && !ext.ReadASN1Boolean(&critical) {
			return false, false
		}
		if !ext.ReadASN1(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return false, false
		}
		if len(oid) == 3 && oid[0] == 0x55 && oid[1] == 0x1d && oid[2] == ceBasicConstr {
			if isCA, ok = basicConstraints(value); !ok {
				return false, false
			}
		} else if !plainExtension(oid, critical, value) {
			return false, false
		}
	}
	return isCA, true
}

// basicConstraints reads the cA flag of a basic constraints value: a
// SEQUENCE of an optional BOOLEAN and an optional path length that is not
// negative and fits an int, as crypto/x509 requires.
func basicConstraints(v cryptobyte.String) (isCA, ok bool) {
	var seq cryptobyte.String
	if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() {
		return false, false
	}
	if seq.PeekASN1Tag(cbasn1.BOOLEAN) && !seq.ReadASN1Boolean(&isCA) {
		return false, false
	}
	if seq.PeekASN1Tag(cbasn1.INTEGER) {
		var pathLen int64
		if !seq.ReadASN1Int64WithTag(&pathLen, cbasn1.INTEGER) || pathLen < 0 {
			return false, false
		}
	}
	return isCA, seq.Empty()
}

// plainExtension checks the value of one extension other than basic
// constraints.
func plainExtension(oid []byte, critical bool, v cryptobyte.String) bool {
	switch {
	case len(oid) == 3 && oid[0] == 0x55 && oid[1] == 0x1d:
		return plainCE(oid[2], critical, v)
	case bytes.Equal(oid, oidAIA), bytes.Equal(oid, oidSIA):
		if critical && bytes.Equal(oid, oidAIA) {
			return false // crypto/x509 refuses a critical AIA
		}
		var seq cryptobyte.String
		if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() {
			return false
		}
		for !seq.Empty() {
			var ad, method cryptobyte.String
			if !seq.ReadASN1(&ad, cbasn1.SEQUENCE) || !ad.ReadASN1(&method, cbasn1.OBJECT_IDENTIFIER) ||
				!plainOID(method) || !readOne(&ad) || !ad.Empty() {
				return false
			}
		}
		return true
	}
	return true // decoded by neither parser, or only to non-fatal errors
}

// plainCE checks the value of the extension 2.5.29.n.
func plainCE(n byte, critical bool, v cryptobyte.String) bool {
	var seq cryptobyte.String
	switch n {
	case ceKeyUsage:
		var bits cryptobyte.String
		return v.ReadASN1(&bits, cbasn1.BIT_STRING) && v.Empty() && validBitString(bits)
	case ceSubjectKeyID:
		var id cryptobyte.String
		return !critical && v.ReadASN1(&id, cbasn1.OCTET_STRING) && v.Empty()
	case ceAuthorityKeyID:
		if critical || !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() {
			return false
		}
		for _, tag := range [...]cbasn1.Tag{cbasn1.Tag(0).ContextSpecific(), cbasn1.Tag(1).Constructed().ContextSpecific(), cbasn1.Tag(2).ContextSpecific()} {
			var x cryptobyte.String
			var present bool
			if !seq.ReadOptionalASN1(&x, &present, tag) {
				return false
			}
		}
		return seq.Empty()
	case ceExtKeyUsage:
		if len(v) == 0 || !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() {
			return false
		}
		for !seq.Empty() {
			var oid cryptobyte.String
			if !seq.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) || !plainOID(oid) {
				return false
			}
		}
		return true
	case cePolicies:
		if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() {
			return false
		}
		var seen [maxPolicies]cryptobyte.String
		for n := 0; !seq.Empty(); n++ {
			var pi, oid cryptobyte.String
			if n == len(seen) || !seq.ReadASN1(&pi, cbasn1.SEQUENCE) || !pi.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) || !plainOID(oid) {
				return false
			}
			for _, o := range seen[:n] {
				if bytes.Equal(o, oid) {
					return false // crypto/x509 refuses a policy named twice
				}
			}
			seen[n] = oid
			if !pi.Empty() {
				var qualifiers cryptobyte.String
				if !pi.ReadASN1(&qualifiers, cbasn1.SEQUENCE) || !pi.Empty() || !wellFormed(qualifiers) {
					return false
				}
			}
		}
		return true
	case cePolicyMappings:
		if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() {
			return false
		}
		for !seq.Empty() {
			var m, issuer, subject cryptobyte.String
			if !seq.ReadASN1(&m, cbasn1.SEQUENCE) || !m.ReadASN1(&issuer, cbasn1.OBJECT_IDENTIFIER) ||
				!m.ReadASN1(&subject, cbasn1.OBJECT_IDENTIFIER) || !m.Empty() || !plainOID(issuer) || !plainOID(subject) {
				return false
			}
		}
		return true
	case cePolicyConstr:
		if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() {
			return false
		}
		for _, tag := range [...]cbasn1.Tag{cbasn1.Tag(0).ContextSpecific(), cbasn1.Tag(1).ContextSpecific()} {
			var skip int64
			if seq.PeekASN1Tag(tag) && !seq.ReadASN1Int64WithTag(&skip, tag) {
				return false
			}
		}
		return seq.Empty()
	case ceInhibitAnyPolicy:
		var skip int64
		return v.ReadASN1Int64WithTag(&skip, cbasn1.INTEGER) && v.Empty()
	case ceCRLDistPoints:
		if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() {
			return false
		}
		for !seq.Empty() {
			var dp cryptobyte.String
			if !seq.ReadASN1(&dp, cbasn1.SEQUENCE) {
				return false
			}
			var name, full, reasons, issuer cryptobyte.String
			var hasName, hasReasons, hasIssuer bool
			if !dp.ReadOptionalASN1(&name, &hasName, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
				!dp.ReadOptionalASN1(&reasons, &hasReasons, cbasn1.Tag(1).ContextSpecific()) ||
				!dp.ReadOptionalASN1(&issuer, &hasIssuer, cbasn1.Tag(2).Constructed().ContextSpecific()) || !dp.Empty() {
				return false
			}
			if hasName && (!name.ReadASN1(&full, cbasn1.Tag(0).Constructed().ContextSpecific()) || !name.Empty() || !wellFormed(full)) {
				return false // a relative name is left to the general path
			}
			if hasReasons && !validBitString(reasons) || hasIssuer && !wellFormed(issuer) {
				return false
			}
		}
		return true
	case ceSubjectAltName:
		if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() {
			return false
		}
		for !seq.Empty() {
			var name cryptobyte.String
			var tag cbasn1.Tag
			if !seq.ReadAnyASN1(&name, &tag) {
				return false
			}
			switch tag {
			case cbasn1.Tag(1).ContextSpecific(), cbasn1.Tag(2).ContextSpecific(): // email, DNS name
				if !ascii(name) {
					return false // crypto/x509 requires an IA5String
				}
			case cbasn1.Tag(7).ContextSpecific(): // IP address
				if len(name) != 4 && len(name) != 16 {
					return false
				}
			default:
				return false // URIs and the rest: left to the general path
			}
		}
		return true
	case ceNameConstr:
		return false
	}
	return true // an id-ce extension neither parser decodes
}

// ascii reports whether every byte of s is ASCII, as an IA5String must be.
func ascii(s []byte) bool {
	for _, c := range s {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
