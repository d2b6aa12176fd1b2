// Package capath is the store adapter for OpenSSL hashed certificate
// directories (spec capath:DIR): openssl -CApath, Apache
// SSLCACertificatePath, and every program that calls
// X509_LOOKUP_hash_dir.
//
// Load reads every PEM file in the folder (any name, several certificates per
// file allowed, TRUSTED CERTIFICATE blocks honoured) and the files behind its
// HHHHHHHH.N links, folding duplicates by fingerprint. Apply writes one file
// per certificate it adds, named rootsync-<first 16 hex digits of the SHA-256>.pem
// (the name is rootsync's ownership mark), and the relative HHHHHHHH.N links
// OpenSSL looks up, with the subject hash computed natively (package
// namehash); it never runs openssl or c_rehash. It never deletes or renames a
// file or link it did not make, except to carry out a Remove of a foreign
// entry, and then renumbers only the links needed to keep every HHHHHHHH.N
// sequence free of gaps (OpenSSL stops at the first missing N). CRL links
// (HHHHHHHH.rN) are never touched. Apply is all-or-nothing for the folder: on
// any error everything it created, renamed or removed is put back. A folder
// that does not exist yet can instead be staged (Stage, a stores.Stager):
// built whole beside its place and renamed in. The package never logs.
package capath

import (
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/capath/namehash"
)

// Store is a hashed certificate directory.
type Store struct {
	spec stores.Spec
	dir  string
}

// Open returns the store for spec (kind "capath"). It does not touch the folder.
func Open(spec stores.Spec, _ stores.OpenOptions) (stores.Store, error) {
	if spec.Kind != "capath" {
		return nil, fmt.Errorf("store %s: not a capath store", spec)
	}
	if spec.Location == "" {
		return nil, fmt.Errorf("store %s: missing folder (want capath:DIR)", spec)
	}
	return &Store{spec: spec, dir: filepath.Clean(spec.Location)}, nil
}

// HashName returns OpenSSL's subject hash of a DER Name as the eight hex
// digits used in link names: HASH.N finds a certificate by its subject, and
// HASH.rN a CRL by its issuer. It fails for names OpenSSL refuses.
func HashName(rawName []byte) (string, error) {
	h, err := namehash.SubjectHash(rawName)
	if err != nil {
		return "", err
	}
	return namehash.Hex(h), nil
}

// OwnedName is the file name rootsync gives a certificate it adds.
func OwnedName(fp stores.Fingerprint) string {
	return "rootsync-" + hex.EncodeToString(fp[:8]) + ".pem"
}

// tempPrefix starts the names of Apply's temporary files, which Load skips.
const tempPrefix = ".rootsync-"

// Spec returns the spec the store was opened with.
func (s *Store) Spec() stores.Spec { return s.spec }

// Capabilities: every certificate in the folder is trusted for everything
// (TRUSTED CERTIFICATE files can say more, but rootsync writes plain ones);
// rootsync's files carry its name prefix.
func (s *Store) Capabilities() stores.Capabilities {
	return stores.Capabilities{PerPurpose: false, Distrust: false, Ownership: true, ReadByOpenSSL: true}
}

// Paths is the folder: Apply writes only its direct contents.
func (s *Store) Paths() []string { return []string{s.dir} }

// nssFiles are the files of an NSS database: a folder that holds one is not
// a hashed certificate folder, and rootsync writes no certificate files there.
var nssFiles = map[string]bool{"cert9.db": true, "key4.db": true, "cert8.db": true, "key3.db": true}

// Load reads the folder. A missing folder is stores.ErrNotExist; a file, or a
// folder holding an NSS database, is stores.ErrWrongKind. An empty folder is
// an empty store. It reads one file at a time and keeps only the set.
func (s *Store) Load(ctx context.Context) (*stores.Set, error) {
	f, err := s.scan()
	if err != nil {
		return nil, err
	}
	if !f.exists {
		return nil, stores.NotExist(s.dir)
	}
	reach := f.reachable()
	// A file per certificate, most often: the set is sized for that.
	files := 0
	for i := range f.entries {
		if !f.entries[i].link {
			files++
		}
	}
	set := stores.NewSetSize(files)
	var chunk []stores.Entry
	var buf []byte
	// add takes a certificate of entry i, named label.
	var i int32
	var label string
	var owned bool
	add := func(c *stores.Certificate, t stores.Trust) {
		// The entries are made in chunks, one allocation for many.
		if len(chunk) == cap(chunk) {
			chunk = make([]stores.Entry, 0, 256)
		}
		chunk = append(chunk, stores.Entry{Cert: c, Trust: t, Owned: owned, Label: label})
		en := &chunk[len(chunk)-1]
		if h, err := namehash.SubjectHash(c.RawSubject); err != nil {
			en.Notes = append(en.Notes, fmt.Sprintf("%s: OpenSSL cannot use this certificate: %v", label, err))
		} else if !f.entries[i].link && !reach.has(h, i) {
			en.Notes = append(en.Notes, fmt.Sprintf("%s has no %s.N link: openssl -CApath does not find it", label, namehash.Hex(h)))
		}
		set.Put(en)
	}
	for i = 0; int(i) < len(f.entries); i++ {
		label = f.label(i)
		owned = isOwnedName(label)
		if err := f.certificates(i, &buf, add); err != nil {
			return nil, err
		}
	}
	return set, nil
}
