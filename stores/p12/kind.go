package p12

import "github.com/rootsync/rootsync/stores"

// Kind describes the p12: store kind for a stores.Registry.
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
	}
}
