package stores

import (
	"errors"
	"math"
)

// This file reads BER the way OpenSSL's ASN.1 decoder does (crypto/asn1
// asn1_lib.c ASN1_get_object, tasn_dec.c asn1_check_tlen, asn1_collect,
// asn1_find_end), so that the trust data of a TRUSTED CERTIFICATE block is
// accepted exactly when OpenSSL accepts it: definite lengths in long form
// with leading zeros, indefinite lengths on constructed values, constructed
// strings. It serves X509_AUX only; certificates are read as DER.

// ASN.1 classes as they appear in the first octet.
const (
	classUniversal   = 0x00
	classContext     = 0x80
	anyTag           = -1 // match any tag and class
	maxStringNesting = 5  // ASN1_MAX_STRING_NEST
)

var (
	errBERHeader     = errors.New("bad ASN.1 header")
	errBERTooLong    = errors.New("ASN.1 value longer than its container")
	errBERWrongTag   = errors.New("wrong ASN.1 tag")
	errBERUnexpected = errors.New("unexpected end-of-contents")
	errBERMissingEOC = errors.New("missing end-of-contents")
	errBERNesting    = errors.New("constructed string nested too deeply")
)

// berHeader is one decoded identifier and length.
type berHeader struct {
	class       byte
	tag         int
	constructed bool
	indefinite  bool
	hdrLen      int
	// length is the content length; for an indefinite length, everything
	// after the header in the buffer (as OpenSSL counts it).
	length int
}

// berGetObject is ASN1_GET_OBJECT: it reads the header at the start of b and
// fails for a header OpenSSL calls bad, or a definite length running past b.
func berGetObject(b []byte) (berHeader, error) {
	var h berHeader
	max := len(b)
	if max == 0 {
		return h, errBERHeader
	}
	p := 0
	h.constructed = b[0]&0x20 != 0
	h.class = b[0] & 0xc0
	if t := b[0] & 0x1f; t == 0x1f {
		p++
		if max--; max == 0 {
			return h, errBERHeader
		}
		l := 0
		for b[p]&0x80 != 0 {
			l = l<<7 | int(b[p]&0x7f)
			p++
			if max--; max == 0 {
				return h, errBERHeader
			}
			if l > math.MaxInt32>>7 {
				return h, errBERHeader
			}
		}
		l = l<<7 | int(b[p]&0x7f)
		p++
		h.tag = l
		if max--; max == 0 {
			return h, errBERHeader
		}
	} else {
		h.tag = int(t)
		p++
		if max--; max == 0 {
			return h, errBERHeader
		}
	}
	// asn1_get_length
	max-- // the first length octet
	if b[p] == 0x80 {
		h.indefinite = true
		p++
	} else {
		n := int(b[p] & 0x7f)
		long := b[p]&0x80 != 0
		p++
		if long {
			if max < n+1 {
				return h, errBERHeader
			}
			for n > 0 && b[p] == 0 {
				p++
				n--
			}
			if n > 8 {
				return h, errBERHeader
			}
			var v uint64
			for ; n > 0; n-- {
				v = v<<8 | uint64(b[p])
				p++
			}
			if v > math.MaxInt64 {
				return h, errBERHeader
			}
			if v > uint64(len(b)-p) {
				return h, errBERTooLong
			}
			h.length = int(v)
		} else {
			h.length = n
		}
	}
	if h.indefinite && !h.constructed {
		return h, errBERHeader
	}
	if !h.indefinite && h.length > len(b)-p {
		return h, errBERTooLong
	}
	h.hdrLen = p
	if h.indefinite {
		h.length = len(b) - p
	}
	return h, nil
}

// berCheck is asn1_check_tlen: it reads a header and, when tag is not
// anyTag, checks tag and class. absent is true (and err nil) when optional is
// set and the tag does not match.
func berCheck(b []byte, tag int, class byte, optional bool) (h berHeader, absent bool, err error) {
	h, err = berGetObject(b)
	if err != nil {
		return h, false, err
	}
	if tag != anyTag && (h.tag != tag || h.class != class) {
		if optional {
			return h, true, nil
		}
		return h, false, errBERWrongTag
	}
	return h, false, nil
}

// berEOC reports whether b starts with an end-of-contents marker.
func berEOC(b []byte) bool { return len(b) >= 2 && b[0] == 0 && b[1] == 0 }

// berCollect is asn1_collect: it gathers the content octets of a
// constructed string (any inner tags, nested up to five levels) and returns
// them and the number of bytes of b read, b being the content after the
// header.
func berCollect(b []byte, indefinite bool, depth int) ([]byte, int, error) {
	var out []byte
	p := 0
	for p < len(b) {
		if berEOC(b[p:]) {
			if !indefinite {
				return nil, 0, errBERUnexpected
			}
			p += 2
			indefinite = false
			break
		}
		h, _, err := berCheck(b[p:], anyTag, 0, false)
		if err != nil {
			return nil, 0, err
		}
		p += h.hdrLen
		if h.constructed {
			if depth >= maxStringNesting {
				return nil, 0, errBERNesting
			}
			inner, n, err := berCollect(b[p:p+h.length], h.indefinite, depth+1)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, inner...)
			p += n
		} else {
			out = append(out, b[p:p+h.length]...)
			p += h.length
		}
	}
	if indefinite {
		return nil, 0, errBERMissingEOC
	}
	return out, p, nil
}

// berFindEnd is asn1_find_end: the number of bytes of b (the content after
// an indefinite-length header) up to and including the matching
// end-of-contents.
func berFindEnd(b []byte) (int, error) {
	expected := 1
	p := 0
	for p < len(b) {
		if berEOC(b[p:]) {
			expected--
			p += 2
			if expected == 0 {
				return p, nil
			}
			continue
		}
		h, _, err := berCheck(b[p:], anyTag, 0, false)
		if err != nil {
			return 0, err
		}
		p += h.hdrLen
		if h.indefinite {
			expected++
		} else {
			p += h.length
		}
	}
	return 0, errBERMissingEOC
}

// appendDER appends a definite-length DER header and content.
func appendDER(out []byte, first byte, tag int, content []byte) []byte {
	if tag < 0x1f {
		out = append(out, first|byte(tag))
	} else {
		out = append(out, first|0x1f)
		var t []byte
		for v := tag; ; v >>= 7 {
			t = append([]byte{byte(v & 0x7f)}, t...)
			if v < 0x80 {
				break
			}
		}
		for i := 0; i < len(t)-1; i++ {
			t[i] |= 0x80
		}
		out = append(out, t...)
	}
	n := len(content)
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	default:
		var l []byte
		for v := n; v > 0; v >>= 8 {
			l = append([]byte{byte(v)}, l...)
		}
		out = append(out, 0x80|byte(len(l)))
		out = append(out, l...)
	}
	return append(out, content...)
}
