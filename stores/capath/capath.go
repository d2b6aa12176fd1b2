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
// any error everything it created, renamed or removed is put back. The
// package never logs.
package capath

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/capath/namehash"
	"github.com/rootsync/rootsync/stores/pem"
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

var (
	ownedRE = regexp.MustCompile(`^rootsync-[0-9a-f]{16}\.pem$`)
	linkRE  = regexp.MustCompile(`^([0-9a-f]{8})\.(r?)([0-9]+)$`)
)

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

// entry is one name in the folder.
type entry struct {
	name string
	// link: a symbolic link named HASH.N; hash and n are from the name.
	link bool
	hash string
	n    int
	// symlink: the name is a symbolic link (link or not).
	symlink bool
	// ref is the folder entry a link points to, by name ("" if it points
	// outside the folder or nowhere).
	ref string
	// certs are the certificate blocks read for this name (for a link,
	// only when it points outside the folder); none if it holds none.
	certs []*pem.Block
	// file is the whole PEM file of certs, kept only for Apply.
	file  *pem.File
	label string
	mode  fs.FileMode
}

// folder is what Apply and Load know of the directory.
type folder struct {
	dir     string
	exists  bool
	entries map[string]*entry
	names   []string // sorted
}

// keepFiles keeps each file's text for Apply's rewrites; Load needs only
// the certificates, so that reading a folder of 100,000 files holds their
// certificates, not their text.
func (s *Store) scan(keepFiles bool) (*folder, error) {
	f := &folder{dir: s.dir, entries: map[string]*entry{}}
	des, err := stores.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	f.exists = true
	for _, de := range des {
		name := de.Name()
		if nssFiles[name] {
			return nil, stores.WrongKind(s.dir, "a hashed certificate folder", "it holds an NSS database ("+name+")",
				"use the spec nss:"+s.dir+" for an NSS database, or name another folder")
		}
		if strings.HasPrefix(name, tempPrefix) {
			continue
		}
		e := &entry{name: name, label: name, symlink: de.Type()&fs.ModeSymlink != 0}
		if m := linkRE.FindStringSubmatch(name); m != nil {
			if m[2] == "r" {
				continue // a CRL link: never read, never touched
			}
			e.hash = m[1]
			e.n, _ = strconv.Atoi(m[3])
			e.link = e.symlink
		}
		f.entries[name] = e
		f.names = append(f.names, name)
	}
	sort.Strings(f.names)
	for _, name := range f.names {
		e := f.entries[name]
		path := filepath.Join(s.dir, name)
		if e.link {
			target, err := os.Readlink(path)
			if err != nil {
				return nil, &stores.Error{Path: path, Err: err, Hint: "check that rootsync may read the folder"}
			}
			abs := target
			if !filepath.IsAbs(abs) {
				abs = filepath.Join(s.dir, target)
			}
			abs = filepath.Clean(abs)
			if filepath.Dir(abs) == s.dir {
				e.ref = filepath.Base(abs) // read under its own name
				continue
			}
			e.label = filepath.Base(abs)
		}
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue // dangling links and folders hold no certificates
		}
		e.mode = fi.Mode().Perm()
		data, err := stores.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(data, []byte("-----BEGIN ")) {
			continue // OpenSSL reads only PEM here
		}
		pf, err := pem.ParseFile(path, data)
		if err != nil {
			return nil, err
		}
		if certs := pf.Certificates(); len(certs) > 0 {
			e.certs = certs
			if keepFiles {
				e.file = pf
			}
		}
	}
	return f, nil
}

// holder is the entry whose file holds a link's (or file's) certificates.
func (f *folder) holder(e *entry) *entry {
	for i := 0; i < 8 && e.link && e.ref != ""; i++ {
		r, ok := f.entries[e.ref]
		if !ok {
			break
		}
		e = r
	}
	return e
}

// reachable reports which (hash, file) pairs some link serves: the set of
// entry names that a link with that hash leads to.
func (f *folder) reachable() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, name := range f.names {
		e := f.entries[name]
		if e.hash == "" {
			continue
		}
		if out[e.hash] == nil {
			out[e.hash] = map[string]bool{}
		}
		out[e.hash][f.holder(e).name] = true
	}
	return out
}

// nssFiles are the files of an NSS database: a folder that holds one is not
// a hashed certificate folder, and rootsync writes no certificate files there.
var nssFiles = map[string]bool{"cert9.db": true, "key4.db": true, "cert8.db": true, "key3.db": true}

// Load reads the folder. A missing folder is stores.ErrNotExist; a file, or a
// folder holding an NSS database, is stores.ErrWrongKind. An empty folder is
// an empty store.
func (s *Store) Load(ctx context.Context) (*stores.Set, error) {
	f, err := s.scan(false)
	if err != nil {
		return nil, err
	}
	if !f.exists {
		return nil, stores.NotExist(s.dir)
	}
	reach := f.reachable()
	set := stores.NewSet()
	for _, name := range f.names {
		e := f.entries[name]
		for _, b := range e.certs {
			en := &stores.Entry{Cert: b.Cert, Trust: b.Trust, Owned: ownedRE.MatchString(e.label), Label: e.label}
			if h, err := HashName(b.Cert.RawSubject); err != nil {
				en.Notes = append(en.Notes, fmt.Sprintf("%s: OpenSSL cannot use this certificate: %v", e.label, err))
			} else if !reach[h][e.name] && !e.link {
				en.Notes = append(en.Notes, fmt.Sprintf("%s has no %s.N link: openssl -CApath does not find it", e.label, h))
			}
			set.Add(en)
		}
	}
	return set, nil
}
