package capath

import "github.com/rootsync/rootsync/stores"

// Kind describes the capath: store kind for a stores.Registry.
func Kind() stores.Kind {
	return stores.Kind{
		Name:         "capath",
		Location:     "DIR",
		Summary:      "an OpenSSL hashed directory (openssl -CApath, Apache SSLCACertificatePath)",
		What:         "an OpenSSL hashed directory (`HASH.N` links; Apache `SSLCACertificatePath`, `openssl -CApath`)",
		CanRecord:    "trust for every purpose",
		Capabilities: stores.Capabilities{Ownership: true, ReadByOpenSSL: true},
		Open:         Open,
	}
}
