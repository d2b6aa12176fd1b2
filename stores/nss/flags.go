package nss

import (
	"runtime"
	"strings"
	"sync"
	"weak"

	"github.com/rootsync/rootsync/stores"
)

// nssTrust is what one trust object says, in NSS (classic) values, indexed
// like stores.Purposes.
type nssTrust struct {
	vals [4]uint32
	// stepUp is NSS's step-up flag; NSS 3.87 keeps it but certutil -L does
	// not show it and rootsync's model has no place for it.
	stepUp bool
}

// toStores maps NSS trust to rootsync's model, per purpose:
//
//	TRUSTED_DELEGATOR (C, T)                   Trusted: a trust anchor
//	NOT_TRUSTED (p)                            Distrusted
//	MUST_VERIFY, UNKNOWN, VALID_DELEGATOR (c)  Unspecified: not an anchor
//	TRUSTED (P, a trusted peer)                Unspecified, with a note
//
// A trusted peer is trusted as an end-entity certificate in its own right,
// not as an issuer of others; rootsync's Trusted means "trust anchor", so P
// is not one. The note keeps the statement visible in listings and plans.
func (t nssTrust) toStores() (stores.Trust, []string) {
	var out stores.Trust
	var peer []string
	for i, v := range t.vals {
		switch v {
		case trustTrustedDelegator:
			out[i] = stores.Trusted
		case trustNotTrusted:
			out[i] = stores.Distrusted
		case trustTrusted:
			peer = append(peer, stores.Purposes[i].String())
		}
	}
	var notes []string
	if len(peer) > 0 {
		notes = append(notes, "trusted peer (P) for "+strings.Join(peer, ", ")+
			": NSS trusts this certificate itself, not as an issuer; rootsync counts it as unspecified")
	}
	return out, notes
}

// fromStores is the NSS trust rootsync writes for t, the way certutil does:
// Trusted is TRUSTED_DELEGATOR (C, or T for client-auth), Distrusted is
// NOT_TRUSTED (p), Unspecified is MUST_VERIFY (what certutil writes for an
// empty field).
func fromStores(t stores.Trust) nssTrust {
	var out nssTrust
	for i, p := range stores.Purposes {
		switch t.Get(p) {
		case stores.Trusted:
			out.vals[i] = trustTrustedDelegator
		case stores.Distrusted:
			out.vals[i] = trustNotTrusted
		default:
			out.vals[i] = trustMustVerify
		}
	}
	return out
}

// NSS's CERTCertTrust flag bits, as certutil prints them.
const (
	flagValidCA         = 1 << iota // c
	flagTerminalRecord              // p (without TRUSTED)
	flagTrustedCA                   // C
	flagTrustedClientCA             // T
	flagTrusted                     // P
	flagUser                        // u
)

func nss3Flags(v uint32) int {
	switch v {
	case trustTrusted:
		return flagTerminalRecord | flagTrusted
	case trustTrustedDelegator:
		return flagValidCA | flagTrustedCA
	case trustNotTrusted:
		return flagTerminalRecord
	case trustValidDelegator:
		return flagValidCA
	}
	return 0
}

func encodeFlags(f int) string {
	var b strings.Builder
	if f&flagValidCA != 0 && f&(flagTrustedCA|flagTrustedClientCA) == 0 {
		b.WriteByte('c')
	}
	if f&flagTerminalRecord != 0 && f&flagTrusted == 0 {
		b.WriteByte('p')
	}
	for _, x := range []struct {
		bit int
		c   byte
	}{{flagTrustedCA, 'C'}, {flagTrustedClientCA, 'T'}, {flagTrusted, 'P'}, {flagUser, 'u'}} {
		if f&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	return b.String()
}

// certutilString renders trust as `certutil -L` shows it ("CT,C,C"): the
// SSL field combines server-auth and client-auth, then S/MIME (email) and
// object signing (code-signing). t is nil for a certificate without trust;
// user marks a certificate whose private key is in the database.
func certutilString(t *nssTrust, user bool) string {
	var ssl, email, code int
	if t != nil {
		ssl = nss3Flags(t.vals[0])
		client := nss3Flags(t.vals[1])
		if client&flagTrustedCA != 0 {
			client = client&^flagTrustedCA | flagTrustedClientCA
		}
		ssl |= client
		email = nss3Flags(t.vals[2])
		code = nss3Flags(t.vals[3])
		// NSS 3.87 reads the step-up flag but certutil -L does not show it.
	}
	if user {
		ssl, email, code = ssl|flagUser, email|flagUser, code|flagUser
	}
	return encodeFlags(ssl) + "," + encodeFlags(email) + "," + encodeFlags(code)
}

// flagTable remembers the certutil trust string of every certificate a Load
// returned, keyed weakly by the certificate so that it goes away with it.
var flagTable = struct {
	sync.Mutex
	m map[weak.Pointer[stores.Certificate]]string
}{m: map[weak.Pointer[stores.Certificate]]string{}}

func rememberFlags(c *stores.Certificate, flags string) {
	wp := weak.Make(c)
	flagTable.Lock()
	_, seen := flagTable.m[wp]
	flagTable.m[wp] = flags
	flagTable.Unlock()
	if !seen {
		runtime.AddCleanup(c, func(wp weak.Pointer[stores.Certificate]) {
			flagTable.Lock()
			delete(flagTable.m, wp)
			flagTable.Unlock()
		}, wp)
	}
}

// TrustFlags returns the trust of e the way `certutil -L` prints it, for
// example "CT,C,C" or "p,p,p". For an entry that a Load of an NSS database
// returned, it is exactly what NSS reports for that certificate (trust whose
// signature does not verify reads ",,", as in certutil); for any other entry
// it is the trust rootsync would write for e.Trust.
func TrustFlags(e *stores.Entry) string {
	if e == nil || e.Cert == nil {
		return ""
	}
	flagTable.Lock()
	s, ok := flagTable.m[weak.Make(e.Cert)]
	flagTable.Unlock()
	if ok {
		return s
	}
	if e.Trust.IsZero() {
		return ",,"
	}
	t := fromStores(e.Trust)
	return certutilString(&t, false)
}
