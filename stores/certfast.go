package stores

import (
	"encoding/asn1"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// This file reads the parts of a certificate parseRaw and nameString read,
// for the certificates nearly every store holds, with cryptobyte instead of
// encoding/asn1's reflection: several times faster and with far less
// garbage. Each fast reader accepts a subset of what the encoding/asn1 code
// accepts and returns false for anything else, which that code then reads;
// where it reads something, the result is the one the encoding/asn1 code
// gives (the differential tests in certfast_test.go hold it to that).

// certFields are the parts of a certificate parseRaw reads.
type certFields struct {
	serial, issuer, subject []byte // whole elements: tag, length and content
	// version is the version field as encoded (0 for v1, 2 for v3; 0 when
	// absent).
	version             int64
	notBefore, notAfter time.Time
	// For parseFast: the signature algorithm (inside and outside the
	// TBSCertificate), the public key's content and the TBSCertificate after
	// it (unique ids and extensions), all as read.
	sigAlg, outerSigAlg, spki, tail cryptobyte.String
}

// readFields reads what parseRaw reads, from a certificate in strict DER whose
// every element is where RFC 5280 puts it and whose times are canonical;
// false for anything else (parseRaw, more lenient, reads it then). Where it
// reads a certificate, encoding/asn1 reads the same values from it: it
// accepts a subset of what parseRaw accepts.
func readFields(der []byte) (certFields, bool) {
	var f certFields
	s := cryptobyte.String(der)
	var cert, tbs, validity, serial, issuer, subject cryptobyte.String
	if !s.ReadASN1(&cert, cbasn1.SEQUENCE) || !s.Empty() ||
		!cert.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return f, false
	}
	var version cryptobyte.String
	var hasVersion bool
	if !tbs.ReadOptionalASN1(&version, &hasVersion, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return f, false
	}
	if hasVersion && (!version.ReadASN1Int64WithTag(&f.version, cbasn1.INTEGER) || !version.Empty()) {
		return f, false
	}
	if !tbs.ReadASN1Element(&serial, cbasn1.INTEGER) ||
		!tbs.ReadASN1Element(&f.sigAlg, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&issuer, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1(&validity, cbasn1.SEQUENCE) ||
		!readTime(&validity, &f.notBefore) || !readTime(&validity, &f.notAfter) || !validity.Empty() ||
		!tbs.ReadASN1Element(&subject, cbasn1.SEQUENCE) {
		return f, false
	}
	// The rest of the TBSCertificate: the public key (a SEQUENCE of
	// elements, which encoding/asn1 reads one by one) and the optional parts.
	if !tbs.ReadASN1(&f.spki, cbasn1.SEQUENCE) || !wellFormed(f.spki) || !wellFormed(tbs) {
		return f, false
	}
	var sig asn1.BitString
	if !cert.ReadASN1Element(&f.outerSigAlg, cbasn1.SEQUENCE) || !cert.ReadASN1BitString(&sig) || !cert.Empty() {
		return f, false
	}
	f.serial, f.issuer, f.subject, f.tail = serial, issuer, subject, tbs
	return f, true
}

// wellFormed reports whether s is a run of DER elements with one-byte tags.
func wellFormed(s cryptobyte.String) bool {
	for !s.Empty() {
		if s[0]&0x1f == 0x1f {
			return false // a high tag number: left to encoding/asn1
		}
		var x cryptobyte.String
		var tag cbasn1.Tag
		if !s.ReadAnyASN1Element(&x, &tag) {
			return false
		}
	}
	return true
}

// readTime reads a UTCTime of the form YYMMDDHHMMSSZ or a GeneralizedTime of
// the form YYYYMMDDHHMMSSZ, the forms RFC 5280 requires (and the only ones
// for which cryptobyte and encoding/asn1 are known to agree), of a date and
// time that exist. It reads them as cryptobyte does (a UTCTime's year 50 to
// 99 is 1950 to 1999), without the garbage of time.Parse and the
// rendering cryptobyte compares the text with.
func readTime(s *cryptobyte.String, out *time.Time) bool {
	var body cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&body, &tag) {
		return false
	}
	var year int
	switch {
	case tag == cbasn1.UTCTime && len(body) == 13 && body[12] == 'Z':
		yy, ok := twoDigits(body, 0)
		if !ok {
			return false
		}
		year = 2000 + yy
		if yy >= 50 {
			year = 1900 + yy
		}
		body = body[2:]
	case tag == cbasn1.GeneralizedTime && len(body) == 15 && body[14] == 'Z':
		hi, ok1 := twoDigits(body, 0)
		lo, ok2 := twoDigits(body, 2)
		if !ok1 || !ok2 {
			return false
		}
		year = hi*100 + lo
		body = body[4:]
	default:
		return false
	}
	month, ok1 := twoDigits(body, 0)
	day, ok2 := twoDigits(body, 2)
	hour, ok3 := twoDigits(body, 4)
	minute, ok4 := twoDigits(body, 6)
	sec, ok5 := twoDigits(body, 8)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || month < 1 || month > 12 || day < 1 ||
		hour > 23 || minute > 59 || sec > 59 {
		return false
	}
	if t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC); t.Day() == day {
		*out = t // the day exists in the month (time.Date does not move it on)
		return true
	}
	return false
}

// twoDigits reads the decimal number in b[i:i+2].
func twoDigits(b []byte, i int) (int, bool) {
	h, l := b[i], b[i+1]
	if h < '0' || h > '9' || l < '0' || l > '9' {
		return 0, false
	}
	return int(h-'0')*10 + int(l-'0'), true
}

// simpleAttributes are the attributes simpleName names: the subject
// attributes of crypto/x509/pkix's table, by the last byte of their OID
// 2.5.4.N (pkix.RDNSequence.String's names).
var simpleAttributes = [...]string{3: "CN", 5: "SERIALNUMBER", 6: "C", 7: "L", 8: "ST", 9: "STREET", 10: "O", 11: "OU", 17: "POSTALCODE"}

// simpleName is nameString for a Name whose attributes are all in
// simpleAttributes with values in PrintableString, UTF8String or IA5String;
// false for any other Name. It renders the name exactly as
// pkix.RDNSequence.String does.
func simpleName(der []byte) (string, bool) {
	s, _, ok := readSimpleName(der, true)
	return s, ok
}

// readSimpleName checks that der is a Name simpleName reads and, when render
// is set, renders it and returns its last common name as crypto/x509's
// pkix.Name.CommonName has it (the last CN attribute in the order of the
// DER). The common name shares the rendering's bytes when it needed no
// escaping, so that a name costs one string. Without render it allocates
// nothing.
func readSimpleName(der []byte, render bool) (name, cn string, ok bool) {
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return "", "", false
	}
	// The RDNs, to be written last first.
	var rdns [16]cryptobyte.String
	n := 0
	for !seq.Empty() {
		var set cryptobyte.String
		if n == len(rdns) || !seq.ReadASN1(&set, cbasn1.SET) || set.Empty() {
			return "", "", false
		}
		rdns[n] = set
		n++
	}
	if n == 0 {
		return "(empty subject)", "", true
	}
	var b strings.Builder
	if render {
		b.Grow(len(der))
	}
	// The last common name: in the last RDN that has one (the first one
	// written), its last. Either a range of the rendering or, when escaped,
	// the value.
	cnRDN, cnStart, cnEnd := -1, 0, 0
	var cnValue []byte
	for i := n - 1; i >= 0; i-- {
		if render && i < n-1 {
			b.WriteByte(',')
		}
		set := rdns[i]
		for j := 0; !set.Empty(); j++ {
			var atv, oid, value cryptobyte.String
			var tag cbasn1.Tag
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) || !atv.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
				!atv.ReadAnyASN1(&value, &tag) || !atv.Empty() {
				return "", "", false
			}
			if len(oid) != 3 || oid[0] != 0x55 || oid[1] != 0x04 || int(oid[2]) >= len(simpleAttributes) || simpleAttributes[oid[2]] == "" {
				return "", "", false
			}
			if !simpleString(tag, value) {
				return "", "", false
			}
			if !render {
				continue
			}
			if j > 0 {
				b.WriteByte('+')
			}
			b.WriteString(simpleAttributes[oid[2]])
			b.WriteByte('=')
			start := b.Len()
			escaped := writeEscaped(&b, value)
			if oid[2] == 3 && (cnRDN == -1 || cnRDN == i) {
				cnRDN, cnStart, cnEnd, cnValue = i, start, b.Len(), nil
				if escaped {
					cnValue = value
				}
			}
		}
	}
	if !render {
		return "", "", true
	}
	name = b.String()
	switch {
	case cnRDN == -1:
	case cnValue != nil:
		cn = string(cnValue)
	default:
		cn = name[cnStart:cnEnd]
	}
	return name, cn, true
}

// simpleString reports whether value is a string encoding/asn1 decodes to
// its bytes unchanged: a PrintableString (with the '*' and '&' it
// tolerates), an ASCII IA5String or valid UTF8String.
func simpleString(tag cbasn1.Tag, value []byte) bool {
	switch tag {
	case cbasn1.PrintableString:
		for _, c := range value {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
				'\'' <= c && c <= ')' || '+' <= c && c <= '/' ||
				c == ' ' || c == ':' || c == '=' || c == '?' || c == '*' || c == '&') {
				return false
			}
		}
		return true
	case cbasn1.IA5String:
		for _, c := range value {
			if c >= utf8.RuneSelf {
				return false
			}
		}
		return true
	case cbasn1.UTF8String:
		return utf8.Valid(value)
	}
	return false
}

// writeEscaped writes v, valid UTF-8, as pkix.RDNSequence.String escapes a
// value and reports whether it escaped anything.
func writeEscaped(b *strings.Builder, v []byte) (escaped bool) {
	for k := 0; k < len(v); {
		_, size := utf8.DecodeRune(v[k:])
		escape := false
		switch v[k] {
		case ',', '+', '"', '\\', '<', '>', ';':
			escape = true
		case ' ':
			escape = k == 0 || k == len(v)-1
		case '#':
			escape = k == 0
		}
		if escape {
			b.WriteByte('\\')
			escaped = true
		}
		b.Write(v[k : k+size])
		k += size
	}
	return escaped
}
