// Package storekinds is the list of store kinds rootsync is built with, one
// line per kind, in the order help texts and the README give them. The
// command line and the configuration file read specs through this registry
// and nothing else; a new kind is its adapter package plus one line here.
//
// Building the registry registers nothing elsewhere: a program that imports
// one adapter package gets that adapter only.
package storekinds

import (
	"sync"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/capath"
	"github.com/rootsync/rootsync/stores/jks"
	"github.com/rootsync/rootsync/stores/nss"
	"github.com/rootsync/rootsync/stores/p12"
	"github.com/rootsync/rootsync/stores/pem"
	"github.com/rootsync/rootsync/stores/system"
	"github.com/rootsync/rootsync/stores/windows"
)

// kinds lists the store kinds.
func kinds() []stores.Kind {
	return []stores.Kind{
		pem.Kind(),
		capath.Kind(),
		nss.Kind(),
		p12.Kind(),
		jks.Kind(),
		system.Kind(),
		windows.Kind(),
	}
}

// Registry returns the registry of rootsync's store kinds.
func Registry() *stores.Registry { return registry() }

var registry = sync.OnceValue(func() *stores.Registry {
	r, err := stores.NewRegistry(kinds()...)
	if err != nil {
		panic("storekinds: " + err.Error()) // the list above is wrong; TestRegistry catches it
	}
	return r
})
