package stores

import (
	"bytes"
	"crypto/x509"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// parseFast is parseCertificate for the certificates nearly every store
// holds, without certificate-transparency-go's parser (whose reflection-based
// ASN.1 is most of the cost of reading a store): it reads them with
// readFields, simpleName and crypto/x509, and returns nil for any
// certificate it cannot vouch for, which the general path then reads.
//
// A certificate it reads is one the lenient parser reads without a fatal
// error, so ParseError stays nil exactly where it did: besides crypto/x509's
// checks, every part the lenient parser decodes strictly (names, the public
// key, the extensions it knows) must be in the one plain DER form both
// parsers accept, and any other form (an unusual key type, name
// constraints, a URI name, unique ids) is left to the general path. The
// differential tests in certfast_test.go hold the two paths to the same
// Certificate.
func parseFast(der []byte, f *certFields, fp Fingerprint) *Certificate {
	subject, ok := simpleName(f.subject)
	if !ok {
		return nil
	}
	if _, ok := simpleName(f.issuer); !ok {
		return nil
	}
	serial := cryptobyte.String(f.serial)
	var n cryptobyte.String
	if !serial.ReadASN1(&n, cbasn1.INTEGER) || len(n) == 0 || n[0]&0x80 != 0 { // a negative serial
		return nil
	}
	if !bytes.Equal(f.sigAlg, f.outerSigAlg) || !plainAlgorithm(f.sigAlg) ||
		!plainKey(f.spki) || !plainExtensions(f.tail) {
		return nil
	}
	x, err := x509.ParseCertificate(der)
	if err != nil {
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
		IsCA:        (x.BasicConstraintsValid && x.IsCA) || (x.Version < 3 && selfIssued),
		SelfIssued:  selfIssued,
		CN:          x.Subject.CommonName,
	}
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
	oidCurves  = [][]byte{
		{0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, // P-256
		{0x2b, 0x81, 0x04, 0x00, 0x21},                   // P-224
		{0x2b, 0x81, 0x04, 0x00, 0x22},                   // P-384
		{0x2b, 0x81, 0x04, 0x00, 0x23},                   // P-521
	}
)

// plainKey: the content of a SubjectPublicKeyInfo holding an RSA key (NULL
// parameters, a SEQUENCE of two positive INTEGERs and nothing after it), an
// ECDSA key on a named NIST curve or an Ed25519 key. crypto/x509 checks the
// numbers and the point.
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
			len(n) > 0 && n[0]&0x80 == 0 && len(e) > 0 && e[0]&0x80 == 0
	case bytes.Equal(oid, oidECDSA):
		var curve cryptobyte.String
		if !ai.ReadASN1(&curve, cbasn1.OBJECT_IDENTIFIER) || !ai.Empty() {
			return false
		}
		for _, c := range oidCurves {
			if bytes.Equal(curve, c) {
				return true
			}
		}
		return false
	case bytes.Equal(oid, oidEd25519):
		return ai.Empty() && len(bits) == 32
	}
	return false
}

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

// Object identifiers of the extensions the lenient parser decodes (DER
// content); the first group are id-ce arcs 2.5.29.N by N.
var (
	oidAIA = []byte{0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01}
	oidSIA = []byte{0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x0b}
)

const (
	ceSubjectKeyID   = 14
	ceKeyUsage       = 15
	ceSubjectAltName = 17
	ceBasicConstr    = 19
	ceNameConstr     = 30
	ceCRLDistPoints  = 31
	cePolicies       = 32
	ceAuthorityKeyID = 35
	ceExtKeyUsage    = 37
)

// plainExtensions: what follows the public key in the TBSCertificate is at
// most the extensions ([3], no unique ids), each an identifier, an optional
// critical flag and a value, and the value of every extension the lenient
// parser decodes is in the form plainExtension accepts.
func plainExtensions(tail cryptobyte.String) bool {
	if tail.Empty() {
		return true
	}
	var wrap, exts cryptobyte.String
	if !tail.ReadASN1(&wrap, cbasn1.Tag(3).Constructed().ContextSpecific()) || !tail.Empty() ||
		!wrap.ReadASN1(&exts, cbasn1.SEQUENCE) || !wrap.Empty() {
		return false
	}
	for !exts.Empty() {
		var ext, oid, value cryptobyte.String
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) || !plainOID(oid) {
			return false
		}
		if ext.PeekASN1Tag(cbasn1.BOOLEAN) {
			var critical bool
			if !ext.ReadASN1Boolean(&critical) {
				return false
			}
		}
		if !ext.ReadASN1(&value, cbasn1.OCTET_STRING) || !ext.Empty() || !plainExtension(oid, value) {
			return false
		}
	}
	return true
}

// plainExtension checks the value of one extension.
func plainExtension(oid []byte, v cryptobyte.String) bool {
	switch {
	case len(oid) == 3 && oid[0] == 0x55 && oid[1] == 0x1d:
		return plainCE(oid[2], v)
	case bytes.Equal(oid, oidAIA), bytes.Equal(oid, oidSIA):
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
	return true // not decoded by the lenient parser, or only to non-fatal errors
}

// plainCE checks the value of the extension 2.5.29.n.
func plainCE(n byte, v cryptobyte.String) bool {
	var seq cryptobyte.String
	switch n {
	case ceKeyUsage:
		var bits cryptobyte.String
		return v.ReadASN1(&bits, cbasn1.BIT_STRING) && v.Empty() && validBitString(bits)
	case ceSubjectKeyID:
		var id cryptobyte.String
		return v.ReadASN1(&id, cbasn1.OCTET_STRING) && v.Empty()
	case ceBasicConstr:
		if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() {
			return false
		}
		if seq.PeekASN1Tag(cbasn1.BOOLEAN) {
			var ca bool
			if !seq.ReadASN1Boolean(&ca) {
				return false
			}
		}
		if seq.PeekASN1Tag(cbasn1.INTEGER) {
			var pathLen int64
			if !seq.ReadASN1Integer(&pathLen) {
				return false
			}
		}
		return seq.Empty()
	case ceAuthorityKeyID:
		if !v.ReadASN1(&seq, cbasn1.SEQUENCE) || !v.Empty() {
			return false
		}
		for _, tag := range []cbasn1.Tag{cbasn1.Tag(0).ContextSpecific(), cbasn1.Tag(1).Constructed().ContextSpecific(), cbasn1.Tag(2).ContextSpecific()} {
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
		for !seq.Empty() {
			var pi, oid cryptobyte.String
			if !seq.ReadASN1(&pi, cbasn1.SEQUENCE) || !pi.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) || !plainOID(oid) {
				return false
			}
			if !pi.Empty() {
				var qualifiers cryptobyte.String
				if !pi.ReadASN1(&qualifiers, cbasn1.SEQUENCE) || !pi.Empty() || !wellFormed(qualifiers) {
					return false
				}
			}
		}
		return true
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
	return true // an id-ce extension the lenient parser does not decode
}
