package stores

import (
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

var purposeNames = [numPurposes]string{"server-auth", "client-auth", "email", "code-signing"}

func (p Purpose) String() string {
	if p < 0 || p >= numPurposes {
		return fmt.Sprintf("purpose(%d)", int(p))
	}
	return purposeNames[p]
}

// ParsePurpose reads a purpose name as printed by Purpose.String.
func ParsePurpose(s string) (Purpose, error) {
	for i, n := range purposeNames {
		if strings.EqualFold(s, n) {
			return Purpose(i), nil
		}
	}
	return 0, fmt.Errorf("unknown purpose %q (want one of %s)", s, strings.Join(purposeNames[:], ", "))
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
