package stores

import (
	"bytes"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// RawOID is the content octets of an OBJECT IDENTIFIER. OpenSSL keeps trust
// and reject OIDs in this form and accepts arcs of any size, so rootsync does
// too.
type RawOID []byte

// OIDBytes is the RawOID of oid. It panics for an OID that cannot be encoded
// (fewer than two arcs, a first arc above 2): it is meant for constants.
func OIDBytes(oid asn1.ObjectIdentifier) RawOID {
	der, err := asn1.Marshal(oid)
	if err != nil {
		panic(fmt.Sprintf("stores: OID %v: %v", oid, err))
	}
	return RawOID(der[2:])
}

// String is the dotted form (arcs of any size).
func (o RawOID) String() string {
	var arcs []string
	v := new(big.Int)
	first := true
	for _, b := range o {
		v.Lsh(v, 7).Or(v, big.NewInt(int64(b&0x7f)))
		if b&0x80 != 0 {
			continue
		}
		if first {
			first = false
			switch {
			case v.Cmp(big.NewInt(40)) < 0:
				arcs = append(arcs, "0", v.String())
			case v.Cmp(big.NewInt(80)) < 0:
				arcs = append(arcs, "1", new(big.Int).Sub(v, big.NewInt(40)).String())
			default:
				arcs = append(arcs, "2", new(big.Int).Sub(v, big.NewInt(80)).String())
			}
		} else {
			arcs = append(arcs, v.String())
		}
		v = new(big.Int)
	}
	return strings.Join(arcs, ".")
}

// Equal reports whether o and p are the same OID.
func (o RawOID) Equal(p RawOID) bool { return bytes.Equal(o, p) }

// checkOID is OpenSSL's c2i_ASN1_OBJECT check: not empty, the last octet
// ends an arc, and no arc starts with a padding octet 0x80.
func checkOID(b []byte) error {
	if len(b) == 0 || b[len(b)-1]&0x80 != 0 {
		return errors.New("invalid object identifier encoding")
	}
	for i, c := range b {
		if c == 0x80 && (i == 0 || b[i-1]&0x80 == 0) {
			return errors.New("invalid object identifier encoding")
		}
	}
	return nil
}

// AlgorithmIdentifier is one entry of X509_AUX's "other" list.
type AlgorithmIdentifier struct {
	Algorithm RawOID
	// Parameters is the encoding of the parameters exactly as read (BER
	// included), nil when absent.
	Parameters []byte
}

// Aux is OpenSSL's X509_AUX (X509_CERT_AUX): the trust data that follows the
// certificate in a TRUSTED CERTIFICATE block (openssl x509 -trustout, p11-kit's
// openssl-bundle and openssl-directory formats):
//
//	SEQUENCE { trust SEQUENCE OF OBJECT IDENTIFIER OPTIONAL,
//	           reject [0] IMPLICIT SEQUENCE OF OBJECT IDENTIFIER OPTIONAL,
//	           alias UTF8String OPTIONAL, keyid OCTET STRING OPTIONAL,
//	           other [1] IMPLICIT SEQUENCE OF AlgorithmIdentifier OPTIONAL }
//
// A list that is present but empty differs from an absent one (an empty
// trust list trusts for nothing), hence the Has fields.
type Aux struct {
	HasTrust  bool
	Trust     []RawOID
	HasReject bool
	Reject    []RawOID
	// Alias is the octets of the alias as stored; OpenSSL does not check
	// that they are UTF-8.
	HasAlias bool
	Alias    []byte
	HasKeyID bool
	KeyID    []byte
	HasOther bool
	Other    []AlgorithmIdentifier
}

// ErrBadAux is wrapped by DecodeAux's errors: trust data OpenSSL refuses.
// A file holding such a block is refused as a whole by OpenSSL's -CAfile
// loader (and so by nginx, curl and Apache).
var ErrBadAux = errors.New("trust data (X509_AUX) that OpenSSL refuses")

// DecodeAux reads the trust data that follows a certificate, accepting
// exactly what OpenSSL's d2i_X509_AUX accepts (BER included) and, like it,
// ignoring bytes after the SEQUENCE. Empty data means no trust data (nil,
// nil). Errors wrap ErrBadAux.
func DecodeAux(data []byte) (*Aux, error) {
	if len(data) == 0 {
		return nil, nil
	}
	a, _, err := decodeAux(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadAux, err)
	}
	return a, nil
}

// seqField decodes one field of a SEQUENCE at the start of b and returns the
// bytes read, or absent.
type seqField func(b []byte, optional bool) (n int, absent bool, err error)

// decodeSequence is the SEQUENCE case of OpenSSL's asn1_item_embed_d2i: the
// fields in order, each optional one skipped when its tag does not match, the
// last one never skipped while data remains; required (non-optional) fields
// listed in required. It returns the bytes of b read.
func decodeSequence(b []byte, fields []seqField, required []bool) (int, error) {
	h, _, err := berCheck(b, asn1.TagSequence, classUniversal, false)
	if err != nil {
		return 0, err
	}
	if !h.constructed {
		return 0, errors.New("SEQUENCE is not constructed")
	}
	body := b[h.hdrLen : h.hdrLen+h.length]
	eoc := h.indefinite
	p := 0
	i := 0
	for ; i < len(fields); i++ {
		if p == len(body) {
			break
		}
		if berEOC(body[p:]) {
			if !eoc {
				return 0, errBERUnexpected
			}
			p += 2
			eoc = false
			break
		}
		optional := !required[i] && i != len(fields)-1
		n, absent, err := fields[i](body[p:], optional)
		if err != nil {
			return 0, err
		}
		if absent {
			continue
		}
		p += n
	}
	if eoc {
		// Indefinite length: the end-of-contents must follow the fields.
		if !berEOC(body[p:]) {
			return 0, errBERMissingEOC
		}
		p += 2
	}
	if !h.indefinite && p != len(body) {
		return 0, errors.New("SEQUENCE length mismatch")
	}
	for ; i < len(fields); i++ {
		if required[i] {
			return 0, errors.New("required field missing")
		}
	}
	return h.hdrLen + p, nil
}

// decodeSeqOf is the SEQUENCE OF case of asn1_template_noexp_d2i: the
// constructed bit of the list is not checked (OpenSSL does not).
func decodeSeqOf(b []byte, tag int, class byte, optional bool, item func([]byte) (int, error)) (n int, absent bool, err error) {
	h, absent, err := berCheck(b, tag, class, optional)
	if err != nil || absent {
		return 0, absent, err
	}
	body := b[h.hdrLen : h.hdrLen+h.length]
	eoc := h.indefinite
	p := 0
	for p < len(body) {
		if berEOC(body[p:]) {
			if !eoc {
				return 0, false, errBERUnexpected
			}
			p += 2
			eoc = false
			break
		}
		n, err := item(body[p:])
		if err != nil {
			return 0, false, err
		}
		p += n
	}
	if eoc {
		return 0, false, errBERMissingEOC
	}
	return h.hdrLen + p, false, nil
}

// decodeOID reads one OBJECT IDENTIFIER (primitive, universal tag 6).
func decodeOID(b []byte) (RawOID, int, error) {
	h, _, err := berCheck(b, asn1.TagOID, classUniversal, false)
	if err != nil {
		return nil, 0, err
	}
	if h.constructed {
		return nil, 0, errors.New("object identifier is not primitive")
	}
	c := b[h.hdrLen : h.hdrLen+h.length]
	if err := checkOID(c); err != nil {
		return nil, 0, err
	}
	return RawOID(append([]byte(nil), c...)), h.hdrLen + h.length, nil
}

// decodeString reads a string type (UTF8String, OCTET STRING): primitive,
// or constructed from pieces of any tag.
func decodeString(b []byte, tag int, optional bool) (val []byte, n int, absent bool, err error) {
	h, absent, err := berCheck(b, tag, classUniversal, optional)
	if err != nil || absent {
		return nil, 0, absent, err
	}
	body := b[h.hdrLen : h.hdrLen+h.length]
	if !h.constructed {
		return append([]byte{}, body...), h.hdrLen + h.length, false, nil
	}
	v, m, err := berCollect(body, h.indefinite, 0)
	if err != nil {
		return nil, 0, false, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, h.hdrLen + m, false, nil
}

// decodeAny reads an ANY value as asn1_d2i_ex_primitive does and returns its
// encoding as read.
func decodeAny(b []byte) ([]byte, int, error) {
	h, _, err := berCheck(b, anyTag, 0, false)
	if err != nil {
		return nil, 0, err
	}
	body := b[h.hdrLen : h.hdrLen+h.length]
	other := h.class != classUniversal
	if other || h.tag == asn1.TagSequence || h.tag == asn1.TagSet {
		if !other && !h.constructed {
			return nil, 0, errors.New("SEQUENCE or SET is not constructed")
		}
		n := h.hdrLen + h.length
		if h.indefinite {
			m, err := berFindEnd(body)
			if err != nil {
				return nil, 0, err
			}
			n = h.hdrLen + m
		}
		return append([]byte(nil), b[:n]...), n, nil
	}
	var c []byte
	n := h.hdrLen + h.length
	if h.constructed {
		switch h.tag {
		case asn1.TagNull, asn1.TagBoolean, asn1.TagOID, asn1.TagInteger, asn1.TagEnum:
			return nil, 0, errors.New("constructed encoding of a primitive type")
		}
		v, m, err := berCollect(body, h.indefinite, 0)
		if err != nil {
			return nil, 0, err
		}
		c, n = v, h.hdrLen+m
	} else {
		c = body
	}
	if err := checkPrimitive(h.tag, c); err != nil {
		return nil, 0, err
	}
	return append([]byte(nil), b[:n]...), n, nil
}

// checkPrimitive is what asn1_ex_c2i refuses in a universal value.
func checkPrimitive(tag int, c []byte) error {
	switch tag {
	case asn1.TagOID:
		return checkOID(c)
	case asn1.TagNull:
		if len(c) != 0 {
			return errors.New("NULL with content")
		}
	case asn1.TagBoolean:
		if len(c) != 1 {
			return errors.New("BOOLEAN of wrong length")
		}
	case asn1.TagBitString:
		if len(c) < 1 || c[0] > 7 {
			return errors.New("invalid BIT STRING")
		}
	case asn1.TagInteger, asn1.TagEnum:
		if len(c) == 0 {
			return errors.New("empty INTEGER")
		}
		if len(c) > 1 {
			pad := false
			switch c[0] {
			case 0:
				pad = true
			case 0xff:
				for _, x := range c[1:] {
					pad = pad || x != 0
				}
			}
			if pad && c[0]&0x80 == c[1]&0x80 {
				return errors.New("INTEGER with illegal padding")
			}
		}
	case asn1.TagBMPString:
		if len(c)%2 != 0 {
			return errors.New("BMPString of odd length")
		}
	case 28: // UniversalString
		if len(c)%4 != 0 {
			return errors.New("UniversalString length not a multiple of 4")
		}
	}
	return nil
}

func decodeAlgorithm(b []byte) (AlgorithmIdentifier, int, error) {
	var a AlgorithmIdentifier
	n, err := decodeSequence(b, []seqField{
		func(b []byte, _ bool) (int, bool, error) {
			oid, n, err := decodeOID(b)
			a.Algorithm = oid
			return n, false, err
		},
		func(b []byte, _ bool) (int, bool, error) {
			v, n, err := decodeAny(b)
			a.Parameters = v
			return n, false, err
		},
	}, []bool{true, false})
	return a, n, err
}

func decodeAux(data []byte) (*Aux, int, error) {
	a := &Aux{}
	oids := func(list *[]RawOID) func([]byte) (int, error) {
		*list = []RawOID{}
		return func(b []byte) (int, error) {
			oid, n, err := decodeOID(b)
			if err == nil {
				*list = append(*list, oid)
			}
			return n, err
		}
	}
	n, err := decodeSequence(data, []seqField{
		func(b []byte, opt bool) (int, bool, error) {
			n, absent, err := decodeSeqOf(b, asn1.TagSequence, classUniversal, opt, oids(&a.Trust))
			a.HasTrust = !absent && err == nil
			if err != nil {
				err = fmt.Errorf("trust list: %w", err)
			}
			return n, absent, err
		},
		func(b []byte, opt bool) (int, bool, error) {
			n, absent, err := decodeSeqOf(b, 0, classContext, opt, oids(&a.Reject))
			a.HasReject = !absent && err == nil
			if err != nil {
				err = fmt.Errorf("reject list: %w", err)
			}
			return n, absent, err
		},
		func(b []byte, opt bool) (int, bool, error) {
			v, n, absent, err := decodeString(b, asn1.TagUTF8String, opt)
			a.Alias, a.HasAlias = v, !absent && err == nil
			if err != nil {
				err = fmt.Errorf("alias: %w", err)
			}
			return n, absent, err
		},
		func(b []byte, opt bool) (int, bool, error) {
			v, n, absent, err := decodeString(b, asn1.TagOctetString, opt)
			a.KeyID, a.HasKeyID = v, !absent && err == nil
			if err != nil {
				err = fmt.Errorf("key id: %w", err)
			}
			return n, absent, err
		},
		func(b []byte, opt bool) (int, bool, error) {
			a.Other = []AlgorithmIdentifier{}
			n, absent, err := decodeSeqOf(b, 1, classContext, opt, func(b []byte) (int, error) {
				alg, n, err := decodeAlgorithm(b)
				if err == nil {
					a.Other = append(a.Other, alg)
				}
				return n, err
			})
			a.HasOther = !absent && err == nil
			if err != nil {
				err = fmt.Errorf("other algorithms: %w", err)
			}
			return n, absent, err
		},
	}, []bool{false, false, false, false, false})
	if err != nil {
		return nil, 0, err
	}
	if !a.HasTrust {
		a.Trust = nil
	}
	if !a.HasReject {
		a.Reject = nil
	}
	if !a.HasOther {
		a.Other = nil
	}
	return a, n, nil
}

// Marshal is the DER of the trust data. Decoding it gives a back.
func (a *Aux) Marshal() []byte {
	var body []byte
	list := func(first byte, tag int, oids []RawOID) {
		var c []byte
		for _, o := range oids {
			c = appendDER(c, 0, asn1.TagOID, o)
		}
		body = appendDER(body, first, tag, c)
	}
	if a.HasTrust {
		list(0x20, asn1.TagSequence, a.Trust)
	}
	if a.HasReject {
		list(0xa0, 0, a.Reject)
	}
	if a.HasAlias {
		body = appendDER(body, 0, asn1.TagUTF8String, a.Alias)
	}
	if a.HasKeyID {
		body = appendDER(body, 0, asn1.TagOctetString, a.KeyID)
	}
	if a.HasOther {
		var c []byte
		for _, alg := range a.Other {
			in := appendDER(nil, 0, asn1.TagOID, alg.Algorithm)
			in = append(in, alg.Parameters...)
			c = appendDER(c, 0x20, asn1.TagSequence, in)
		}
		body = appendDER(body, 0xa0, 1, c)
	}
	return appendDER(nil, 0x20, asn1.TagSequence, body)
}

// TrustFor is what OpenSSL concludes from the trust data for a certificate
// (obj_trust in x509_trust.c): a purpose listed in the reject list, or
// anyExtendedKeyUsage there, is distrusted; else a present trust list trusts
// only what it lists (every purpose for anyExtendedKeyUsage), so an empty one
// trusts nothing; with no trust list a self-signed certificate is trusted for
// every purpose. a nil means no trust data at all.
func (a *Aux) TrustFor(selfSigned bool) Trust {
	if a == nil || (!a.HasTrust && !a.HasReject) {
		if selfSigned {
			return TrustAll()
		}
		return Trust{}
	}
	has := func(list []RawOID, p Purpose) bool {
		want := purposeTable[p].oid
		for _, o := range list {
			if o.Equal(want) || o.Equal(oidAnyEKU) {
				return true
			}
		}
		return false
	}
	var t Trust
	for _, p := range Purposes {
		switch {
		case has(a.Reject, p):
			t[p] = Distrusted
		case a.HasTrust:
			if has(a.Trust, p) {
				t[p] = Trusted
			}
		case selfSigned:
			t[p] = Trusted
		}
	}
	return t
}

// AuxFor is trust data that says t: trusted purposes in the trust list,
// distrusted ones in the reject list (present lists only when non-empty,
// as openssl x509 -addtrust/-addreject writes them), and the alias if not
// empty.
func AuxFor(t Trust, alias string) *Aux {
	a := &Aux{}
	for _, p := range Purposes {
		switch t[p] {
		case Trusted:
			a.HasTrust, a.Trust = true, append(a.Trust, purposeTable[p].oid)
		case Distrusted:
			a.HasReject, a.Reject = true, append(a.Reject, purposeTable[p].oid)
		}
	}
	if alias != "" {
		a.HasAlias, a.Alias = true, []byte(alias)
	}
	return a
}
