// Package jks is the jks:FILE store: a Java KeyStore such as Debian's
// /etc/ssl/certs/java/cacerts.
//
// Spec options: password-env=VAR or password-file=FILE name the keystore
// password. When neither they nor the caller name one, the password is the
// well-known default "changeit" (that of Debian's cacerts). JKS checks the
// whole file's integrity with the password, so reading needs the right one.
//
// A file that turns out to be PKCS#12 is read and written back as PKCS#12,
// never converted (the store's Notes say so). Entries rootsync adds have
// aliases starting "rootsync-"; private-key entries are kept as they are. The
// work is done by stores/javastore; see there for the details.
package jks

import (
	"fmt"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/javastore"
)

// Open returns the jks: store named by spec; a file that does not exist yet is
// created as JKS by the first Apply. Open reads and writes nothing.
func Open(spec stores.Spec, opts stores.OpenOptions) (stores.Store, error) {
	if spec.Kind != "jks" {
		return nil, fmt.Errorf("store %s: not a jks: spec", spec)
	}
	return javastore.Open(spec, opts, javastore.JKS)
}
