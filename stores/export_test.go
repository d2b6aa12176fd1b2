package stores

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"reflect"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// FastFieldsAgree reports whether readFields reads der and, if it does,
// what it reads differently from parseRaw ("" when nothing).
func FastFieldsAgree(der []byte) (read bool, diff string) {
	f, ok := readFields(der)
	if !ok {
		return false, ""
	}
	raw, err := parseRaw(der)
	if err != nil {
		return true, fmt.Sprintf("parseRaw refuses it: %v", err)
	}
	t := raw.TBS
	switch {
	case !bytes.Equal(f.serial, t.Serial.FullBytes):
		return true, fmt.Sprintf("serial %x, parseRaw %x", f.serial, t.Serial.FullBytes)
	case !bytes.Equal(f.issuer, t.Issuer.FullBytes):
		return true, fmt.Sprintf("issuer %x, parseRaw %x", f.issuer, t.Issuer.FullBytes)
	case !bytes.Equal(f.subject, t.Subject.FullBytes):
		return true, fmt.Sprintf("subject %x, parseRaw %x", f.subject, t.Subject.FullBytes)
	case !f.notBefore.Equal(t.Validity.NotBefore) || f.notBefore.Location().String() != t.Validity.NotBefore.Location().String():
		return true, fmt.Sprintf("not before %v, parseRaw %v", f.notBefore, t.Validity.NotBefore)
	case !f.notAfter.Equal(t.Validity.NotAfter) || f.notAfter.Location().String() != t.Validity.NotAfter.Location().String():
		return true, fmt.Sprintf("not after %v, parseRaw %v", f.notAfter, t.Validity.NotAfter)
	}
	return true, ""
}

// FastNameAgrees reports whether simpleName reads the Name der and, if it
// does, how its rendering differs from the encoding/asn1 one ("" when not).
func FastNameAgrees(der []byte) (read bool, diff string) {
	s, ok := simpleName(der)
	if !ok {
		return false, ""
	}
	want := nameStringASN1(der)
	if s != want {
		return true, fmt.Sprintf("%q, encoding/asn1 %q", s, want)
	}
	return true, ""
}

// SharedPut records c in the table of Certificates in use, as
// ParseCertificate does, and returns the one the table keeps.
func SharedPut(c *Certificate) *Certificate { return shared.put(c) }

// FastParseAgrees reports whether parseFast reads der and, if it does, how
// its Certificate differs from the lenient parser's (the general path,
// forced) or from what crypto/x509 reads ("" when not at all).
func FastParseAgrees(der []byte) (read bool, diff string) {
	c := FastParse(der)
	if c == nil {
		return false, ""
	}
	if n := reflect.TypeFor[Certificate]().NumField(); n != 12 {
		return true, fmt.Sprintf("Certificate has %d fields, this comparison knows 12", n)
	}
	x, err := x509.ParseCertificate(der)
	if err != nil {
		return true, fmt.Sprintf("crypto/x509 refuses it: %v", err)
	}
	if isCA := (x.BasicConstraintsValid && x.IsCA) || (x.Version < 3 && c.SelfIssued); c.IsCA != isCA || c.CN != x.Subject.CommonName {
		return true, fmt.Sprintf("CA %v CN %q, crypto/x509 %v %q", c.IsCA, c.CN, isCA, x.Subject.CommonName)
	}
	f, _ := readFields(der)
	g := parseGeneral(der, &f, c.Fingerprint)
	switch {
	case c.ParseError != nil:
		return true, fmt.Sprintf("parse error %v", c.ParseError)
	case g.ParseError != nil:
		return true, fmt.Sprintf("the lenient parser refuses it: %v", g.ParseError)
	case !bytes.Equal(c.DER, g.DER) || c.Fingerprint != g.Fingerprint:
		return true, "DER or fingerprint"
	case !bytes.Equal(c.RawSubject, g.RawSubject) || !bytes.Equal(c.RawIssuer, g.RawIssuer) || !bytes.Equal(c.RawSerial, g.RawSerial):
		return true, "raw subject, issuer or serial"
	case c.Subject != g.Subject || c.CN != g.CN:
		return true, fmt.Sprintf("subject %q CN %q, lenient %q %q", c.Subject, c.CN, g.Subject, g.CN)
	case !c.NotBefore.Equal(g.NotBefore) || !c.NotAfter.Equal(g.NotAfter) ||
		c.NotBefore.Location().String() != g.NotBefore.Location().String() || c.NotAfter.Location().String() != g.NotAfter.Location().String():
		return true, fmt.Sprintf("validity %v-%v, lenient %v-%v", c.NotBefore, c.NotAfter, g.NotBefore, g.NotAfter)
	case c.IsCA != g.IsCA || c.SelfIssued != g.SelfIssued:
		return true, fmt.Sprintf("CA %v self-issued %v, lenient %v %v", c.IsCA, c.SelfIssued, g.IsCA, g.SelfIssued)
	}
	return true, ""
}

// FastParse is parseFast's Certificate for der, nil when readFields or
// parseFast leaves der to the general path.
func FastParse(der []byte) *Certificate {
	f, ok := readFields(der)
	if !ok {
		return nil
	}
	return parseFast(der, &f, FingerprintOf(der))
}

// FastParser returns parseFast for der, its fields read once beforehand,
// so that a test can count what parseFast alone allocates.
func FastParser(der []byte) func() *Certificate {
	f, _ := readFields(der)
	fp := FingerprintOf(der)
	return func() *Certificate { return parseFast(der, &f, fp) }
}

// FastTimeAgrees reports whether readTime reads the UTCTime or
// GeneralizedTime element el and, if it does, how it differs from
// cryptobyte's reading and encoding/asn1's ("" when not at all).
func FastTimeAgrees(el []byte) (read bool, diff string) {
	in := cryptobyte.String(el)
	var got time.Time
	if !readTime(&in, &got) {
		return false, ""
	}
	var want time.Time
	c := cryptobyte.String(el)
	ok := c.ReadASN1UTCTime(&want)
	if !ok {
		c = cryptobyte.String(el)
		ok = c.ReadASN1GeneralizedTime(&want)
	}
	switch {
	case !in.Empty():
		return true, "left bytes unread"
	case !ok:
		return true, "cryptobyte refuses it"
	case got != want:
		return true, fmt.Sprintf("%v, cryptobyte %v", got, want)
	}
	var a time.Time
	if rest, err := asn1.Unmarshal(el, &a); err != nil || len(rest) > 0 {
		return true, fmt.Sprintf("encoding/asn1 refuses it: %v", err)
	}
	if !a.Equal(got) || a.Location().String() != got.Location().String() {
		return true, fmt.Sprintf("%v, encoding/asn1 %v", got, a)
	}
	return true, ""
}

// OnCurve is onCurve: whether point is an uncompressed point on the curve
// of the object identifier curve (DER content).
func OnCurve(curve, point []byte) bool { return onCurve(curve, point) }

// ParseUnshared is ParseCertificate without the table of Certificates in
// use: every call parses der.
func ParseUnshared(der []byte) (*Certificate, error) {
	return parseCertificate(der, FingerprintOf(der))
}

// PlainBlockAgrees reports whether appendPlainBlock decodes the block raw
// and, if it does, how it differs from encoding/pem ("" when not at all).
func PlainBlockAgrees(raw []byte, label string) (read bool, diff string) {
	got, ok := appendPlainBlock(nil, raw, label)
	if !ok {
		return false, ""
	}
	p, _ := pem.Decode(raw)
	switch {
	case p == nil:
		return true, "encoding/pem finds no block"
	case p.Type != label:
		return true, fmt.Sprintf("encoding/pem reads a %q block", p.Type)
	case len(p.Headers) > 0:
		return true, "encoding/pem reads headers"
	case !bytes.Equal(p.Bytes, got):
		return true, fmt.Sprintf("bytes %x, encoding/pem %x", got, p.Bytes)
	}
	return true, ""
}

// DecodeCertBlock decodes the certificate block raw (labelled label) with
// the reused buffer *scratch, as ScanPEM's decoders do.
func DecodeCertBlock(label string, raw []byte, scratch *[]byte) (*PEMBlock, error) {
	b := &PEMBlock{Label: label}
	return b, decodeCertBlock(b, raw, scratch)
}
