package pem

import "github.com/rootsync/rootsync/stores"

// Kind describes the pem: store kind for a stores.Registry.
func Kind() stores.Kind {
	return stores.Kind{
		Name:     "pem",
		Location: "FILE",
		Summary:  "a PEM bundle: nginx ssl_client_certificate, curl and Go CA files",
		What: "a PEM bundle: nginx `ssl_client_certificate` / `ssl_trusted_certificate`, curl and Go CA files. " +
			"Reads `CERTIFICATE` and `TRUSTED CERTIFICATE` blocks and single DER files; writes plain `CERTIFICATE` blocks",
		CanRecord:    "trust for every purpose",
		Capabilities: stores.Capabilities{Ownership: true, ReadByOpenSSL: true},
		Open:         Open,
	}
}
