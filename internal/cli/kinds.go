package cli

import (
	"github.com/rootsync/rootsync/internal/storekinds"
	"github.com/rootsync/rootsync/stores"
)

// openStore opens the stores a spec names: one, or every store its shorthand
// finds (nss:firefox is every Firefox profile of the user).
func openStore(s stores.Spec, o stores.OpenOptions) ([]stores.Store, error) {
	return storekinds.Registry().Open(s, o)
}

// trustNotation returns a store's own trust notation for list, or nil.
func trustNotation(st stores.Store) func(*stores.Entry) string {
	k, _ := storekinds.Registry().Lookup(st.Spec().Kind)
	return k.TrustNotation
}
