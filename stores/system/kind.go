package system

import (
	"os"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// Kind describes the system store kind for a stores.Registry: the bare spec
// "system" is the running system, system:ROOT a tree under ROOT. Discover
// reports the running system's store.
func Kind() stores.Kind {
	return stores.Kind{
		Name:             "system",
		Location:         "ROOT",
		LocationOptional: true,
		Summary:          "the distribution's trust store, written through its own tool; ROOT is a prefix for chroots and containers",
		What: "the distribution's trust store, written through its own tool (`update-ca-certificates`, `update-ca-trust`); " +
			"ROOT is a prefix for chroots and containers",
		CanRecord:    "trust for every purpose; distrust too where the distribution has a blocklist folder (" + strings.Join(distrustFamilies(), ", ") + ")",
		Capabilities: stores.Capabilities{Ownership: true, ReadByOpenSSL: true},
		Options: []stores.Option{{
			Name: "family", Value: "NAME",
			Meaning: "use this distribution family's layout (" + strings.Join(Families(), ", ") + ") instead of detecting it",
		}},
		Open: Open,
		Discover: func(string) []stores.Found {
			_, err := os.Stat("/")
			return []stores.Found{{Spec: "system", UsedBy: "the distribution (OpenSSL, Go, curl, ...)", Path: "/", Exists: err == nil}}
		},
	}
}

// distrustFamilies lists the families whose layout has a blocklist folder.
func distrustFamilies() []string {
	var out []string
	for _, l := range Layouts {
		if l.Blocklist != "" {
			out = append(out, l.Family)
		}
	}
	return out
}
