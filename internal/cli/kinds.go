package cli

import (
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/jks"
	"github.com/rootsync/rootsync/stores/p12"
	"github.com/rootsync/rootsync/stores/system"
)

// openers maps a spec's kind to its adapter.
var openers = map[string]func(stores.Spec, stores.OpenOptions) (stores.Store, error){
	"p12":    p12.Open,
	"jks":    jks.Open,
	"system": system.Open,
}

// openStore opens the store a spec names. A shorthand may stand for several
// stores (nss:firefox is every Firefox profile).
func openStore(s stores.Spec, o stores.OpenOptions) ([]stores.Store, error) {
	open, ok := openers[s.Kind]
	if !ok {
		return nil, usagef("store kind %q is not available in this build", s.Kind)
	}
	st, err := open(s, o)
	if err != nil {
		return nil, err
	}
	return []stores.Store{st}, nil
}

// flagsFor returns a store-specific trust rendering for list, or nil.
func flagsFor(st stores.Store) func(*stores.Entry) string { return nil }
