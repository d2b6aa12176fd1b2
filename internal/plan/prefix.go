package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// AmbiguousPrefixError is a fingerprint prefix of Exclude or Only that
// names several certificates among the stores a job reads.
type AmbiguousPrefixError struct {
	// Option is "exclude" or "only".
	Option string
	Prefix string
	// Certs are the certificates it names, sorted by fingerprint.
	Certs []CertRef
}

func (e *AmbiguousPrefixError) Error() string {
	var names []string
	for _, c := range e.Certs {
		names = append(names, c.Fingerprint.String()+" "+c.Subject)
	}
	return fmt.Sprintf("%s prefix %q matches %d certificates: %s", e.Option, e.Prefix, len(e.Certs), strings.Join(names, "; "))
}

// HintText says what to do (found by stores.HintOf).
func (e *AmbiguousPrefixError) HintText() string {
	return "nothing was changed; give more hex digits of the fingerprint of the one you mean"
}

// CheckPrefixes returns an *AmbiguousPrefixError for the first prefix of
// opts.Exclude, then opts.Only, that matches more than one certificate in
// sets (the sources and targets of a job), else nil. A prefix that matches
// nothing is no error: the certificate may come back later.
func CheckPrefixes(opts Options, sets ...*stores.Set) error {
	type prefix struct{ option, text string }
	var prefixes []prefix
	for _, x := range opts.Exclude {
		prefixes = append(prefixes, prefix{"exclude", x})
	}
	for _, x := range opts.Only {
		prefixes = append(prefixes, prefix{"only", x})
	}
	if len(prefixes) == 0 {
		return nil
	}
	// One pass over the stores: what each prefix matches.
	matches := make([]map[stores.Fingerprint]CertRef, len(prefixes))
	for _, s := range sets {
		for _, e := range s.Entries() {
			fp := e.Cert.Fingerprint
			for i, x := range prefixes {
				if fp.HasPrefix(x.text) {
					if matches[i] == nil {
						matches[i] = map[stores.Fingerprint]CertRef{}
					}
					matches[i][fp] = CertRef{fp, e.Cert.Subject}
				}
			}
		}
	}
	for i, x := range prefixes {
		if len(matches[i]) < 2 {
			continue
		}
		err := &AmbiguousPrefixError{Option: x.option, Prefix: x.text}
		for _, c := range matches[i] {
			err.Certs = append(err.Certs, c)
		}
		sort.Slice(err.Certs, func(i, j int) bool { return err.Certs[i].Fingerprint.String() < err.Certs[j].Fingerprint.String() })
		return err
	}
	return nil
}
