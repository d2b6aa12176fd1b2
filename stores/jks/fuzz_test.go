package jks_test

import (
	"path/filepath"
	"testing"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// FuzzRoundTrip: what Apply writes into a new keystore, Load reads back (see
// storetest.RoundTrip).
func FuzzRoundTrip(f *testing.F) {
	storetest.FuzzSeeds(f)
	f.Fuzz(func(t *testing.T, ops []byte, names string) {
		storetest.RoundTrip(t, ops, names, func(t *testing.T, dir string) stores.Store {
			return kind.OpenFile(t, filepath.Join(dir, "trust.jks"), "fuzz-pw")
		})
	})
}
