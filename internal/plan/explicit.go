package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// Reason codes of the explicit commands (rootsync remove and distrust).
const (
	// ReasonRemoveAsked: removed because the remove command names it.
	ReasonRemoveAsked Code = "remove-asked"
	// ReasonDistrustAsked: distrusted (or, where the store cannot record
	// distrust, removed) because the distrust command names it.
	ReasonDistrustAsked Code = "distrust-asked"
)

// NamedSet is a store's content with the store's spec, for Resolve.
type NamedSet struct {
	Store string
	Set   *stores.Set
}

// NoMatchError is a fingerprint prefix that names no certificate in the
// stores a command reads.
type NoMatchError struct {
	Prefix string
	// Stores are the stores looked in.
	Stores []string
}

func (e *NoMatchError) Error() string {
	return fmt.Sprintf("fingerprint %q matches no certificate in %s", e.Prefix, strings.Join(e.Stores, ", "))
}

// HintText says what to do (found by stores.HintOf).
func (e *NoMatchError) HintText() string {
	return "nothing was changed; 'rootsync list STORE' shows the SHA-256 fingerprint of each certificate; name a store that holds it"
}

// Resolve finds the one certificate each fingerprint prefix (checked with
// CheckPrefix) names among sets: an *AmbiguousPrefixError (Option
// "fingerprint") when a prefix names several different certificates, a
// *NoMatchError when it names none. The certificates come back in the order
// of the prefixes, each once.
func Resolve(prefixes []string, sets []NamedSet) ([]*stores.Certificate, error) {
	var out []*stores.Certificate
	seen := map[stores.Fingerprint]bool{}
	for _, x := range prefixes {
		if err := CheckPrefix(x); err != nil {
			return nil, fmt.Errorf("fingerprint %q: %w", x, err)
		}
		found := map[stores.Fingerprint]*stores.Certificate{}
		for _, s := range sets {
			for _, e := range s.Set.Entries() {
				if e.Cert.Fingerprint.HasPrefix(x) {
					found[e.Cert.Fingerprint] = e.Cert
				}
			}
		}
		switch len(found) {
		case 0:
			err := &NoMatchError{Prefix: x}
			for _, s := range sets {
				err.Stores = append(err.Stores, s.Store)
			}
			return nil, err
		case 1:
			for fp, c := range found {
				if !seen[fp] {
					seen[fp] = true
					out = append(out, c)
				}
			}
		default:
			err := &AmbiguousPrefixError{Option: "fingerprint", Prefix: x}
			for fp, c := range found {
				err.Certs = append(err.Certs, CertRef{fp, c.Subject})
			}
			sort.Slice(err.Certs, func(i, j int) bool { return err.Certs[i].Fingerprint.String() < err.Certs[j].Fingerprint.String() })
			return nil, err
		}
	}
	return out, nil
}

// Remove plans taking certs out of a target holding current. A certificate
// the target does not hold needs nothing; one held with its private key (a
// user certificate) is kept, with a warning. The mass-removal guard does not
// apply: the user named each certificate.
func Remove(target string, current *stores.Set, certs []*stores.Certificate) *Plan {
	return explicit(target, current, stores.Capabilities{}, certs, false)
}

// Distrust plans distrusting certs in a target holding current, a store
// with caps. A store that can record distrust gets the certificate
// distrusted for every purpose, also when it does not hold it yet (so that
// a later copy, or a browser's built-in list, cannot make it trusted); one
// that cannot record distrust loses the certificate, with a lossy-distrust
// warning that says so.
func Distrust(target string, current *stores.Set, caps stores.Capabilities, certs []*stores.Certificate) *Plan {
	return explicit(target, current, caps, certs, true)
}

func explicit(target string, current *stores.Set, caps stores.Capabilities, certs []*stores.Certificate, distrust bool) *Plan {
	b := &builder{
		p: &Plan{Target: target}, current: current, caps: caps, w: newWarnings(),
		dt: detail{target: target, kind: strings.SplitN(target, ":", 2)[0], removed: true},
	}
	why := Reason{Code: ReasonRemoveAsked}
	if distrust {
		why.Code = ReasonDistrustAsked
	}
	for _, c := range certs {
		ref := CertRef{c.Fingerprint, c.Subject}
		have := current.Get(c.Fingerprint)
		switch {
		case have != nil && have.PrivateKey:
			b.w.add(CodeUserCert, b.dt, ref)
			b.p.Kept++
		case distrust && caps.Distrust && have == nil:
			b.adds = append(b.adds, b.change(stores.Add, &stores.Entry{Cert: c, Trust: stores.DistrustAll(), Owned: caps.Ownership}, why))
		case distrust && caps.Distrust && have.Trust == stores.DistrustAll():
			b.p.Unchanged++
		case distrust && caps.Distrust:
			e := *have
			e.Trust = stores.DistrustAll()
			ch := b.change(stores.SetTrust, &e, why)
			ch.From = have.Trust
			b.trusts = append(b.trusts, ch)
		case have == nil:
			// Not there: nothing to remove.
		default:
			if distrust {
				b.w.add(CodeLossyDistrust, b.dt, ref)
			}
			b.removes = append(b.removes, b.change(stores.Remove, have, why))
		}
	}
	return b.finish()
}
