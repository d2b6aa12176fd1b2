// Package p12 is the p12:FILE store: a PKCS#12 truststore that Java accepts
// (the default keystore type since JDK 9, and the JDK's own cacerts).
//
// Spec options: password-env=VAR or password-file=FILE name the keystore
// password. When neither they nor the caller name one, the password is the
// well-known default "changeit". An empty password (an empty variable or
// file) makes a password-less truststore, like the JDK's cacerts since JDK 18,
// which is read whatever password is given.
//
// A file that turns out to be JKS is read and written back as JKS, never
// converted (the store's Notes say so). Entries rootsync adds have aliases
// starting "rootsync-". A PKCS#12 file holding a private key is read but never
// rewritten. The work is done by stores/javastore; see there for the details
// of formats and encodings.
package p12

import (
	"fmt"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/javastore"
)

// Open returns the p12: store named by spec; a file that does not exist yet is
// created as PKCS#12 by the first Apply. Open reads and writes nothing.
func Open(spec stores.Spec, opts stores.OpenOptions) (stores.Store, error) {
	if spec.Kind != "p12" {
		return nil, fmt.Errorf("store %s: not a p12: spec", spec)
	}
	return javastore.Open(spec, opts, javastore.PKCS12)
}
