// Package stores is rootsync's public model of trust: certificates identified by
// the SHA-256 of their DER encoding, per-purpose trust, sets of store entries,
// the Store interface that every adapter (stores/pem, stores/capath, stores/nss,
// stores/p12, stores/jks, stores/system, stores/windows) implements, and the
// kind registry. Optional interfaces add what only some stores need: Restorer
// (a store whose state is more than its files restores it after a rollback or
// restore; the system store re-runs its distribution's tool), StateSaver (a
// store that is no file saves and restores its contents itself: the Windows
// stores) and FolderLocker (the folders a writer locks; NSS names none and
// relies on SQLite's locking).
//
// It also holds what several adapters share: the one table of purposes (names,
// extended key usage OIDs, OpenSSL's names for them) and the one codec for PEM
// bundles (DecodePEM, EncodeCertificatePEM, EncodeTrustedCertificatePEM), which
// reads OpenSSL's TRUSTED CERTIFICATE trust data (Aux) exactly as OpenSSL does.
//
// Each adapter package describes its kind with a Kind() function: name, Open,
// accepted spec options, shorthands, discovery and help texts. A program puts
// the kinds it wants in a Registry, which parses specs (refusing unknown
// kinds and options in one place), expands shorthands and opens stores.
// Nothing registers itself: importing an adapter adds no kind anywhere.
//
// The package never logs. Its only I/O is reading a password (Secret.Value),
// the home folder for ~/ and shorthands, what a kind's own functions do, and
// the file helpers every adapter looks at its files through: OpenFile,
// ReadFile, ReadDir, StatFile and StatDir refuse what is not a regular file or
// folder (without blocking on a pipe) and files over MaxFileSize.
//
// The package and its adapters are a library for other modules too: another
// program can import an adapter directly, for example stores/nss, to read a
// browser's database, and an adapter written elsewhere runs the conformance
// suite stores/storetest (test/apimodule in the repository is such a module).
// No exported API names an internal type. Certificate.Parsed returns the one
// type from another module: the certificate-transparency-go fork of
// crypto/x509, chosen because it parses certificates real stores hold that
// crypto/x509 refuses (docs/library.md says more).
package stores
