package jks

import (
	"os"

	"github.com/rootsync/rootsync/stores"
)

// debianCacerts is the JDK truststore Debian's ca-certificates-java keeps.
const debianCacerts = "/etc/ssl/certs/java/cacerts"

// Kind describes the jks: store kind for a stores.Registry. Discover
// reports Debian's Java truststore.
func Kind() stores.Kind {
	return stores.Kind{
		Name:         "jks",
		Location:     "FILE",
		Summary:      "a Java KeyStore, e.g. Debian's " + debianCacerts,
		What:         "a Java KeyStore, e.g. Debian's `" + debianCacerts + "`",
		CanRecord:    "trust for every purpose",
		Capabilities: stores.Capabilities{Ownership: true},
		Options:      stores.PasswordOptions,
		Open:         Open,
		Discover: func(string) []stores.Found {
			_, err := os.Stat(debianCacerts)
			return []stores.Found{{Spec: "jks:" + debianCacerts, UsedBy: "Java (Debian)", Path: debianCacerts, Exists: err == nil}}
		},
	}
}
