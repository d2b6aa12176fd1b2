package system

import (
	"testing"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// FuzzRoundTrip: what Apply writes into a sandboxed Debian tree (the
// distribution's update-ca-certificates regenerating its bundle and
// folder), Load reads back (see storetest.RoundTrip).
func FuzzRoundTrip(f *testing.F) {
	storetest.FuzzSeeds(f)
	f.Fuzz(func(t *testing.T, ops []byte, names string) {
		storetest.RoundTrip(t, ops, names, func(t *testing.T, dir string) stores.Store {
			return debianTree(t, dir)
		})
	})
}
