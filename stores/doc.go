// Package stores is rootsync's public model of trust: certificates identified by
// the SHA-256 of their DER encoding, per-purpose trust, sets of store entries, and
// the Store interface that every adapter (stores/pem, stores/capath, stores/nss,
// stores/p12, stores/jks, stores/system) implements.
//
// The package does no I/O and never logs. Another program can import an adapter
// directly, for example stores/nss, to read a browser's database.
package stores
