package stores

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"weak"

	"crypto/x509/pkix"
	ctx509 "github.com/google/certificate-transparency-go/x509"
)

// Fingerprint is the SHA-256 of a certificate's DER encoding: its identity.
type Fingerprint [32]byte

// FingerprintOf hashes der.
func FingerprintOf(der []byte) Fingerprint { return sha256.Sum256(der) }

// String is the full lower-case hex form.
func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// Short is the first 8 bytes in hex: what people read in a listing.
func (f Fingerprint) Short() string { return hex.EncodeToString(f[:8]) }

// HasPrefix reports whether the hex form starts with prefix (case-insensitive,
// colons ignored), so exclusions can name a certificate by a short fingerprint.
func (f Fingerprint) HasPrefix(prefix string) bool {
	p := strings.ToLower(strings.ReplaceAll(prefix, ":", ""))
	return p != "" && strings.HasPrefix(f.String(), p)
}

// Certificate is one X.509 certificate as rootsync sees it. Everything that
// identifies or names it comes from the raw DER; the lenient parse only adds
// details for display and filtering. A certificate the parser refuses is still a
// Certificate (ParseError says why) and is copied byte-for-byte.
//
// A Certificate keeps only what listing, planning and writing need: the DER
// (RawSubject, RawIssuer and RawSerial share its bytes), the fingerprint and a
// few fields of the lenient parse. The full parse is made again on demand by
// Parsed, so that a store of 100,000 certificates costs little more than its
// DER. Treat a Certificate as read-only once made, and pass it by pointer.
type Certificate struct {
	DER         []byte
	Fingerprint Fingerprint
	// RawSubject, RawIssuer and RawSerial are the DER of the Name and of the
	// serial number INTEGER (tag, length and content) exactly as in the certificate.
	RawSubject []byte
	RawIssuer  []byte
	RawSerial  []byte
	// Subject is a one-line readable form of the subject.
	Subject   string
	NotBefore time.Time
	NotAfter  time.Time
	// IsCA: basic constraints say CA, or a v1 certificate that is self-issued
	// (old roots are v1 and carry no extensions).
	IsCA bool
	// SelfIssued: subject equals issuer.
	SelfIssued bool
	// CN is the last common name of the subject ("" if it has none), from
	// the lenient parse.
	CN string
	// ParseError is set when the certificate parser refused the certificate; it is
	// then kept as bytes only.
	ParseError error
}

// ParseCertificate reads one DER certificate. It fails only when der is not a
// certificate at all (not a SEQUENCE of TBSCertificate, algorithm and signature);
// a certificate that is well-formed enough to name but that the parser refuses is
// returned with ParseError set.
//
// Parsing the same DER again while the first Certificate is still in use
// returns that Certificate: a sync that reads the same roots from a source
// and a target holds each of them once (see shared).
func ParseCertificate(der []byte) (*Certificate, error) {
	fp := FingerprintOf(der)
	if c := shared.get(fp); c != nil {
		return c, nil
	}
	c, err := parseCertificate(der, fp)
	if err != nil {
		return nil, err
	}
	return shared.put(c), nil
}

// parseReused is ParseCertificate for der in a buffer the caller reuses: a
// certificate already in use is returned without copying or keeping der,
// and only a new one is parsed from a copy of der.
func parseReused(der []byte) (*Certificate, error) {
	fp := FingerprintOf(der)
	if c := shared.get(fp); c != nil {
		return c, nil
	}
	der = bytes.Clone(der)
	c, err := parseCertificate(der, fp)
	if err != nil {
		return nil, err
	}
	return shared.put(c), nil
}

// InUse returns the Certificate ParseCertificate would return for der when
// one is still in use, else nil. It keeps no reference to der, so a reader
// can ask before it copies der out of a buffer it does not own.
func InUse(der []byte) *Certificate { return shared.get(FingerprintOf(der)) }

func parseCertificate(der []byte, fp Fingerprint) (*Certificate, error) {
	f, ok := readFields(der)
	if ok {
		if c := parseFast(der, &f, fp); c != nil {
			return c, nil
		}
	} else {
		raw, err := parseRaw(der)
		if err != nil {
			return nil, err
		}
		f = certFields{
			serial:    raw.TBS.Serial.FullBytes,
			issuer:    raw.TBS.Issuer.FullBytes,
			subject:   raw.TBS.Subject.FullBytes,
			notBefore: raw.TBS.Validity.NotBefore,
			notAfter:  raw.TBS.Validity.NotAfter,
		}
	}
	return parseGeneral(der, &f, fp), nil
}

// parseGeneral reads any certificate whose identifying fields f holds, with
// certificate-transparency-go's lenient parser.
func parseGeneral(der []byte, f *certFields, fp Fingerprint) *Certificate {
	c := &Certificate{
		DER:         der,
		Fingerprint: fp,
		RawSubject:  f.subject,
		RawIssuer:   f.issuer,
		RawSerial:   f.serial,
		NotBefore:   f.notBefore,
		NotAfter:    f.notAfter,
		SelfIssued:  bytes.Equal(f.subject, f.issuer),
		Subject:     nameString(f.subject),
	}
	p, perr := ctx509.ParseCertificate(der)
	if perr != nil && ctx509.IsFatal(perr) {
		c.ParseError = perr
		return c
	}
	c.NotBefore, c.NotAfter = p.NotBefore, p.NotAfter
	c.IsCA = (p.BasicConstraintsValid && p.IsCA) || (p.Version < 3 && c.SelfIssued)
	c.CN = p.Subject.CommonName
	return c
}

// Parsed is the lenient parse of the certificate (extensions, keys,
// signature), nil when ParseError is set. It parses the DER again on every
// call and the result is not kept: callers that need it more than once hold
// on to it themselves.
func (c *Certificate) Parsed() *ctx509.Certificate {
	if c.ParseError != nil {
		return nil
	}
	p, err := ctx509.ParseCertificate(c.DER)
	if err != nil && ctx509.IsFatal(err) {
		return nil
	}
	return p
}

// shared maps the fingerprint of every Certificate still in use to it,
// through weak pointers: the map keeps no Certificate alive. Certificates are
// never changed once made, so one Certificate can stand in every store that
// holds the DER. The map is keyed by the fingerprint's first eight bytes (16
// bytes a slot rather than 40 at 100,000 certificates); get compares the
// whole fingerprint, so two certificates that share the eight bytes are
// merely not shared.
var shared = &certTable{m: map[uint64]weak.Pointer[Certificate]{}, sweepAt: 1024}

type certTable struct {
	mu sync.Mutex
	m  map[uint64]weak.Pointer[Certificate]
	// sweepAt is the size at which put next drops the entries whose
	// Certificate was collected (cheaper than a cleanup per Certificate).
	sweepAt int
}

func tableKey(fp Fingerprint) uint64 { return binary.BigEndian.Uint64(fp[:8]) }

func (t *certTable) get(fp Fingerprint) *Certificate {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.m[tableKey(fp)].Value(); c != nil && c.Fingerprint == fp {
		return c
	}
	return nil
}

// put records c and returns it, or the Certificate of the same DER already
// in use (made meanwhile by another goroutine), so that there is only ever
// one.
func (t *certTable) put(c *Certificate) *Certificate {
	t.mu.Lock()
	defer t.mu.Unlock()
	if in := t.m[tableKey(c.Fingerprint)].Value(); in != nil && in.Fingerprint == c.Fingerprint {
		return in
	}
	if len(t.m) >= t.sweepAt {
		for k, wp := range t.m {
			if wp.Value() == nil {
				delete(t.m, k)
			}
		}
		t.sweepAt = max(1024, 2*len(t.m))
	}
	t.m[tableKey(c.Fingerprint)] = weak.Make(c)
	return c
}

// MustParse is ParseCertificate for tests and fixtures; it panics on error.
func MustParse(der []byte) *Certificate {
	c, err := ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return c
}

// Expired reports whether the certificate is no longer valid at now.
func (c *Certificate) Expired(now time.Time) bool {
	return !c.NotAfter.IsZero() && now.After(c.NotAfter)
}

// CommonName is the last CN of the subject, or the whole subject if it has none.
func (c *Certificate) CommonName() string {
	if c.CN != "" {
		return c.CN
	}
	return c.Subject
}

type rawCert struct {
	TBS       tbs
	Algorithm asn1.RawValue
	Signature asn1.BitString
}

type tbs struct {
	Version  int `asn1:"optional,explicit,default:0,tag:0"`
	Serial   asn1.RawValue
	Sig      asn1.RawValue
	Issuer   asn1.RawValue
	Validity struct {
		NotBefore, NotAfter time.Time
	}
	Subject asn1.RawValue
	Rest    []asn1.RawValue `asn1:"optional"`
}

// ErrNotCertificate is wrapped by errors for data that is not a certificate.
var ErrNotCertificate = errors.New("not an X.509 certificate")

func parseRaw(der []byte) (*rawCert, error) {
	var rc rawCert
	rest, err := asn1.Unmarshal(der, &rc)
	if err != nil {
		// Validity may hold times encoding/asn1 refuses; retry without them.
		var loose struct {
			TBS struct {
				Version  int `asn1:"optional,explicit,default:0,tag:0"`
				Serial   asn1.RawValue
				Sig      asn1.RawValue
				Issuer   asn1.RawValue
				Validity asn1.RawValue
				Subject  asn1.RawValue
				Rest     []asn1.RawValue `asn1:"optional"`
			}
			Algorithm asn1.RawValue
			Signature asn1.BitString
		}
		if rest2, err2 := asn1.Unmarshal(der, &loose); err2 != nil || len(rest2) > 0 {
			return nil, fmt.Errorf("%w: %v", ErrNotCertificate, err)
		}
		rc.TBS.Serial, rc.TBS.Issuer, rc.TBS.Subject = loose.TBS.Serial, loose.TBS.Issuer, loose.TBS.Subject
		return &rc, nil
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: %d bytes of trailing data", ErrNotCertificate, len(rest))
	}
	return &rc, nil
}

// nameString renders a DER Name for people, most specific attribute first as in
// RFC 4514. Values of string types encoding/asn1 does not read (VisibleString,
// for one) are shown as text too; other values as #hex.
func nameString(der []byte) string {
	if s, ok := simpleName(der); ok {
		return s
	}
	return nameStringASN1(der)
}

// nameStringASN1 is nameString read with encoding/asn1, for any Name.
func nameStringASN1(der []byte) string {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &seq); err == nil && allValues(seq) {
		if s := seq.String(); s != "" {
			return s
		}
		return "(empty subject)"
	}
	// Fall back to a raw walk that tolerates any value type.
	var rdns []asn1.RawValue
	if _, err := asn1.Unmarshal(der, &rdns); err != nil {
		return "#" + hex.EncodeToString(der)
	}
	var parts []string
	for i := len(rdns) - 1; i >= 0; i-- {
		var atvs []struct {
			Type  asn1.ObjectIdentifier
			Value asn1.RawValue
		}
		if _, err := asn1.UnmarshalWithParams(rdns[i].FullBytes, &atvs, "set"); err != nil {
			continue
		}
		for _, a := range atvs {
			parts = append(parts, attributeName(a.Type)+"="+valueString(a.Value))
		}
	}
	if len(parts) == 0 {
		return "(empty subject)"
	}
	return strings.Join(parts, ",")
}

// allValues reports whether encoding/asn1 read every attribute value.
func allValues(seq pkix.RDNSequence) bool {
	for _, rdn := range seq {
		for _, atv := range rdn {
			if atv.Value == nil {
				return false
			}
		}
	}
	return true
}

// attributeNames are RFC 4514's short names.
var attributeNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.5": "SERIALNUMBER", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST",
	"2.5.4.9": "STREET", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.17": "POSTALCODE",
}

func attributeName(oid asn1.ObjectIdentifier) string {
	if n, ok := attributeNames[oid.String()]; ok {
		return n
	}
	return oid.String()
}

// valueString renders one attribute value: the text of a one-byte string
// type (control characters as ?), else #hex of its DER.
func valueString(v asn1.RawValue) string {
	switch {
	case v.Class == asn1.ClassUniversal && !v.IsCompound && isOneByteString(v.Tag) && utf8.Valid(v.Bytes):
		return strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return '?'
			}
			return r
		}, string(v.Bytes))
	}
	return "#" + hex.EncodeToString(v.FullBytes)
}

// isOneByteString: UTF8String, NumericString, PrintableString, T61String,
// IA5String, GraphicString, VisibleString, GeneralString.
func isOneByteString(tag int) bool {
	switch tag {
	case 12, 18, 19, 20, 22, 25, 26, 27:
		return true
	}
	return false
}
