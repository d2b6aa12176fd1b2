package jks

import (
	"os"
	"runtime"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/javastore"
)

// debianCacerts is the JDK truststore Debian's ca-certificates-java keeps.
const debianCacerts = "/etc/ssl/certs/java/cacerts"

// Kind describes the jks: store kind for a stores.Registry. Discover
// reports Debian's Java truststore (not on Windows) and the JKS truststores
// of installed JDKs (javastore.Cacerts: on Windows).
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
			var out []stores.Found
			if runtime.GOOS != "windows" {
				_, err := os.Stat(debianCacerts)
				out = append(out, stores.Found{Spec: "jks:" + debianCacerts, UsedBy: "Java (Debian)", Path: debianCacerts, Exists: err == nil})
			}
			return append(out, javastore.Found("jks", javastore.JKS)...)
		},
	}
}
