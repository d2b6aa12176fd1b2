// Package namehash computes OpenSSL's subject-name hashes natively: the
// HHHHHHHH in the HHHHHHHH.N links of a hashed certificate directory
// (openssl x509 -subject_hash, -CApath lookups, openssl rehash) and the older
// MD5 form (-subject_hash_old). It works from a Name's raw DER, never through
// crypto/x509, and follows OpenSSL's canonicalisation byte for byte, including
// the names OpenSSL refuses. It does no I/O.
package namehash

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"
)

// ErrRefused is wrapped by every error for a name that OpenSSL refuses to
// decode: a certificate with such a subject cannot be loaded by OpenSSL at all.
var ErrRefused = errors.New("openssl refuses this name")

// ASN.1 universal tags that matter here.
const (
	tagBitString       = 3
	tagOID             = 6
	tagUTF8String      = 12
	tagSequence        = 16
	tagSet             = 17
	tagNumericString   = 18
	tagPrintableString = 19
	tagT61String       = 20
	tagIA5String       = 22
	tagUniversalString = 28
	tagBMPString       = 30
)

// accepted lists the universal tags OpenSSL's Name decoder takes as an
// attribute value (B_ASN1_PRINTABLE: the string types, BIT STRING, SEQUENCE,
// and the tags it calls "unknown"). Everything else, including
// VisibleString, GraphicString, GeneralString, VideotexString, OCTET STRING,
// the time types, INTEGER and ENUMERATED, is refused.
var accepted = map[int]string{
	tagBitString:       "BIT STRING",
	7:                  "ObjectDescriptor",
	8:                  "EXTERNAL",
	9:                  "REAL",
	11:                 "EMBEDDED PDV",
	tagUTF8String:      "UTF8String",
	13:                 "RELATIVE-OID",
	14:                 "TIME",
	15:                 "tag 15",
	tagSequence:        "SEQUENCE",
	tagNumericString:   "NumericString",
	tagPrintableString: "PrintableString",
	tagT61String:       "T61String",
	tagIA5String:       "IA5String",
	tagUniversalString: "UniversalString",
	29:                 "CHARACTER STRING",
	tagBMPString:       "BMPString",
}

// canonicalised lists the tags whose values are converted to lower-cased,
// whitespace-folded UTF-8 (ASN1_MASK_CANON); the other accepted tags are
// copied unchanged. bytesPerChar is how the value is read: 1 = Latin-1,
// 2 = UCS-2, 4 = UCS-4, 0 = UTF-8.
var canonicalised = map[int]int{
	tagUTF8String:      0,
	tagPrintableString: 1,
	tagT61String:       1,
	tagIA5String:       1,
	tagUniversalString: 4,
	tagBMPString:       2,
}

// SubjectHash is OpenSSL's subject-name hash (X509_NAME_hash_ex) of a DER
// Name: the first four bytes of the SHA-1 of its canonical form, read
// little-endian. It fails, wrapping ErrRefused, for names OpenSSL refuses.
func SubjectHash(rawName []byte) (uint32, error) {
	var buf [256]byte
	c, ok := appendPlainCanonical(buf[:0], rawName)
	if !ok {
		var err error
		if c, err = Canonical(rawName); err != nil {
			return 0, err
		}
	}
	sum := sha1.Sum(c)
	return binary.LittleEndian.Uint32(sum[:4]), nil
}

// CheckNames says why OpenSSL cannot load a certificate with these subject
// and issuer names (DER), or returns nil. OpenSSL canonicalises both names
// while it decodes a certificate and refuses the certificate when either
// fails; the error wraps ErrRefused and says which name.
func CheckNames(rawSubject, rawIssuer []byte) error {
	if plainName(rawSubject) && plainName(rawIssuer) {
		return nil
	}
	if _, err := Canonical(rawSubject); err != nil {
		return fmt.Errorf("subject: %w", err)
	}
	if _, err := Canonical(rawIssuer); err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	return nil
}

// plainName reports, without building anything, whether a Name is of the
// kind nearly every certificate has and Canonical always accepts: well-formed
// RDN SETs of attribute SEQUENCEs whose types are well-formed OIDs and whose
// values are primitive PrintableStrings, IA5Strings or UTF8Strings of ASCII
// characters. Any other name is left to Canonical to judge; plain is a fast
// path for CheckNames, never a verdict of its own.
func plainName(rawName []byte) bool {
	name, rest, err := readTLV(rawName)
	if err != nil || len(rest) > 0 || name.tag != tagSequence || !name.constructed || name.class != 0 {
		return false
	}
	for body := name.content; len(body) > 0; {
		rdn, r, err := readTLV(body)
		if err != nil || rdn.tag != tagSet || !rdn.constructed || rdn.class != 0 {
			return false
		}
		body = r
		for atvs := rdn.content; len(atvs) > 0; {
			atv, r, err := readTLV(atvs)
			if err != nil || !plainATV(atv) {
				return false
			}
			atvs = r
		}
	}
	return true
}

// plainATV is plainName's test of one AttributeTypeAndValue.
func plainATV(atv tlv) bool {
	if atv.tag != tagSequence || !atv.constructed || atv.class != 0 {
		return false
	}
	oid, rest, err := readTLV(atv.content)
	if err != nil || oid.tag != tagOID || oid.constructed || oid.class != 0 || checkOID(oid.content) != nil {
		return false
	}
	val, rest, err := readTLV(rest)
	if err != nil || len(rest) > 0 || val.class != 0 || val.constructed {
		return false
	}
	switch val.tag {
	case tagPrintableString, tagIA5String, tagUTF8String:
	default:
		return false
	}
	for _, c := range val.content {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// appendPlainCanonical appends to dst the canonical form of a name that
// plainName accepts and whose RDNs hold at most one attribute each (nearly
// every certificate's name), built in place without allocating: ok is false
// for any other name, whose form Canonical builds. For such a name the
// canonical form is, for each non-empty RDN, SET { SEQUENCE { the OID, the
// value as a UTF8String trimmed, folded and lower-cased } }: ASCII values
// are their own UTF-8, and one member needs no sorting.
func appendPlainCanonical(dst, rawName []byte) ([]byte, bool) {
	if !plainName(rawName) {
		return dst, false
	}
	name, _, _ := readTLV(rawName)
	for body := name.content; len(body) > 0; {
		rdn, rest, _ := readTLV(body)
		body = rest
		if len(rdn.content) == 0 {
			continue // empty RDNs disappear
		}
		atv, others, _ := readTLV(rdn.content)
		if len(others) > 0 {
			return dst, false // several attributes: Canonical sorts them
		}
		oid, rest, _ := readTLV(atv.content)
		val, _, _ := readTLV(rest)
		folded := foldedLen(val.content)
		seq := tlvLen(len(oid.content)) + tlvLen(folded)
		dst = appendHeader(dst, 0x31, tlvLen(seq))
		dst = appendHeader(dst, 0x30, seq)
		dst = appendHeader(dst, tagOID, len(oid.content))
		dst = append(dst, oid.content...)
		dst = appendHeader(dst, tagUTF8String, folded)
		dst = appendFold(dst, val.content)
	}
	return dst, true
}

// SubjectHashOld is the hash OpenSSL used before 1.0 (X509_NAME_hash_old):
// the first four bytes of the MD5 of the Name's DER as given, read
// little-endian. It never fails: it does not look inside the name.
func SubjectHashOld(rawName []byte) uint32 {
	sum := md5.Sum(rawName)
	return binary.LittleEndian.Uint32(sum[:4])
}

// Hex formats a hash the way OpenSSL prints it and names links: eight
// lower-case hex digits.
func Hex(h uint32) string { return fmt.Sprintf("%08x", h) }

// Canonical returns OpenSSL's canonical encoding of a DER Name (what
// x509_name_canon builds): every RDN re-encoded as a DER SET with its members
// sorted, the RDNs concatenated without the outer SEQUENCE, empty RDNs
// dropped, and string values converted to UTF-8, trimmed of ASCII
// whitespace, with inner runs folded to one space and A-Z lower-cased.
func Canonical(rawName []byte) ([]byte, error) {
	name, rest, err := readTLV(rawName)
	if err != nil {
		return nil, refused("name: %v", err)
	}
	if len(rest) > 0 {
		return nil, refused("name: %d bytes after the end", len(rest))
	}
	if name.tag != tagSequence || !name.constructed || name.class != 0 {
		return nil, refused("name is not a SEQUENCE")
	}
	var out []byte
	body := name.content
	for i := 1; len(body) > 0; i++ {
		rdn, r, err := readTLV(body)
		if err != nil {
			return nil, refused("rdn %d: %v", i, err)
		}
		body = r
		if rdn.tag != tagSet || !rdn.constructed || rdn.class != 0 {
			return nil, refused("rdn %d is not a SET", i)
		}
		var members [][]byte
		atvs := rdn.content
		for j := 1; len(atvs) > 0; j++ {
			atv, r, err := readTLV(atvs)
			if err != nil {
				return nil, refused("rdn %d attribute %d: %v", i, j, err)
			}
			atvs = r
			m, err := canonATV(atv)
			if err != nil {
				return nil, refused("rdn %d attribute %d: %v", i, j, err)
			}
			members = append(members, m)
		}
		if len(members) == 0 {
			continue // empty RDNs disappear
		}
		sort.Slice(members, func(a, b int) bool { return bytes.Compare(members[a], members[b]) < 0 })
		out = appendTLV(out, 0x31, bytes.Join(members, nil))
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

// canonATV canonicalises one AttributeTypeAndValue and returns its DER.
func canonATV(atv tlv) ([]byte, error) {
	if atv.tag != tagSequence || !atv.constructed || atv.class != 0 {
		return nil, errors.New("not a SEQUENCE")
	}
	oid, rest, err := readTLV(atv.content)
	if err != nil {
		return nil, fmt.Errorf("attribute type: %v", err)
	}
	if oid.tag != tagOID || oid.constructed || oid.class != 0 {
		return nil, errors.New("attribute type is not an OBJECT IDENTIFIER")
	}
	if err := checkOID(oid.content); err != nil {
		return nil, err
	}
	val, rest, err := readTLV(rest)
	if err != nil {
		return nil, fmt.Errorf("attribute value: %v", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("extra data after the attribute value")
	}
	cv, err := canonValue(val)
	if err != nil {
		return nil, err
	}
	body := appendTLV(nil, 0x06, oid.content)
	body = append(body, cv...)
	return appendTLV(nil, 0x30, body), nil
}

// checkOID applies OpenSSL's checks on an OBJECT IDENTIFIER's content.
func checkOID(b []byte) error {
	if len(b) == 0 || b[len(b)-1]&0x80 != 0 {
		return errors.New("malformed attribute type")
	}
	for i, c := range b {
		if c == 0x80 && (i == 0 || b[i-1]&0x80 == 0) {
			return errors.New("malformed attribute type (padded sub-identifier)")
		}
	}
	return nil
}

// canonValue returns the canonical DER of one attribute value.
func canonValue(v tlv) ([]byte, error) {
	if v.class != 0 {
		return nil, fmt.Errorf("attribute value has a non-universal tag (class %d)", v.class)
	}
	typ, ok := accepted[v.tag]
	if !ok {
		return nil, fmt.Errorf("attribute value type %s is not accepted", tagName(v.tag))
	}
	if v.tag == tagSequence {
		if !v.constructed {
			return nil, errors.New("attribute value SEQUENCE is not constructed")
		}
		return v.full, nil // kept in its encoded form
	}
	content := v.content
	if v.constructed {
		var err error
		if content, err = collect(v.content, 0); err != nil {
			return nil, fmt.Errorf("constructed %s: %v", typ, err)
		}
	}
	switch v.tag {
	case tagBMPString:
		if len(content)%2 != 0 {
			return nil, errors.New("BMPString has an odd length")
		}
	case tagUniversalString:
		if len(content)%4 != 0 {
			return nil, errors.New("UniversalString length is not a multiple of 4")
		}
	case tagBitString:
		return canonBitString(content)
	}
	width, canon := canonicalised[v.tag]
	if !canon {
		return appendTLV(nil, byte(v.tag), content), nil
	}
	u, err := toUTF8(content, width)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", typ, err)
	}
	return appendTLV(nil, tagUTF8String, fold(u)), nil
}

// canonBitString re-encodes a BIT STRING the way OpenSSL does after decoding
// it: the unused-bits count is kept and those bits are cleared; an empty bit
// string gets a zero count.
func canonBitString(c []byte) ([]byte, error) {
	if len(c) < 1 {
		return nil, errors.New("BIT STRING is too short")
	}
	unused := c[0]
	if unused > 7 {
		return nil, errors.New("BIT STRING has more than 7 unused bits")
	}
	if len(c) == 1 {
		return []byte{tagBitString, 1, 0}, nil
	}
	out := append([]byte{unused}, c[1:]...)
	out[len(out)-1] &= 0xff << unused
	return appendTLV(nil, tagBitString, out), nil
}

// toUTF8 converts a string value to UTF-8 the way ASN1_STRING_to_UTF8 does,
// refusing what it refuses.
func toUTF8(b []byte, width int) ([]byte, error) {
	var out []byte
	switch width {
	case 1:
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return out, nil
	case 2, 4:
		for i := 0; i < len(b); i += width {
			var r uint32
			for _, c := range b[i : i+width] {
				r = r<<8 | uint32(c)
			}
			if !validCodePoint(r) {
				return nil, fmt.Errorf("invalid character U+%04X", r)
			}
			out = utf8.AppendRune(out, rune(r))
		}
		return out, nil
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return nil, fmt.Errorf("malformed UTF-8 at byte %d", i)
		}
		i += n
	}
	return append(out, b...), nil
}

func validCodePoint(r uint32) bool {
	return r <= 0x10ffff && (r < 0xd800 || r > 0xdfff)
}

// isSpace is OpenSSL's ossl_isspace: ASCII whitespace only.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// fold trims leading and trailing ASCII whitespace, folds inner runs to one
// space and lower-cases A-Z; other bytes are copied.
func fold(b []byte) []byte {
	return appendFold(make([]byte, 0, len(b)), b)
}

// trimSpace trims leading and trailing ASCII whitespace.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// foldedLen is the length of fold(b).
func foldedLen(b []byte) int {
	b = trimSpace(b)
	n := 0
	for i := 0; i < len(b); i++ {
		if !isSpace(b[i]) || !isSpace(b[i-1]) { // b[0] is not a space
			n++
		}
	}
	return n
}

// appendFold appends fold(b) to out.
func appendFold(out, b []byte) []byte {
	b = trimSpace(b)
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case isSpace(c):
			out = append(out, ' ')
			for i < len(b) && isSpace(b[i]) {
				i++
			}
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		out = append(out, c)
		i++
	}
	return out
}

func tagName(tag int) string {
	names := map[int]string{
		0: "tag 0", 1: "BOOLEAN", 2: "INTEGER", 4: "OCTET STRING", 5: "NULL", 6: "OBJECT IDENTIFIER",
		10: "ENUMERATED", 17: "SET", 21: "VideotexString", 23: "UTCTime", 24: "GeneralizedTime",
		25: "GraphicString", 26: "VisibleString", 27: "GeneralString",
	}
	if n, ok := names[tag]; ok {
		return n
	}
	return fmt.Sprintf("tag %d", tag)
}

// tlv is one decoded BER element with a definite length.
type tlv struct {
	class       int
	constructed bool
	tag         int
	content     []byte
	full        []byte
}

// maxDepth bounds the nesting of constructed strings.
const maxDepth = 30

// readTLV reads one element. Like OpenSSL it accepts long-form lengths with
// leading zeros; it refuses indefinite lengths, which never occur in a DER
// certificate.
func readTLV(b []byte) (tlv, []byte, error) {
	var t tlv
	if len(b) < 2 {
		return t, nil, errors.New("truncated element")
	}
	t.class = int(b[0] >> 6)
	t.constructed = b[0]&0x20 != 0
	t.tag = int(b[0] & 0x1f)
	i := 1
	if t.tag == 0x1f {
		t.tag = 0
		for {
			if i >= len(b) || t.tag > 1<<24 {
				return t, nil, errors.New("malformed tag")
			}
			c := b[i]
			i++
			t.tag = t.tag<<7 | int(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return t, nil, errors.New("truncated element")
	}
	l := int(b[i])
	i++
	if l == 0x80 {
		return t, nil, errors.New("indefinite length")
	}
	if l > 0x80 {
		n := l & 0x7f
		if i+n > len(b) {
			return t, nil, errors.New("truncated length")
		}
		l = 0
		for _, c := range b[i : i+n] {
			if l > 1<<28 {
				return t, nil, errors.New("length too large")
			}
			l = l<<8 | int(c)
		}
		i += n
	}
	if l > len(b)-i {
		return t, nil, errors.New("truncated element")
	}
	t.content = b[i : i+l]
	t.full = b[:i+l]
	return t, b[i+l:], nil
}

// collect concatenates the primitive pieces of a constructed string (any
// universal tag inside, as OpenSSL's asn1_collect allows).
func collect(b []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errors.New("nested too deeply")
	}
	out := []byte{}
	for len(b) > 0 {
		t, rest, err := readTLV(b)
		if err != nil {
			return nil, err
		}
		b = rest
		if t.class != 0 {
			return nil, errors.New("piece with a non-universal tag")
		}
		if t.constructed {
			c, err := collect(t.content, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, c...)
			continue
		}
		out = append(out, t.content...)
	}
	return out, nil
}

// appendTLV appends a DER element with a minimal length.
func appendTLV(dst []byte, tag byte, content []byte) []byte {
	return append(appendHeader(dst, tag, len(content)), content...)
}

// tlvLen is the length of a DER element with n bytes of content.
func tlvLen(n int) int {
	switch {
	case n < 0x80:
		return 2 + n
	case n < 0x100:
		return 3 + n
	case n < 0x10000:
		return 4 + n
	case n < 0x1000000:
		return 5 + n
	}
	return 6 + n
}

// appendHeader appends the tag and minimal length of a DER element with n
// bytes of content.
func appendHeader(dst []byte, tag byte, n int) []byte {
	dst = append(dst, tag)
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n < 0x100:
		dst = append(dst, 0x81, byte(n))
	case n < 0x10000:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		dst = append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return dst
}
