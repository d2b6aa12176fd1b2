package cli

import (
	"os"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/capath"
	"github.com/rootsync/rootsync/stores/jks"
	"github.com/rootsync/rootsync/stores/nss"
	"github.com/rootsync/rootsync/stores/p12"
	"github.com/rootsync/rootsync/stores/pem"
	"github.com/rootsync/rootsync/stores/system"
)

// openers maps a spec's kind to its adapter.
var openers = map[string]func(stores.Spec, stores.OpenOptions) (stores.Store, error){
	"pem":    pem.Open,
	"capath": capath.Open,
	"nss":    nss.Open,
	"p12":    p12.Open,
	"jks":    jks.Open,
	"system": system.Open,
}

// openStore opens the store a spec names. A shorthand may stand for several
// stores: nss:firefox is every Firefox profile of the user.
func openStore(s stores.Spec, o stores.OpenOptions) ([]stores.Store, error) {
	open, ok := openers[s.Kind]
	if !ok {
		return nil, usagef("store kind %q is not available in this build", s.Kind)
	}
	specs := []stores.Spec{s}
	if s.Kind == "nss" && nss.IsShorthand(s.Location) {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		dirs, err := nss.ResolveShorthand(s.Location, home)
		if err != nil {
			return nil, &hinted{err, "run 'rootsync discover' to see the NSS databases of this user"}
		}
		specs = specs[:0]
		for _, d := range dirs {
			specs = append(specs, stores.Spec{Kind: s.Kind, Location: d, Options: s.Options})
		}
	}
	var out []stores.Store
	for _, sp := range specs {
		st, err := open(sp, o)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// flagsFor returns a store's own trust notation for list, or nil.
func flagsFor(st stores.Store) func(*stores.Entry) string {
	if st.Spec().Kind == "nss" {
		return nss.TrustFlags
	}
	return nil
}
