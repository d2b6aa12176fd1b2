package p12

import (
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/javastore"
)

// Kind describes the p12: store kind for a stores.Registry. Discover
// reports the PKCS#12 truststores of installed JDKs (javastore.Cacerts: on
// Windows; JDK 18 and later ship cacerts as PKCS#12).
func Kind() stores.Kind {
	return stores.Kind{
		Name:         "p12",
		Location:     "FILE",
		Summary:      "a PKCS#12 truststore Java reads (password-less ones too)",
		What:         "a PKCS#12 truststore Java reads (password-less ones too)",
		CanRecord:    "trust for every purpose",
		Capabilities: stores.Capabilities{Ownership: true},
		Options:      stores.PasswordOptions,
		Open:         Open,
		Discover: func(string) []stores.Found {
			return javastore.Found("p12", javastore.PKCS12)
		},
	}
}
