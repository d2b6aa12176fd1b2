package stores

import (
	"encoding/asn1"
	"fmt"
	"strings"
)

// Purpose is one thing a root can be trusted for.
type Purpose int

// The purposes rootsync distinguishes, in their canonical order.
const (
	ServerAuth Purpose = iota
	ClientAuth
	Email
	CodeSigning
	numPurposes
)

// Purposes lists every purpose in canonical order.
var Purposes = []Purpose{ServerAuth, ClientAuth, Email, CodeSigning}

// purposeInfo is what the rest of the world calls a purpose.
type purposeInfo struct {
	// name is rootsync's name (flags, configuration, output).
	name string
	// eku is the extended key usage OID (RFC 5280 4.2.1.12); OpenSSL's trust
	// and reject lists hold the same OIDs.
	eku asn1.ObjectIdentifier
	oid RawOID
	// openssl is OpenSSL's short name of the OID, as openssl x509
	// -addtrust/-addreject take it.
	openssl string
}

// purposeTable is the one table of purposes, indexed by Purpose: every
// reader and writer of purpose OIDs uses it.
var purposeTable = [numPurposes]purposeInfo{
	ServerAuth:  {"server-auth", asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}, nil, "serverAuth"},
	ClientAuth:  {"client-auth", asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}, nil, "clientAuth"},
	Email:       {"email", asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 4}, nil, "emailProtection"},
	CodeSigning: {"code-signing", asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}, nil, "codeSigning"},
}

// OIDAnyExtendedKeyUsage (2.5.29.37.0) stands for every purpose in an
// extended key usage extension and in OpenSSL's trust and reject lists.
var OIDAnyExtendedKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37, 0}

var oidAnyEKU = OIDBytes(OIDAnyExtendedKeyUsage)

func init() {
	for i := range purposeTable {
		purposeTable[i].oid = OIDBytes(purposeTable[i].eku)
	}
}

func (p Purpose) String() string {
	if p < 0 || p >= numPurposes {
		return fmt.Sprintf("purpose(%d)", int(p))
	}
	return purposeTable[p].name
}

// EKU is the purpose's extended key usage OID, also the OID OpenSSL's trust
// and reject lists use for it.
func (p Purpose) EKU() asn1.ObjectIdentifier {
	return append(asn1.ObjectIdentifier(nil), purposeTable[p].eku...)
}

// OpenSSLName is OpenSSL's short name of the purpose's OID ("serverAuth"), as
// openssl x509 -addtrust and -addreject take it.
func (p Purpose) OpenSSLName() string { return purposeTable[p].openssl }

// PurposeOfEKU returns the purpose whose extended key usage OID is oid.
func PurposeOfEKU(oid asn1.ObjectIdentifier) (Purpose, bool) {
	for i, in := range purposeTable {
		if in.eku.Equal(oid) {
			return Purpose(i), true
		}
	}
	return 0, false
}

// ParsePurpose reads a purpose name as printed by Purpose.String.
func ParsePurpose(s string) (Purpose, error) {
	var names []string
	for i, in := range purposeTable {
		if strings.EqualFold(s, in.name) {
			return Purpose(i), nil
		}
		names = append(names, in.name)
	}
	return 0, fmt.Errorf("unknown purpose %q (want one of %s)", s, strings.Join(names, ", "))
}

// Level says what a store says about one purpose of one certificate.
type Level uint8

const (
	// Unspecified: the store says nothing for this purpose.
	Unspecified Level = iota
	// Trusted: a trust anchor for this purpose.
	Trusted
	// Distrusted: explicitly not trusted, even if another store trusts it.
	Distrusted
)

func (l Level) String() string {
	switch l {
	case Trusted:
		return "trusted"
	case Distrusted:
		return "distrusted"
	default:
		return "unspecified"
	}
}

// Trust is the level for each purpose, indexed by Purpose.
type Trust [numPurposes]Level

// TrustAll is trusted for every purpose: what a plain PEM bundle entry means.
func TrustAll() Trust { return Trust{Trusted, Trusted, Trusted, Trusted} }

// DistrustAll is distrusted for every purpose.
func DistrustAll() Trust { return Trust{Distrusted, Distrusted, Distrusted, Distrusted} }

// Get returns the level for p.
func (t Trust) Get(p Purpose) Level { return t[p] }

// With returns t with p set to l.
func (t Trust) With(p Purpose, l Level) Trust { t[p] = l; return t }

// Any reports whether some purpose has level l.
func (t Trust) Any(l Level) bool {
	for _, v := range t {
		if v == l {
			return true
		}
	}
	return false
}

// All reports whether every purpose has level l.
func (t Trust) All(l Level) bool {
	for _, v := range t {
		if v != l {
			return false
		}
	}
	return true
}

// IsZero reports whether the trust says nothing at all.
func (t Trust) IsZero() bool { return t.All(Unspecified) }

// Merge combines two statements about the same certificate: distrust wins over
// trust, and trust wins over silence.
func (t Trust) Merge(o Trust) Trust {
	for i := range t {
		if o[i] > t[i] {
			t[i] = o[i]
		}
	}
	return t
}

// Only keeps the purposes in ps and makes the others Unspecified.
func (t Trust) Only(ps []Purpose) Trust {
	var out Trust
	for _, p := range ps {
		out[p] = t[p]
	}
	return out
}

// String renders trust compactly, e.g. "server-auth,client-auth" for the trusted
// purposes, "distrusted" when every purpose is distrusted, and "-" for none.
// Mixed statements list both: "server-auth !email".
func (t Trust) String() string {
	switch {
	case t.IsZero():
		return "-"
	case t.All(Trusted):
		return "all"
	case t.All(Distrusted):
		return "distrusted"
	}
	var on, off []string
	for _, p := range Purposes {
		switch t[p] {
		case Trusted:
			on = append(on, p.String())
		case Distrusted:
			off = append(off, "!"+p.String())
		}
	}
	return strings.TrimSpace(strings.Join(on, ",") + " " + strings.Join(off, ","))
}
