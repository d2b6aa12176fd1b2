package system

import (
	"context"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/javastore"
)

// JDKCacerts are the places (glob patterns on the running system; a root
// prefix is put in front) of the cacerts a JDK ships. Only a regular file
// counts: a link (Debian's JDKs link lib/security/cacerts to
// /etc/ssl/certs/java/cacerts) leads to a store generated from the system
// store, local roots included. Tests may replace it.
var JDKCacerts = []string{
	"/usr/lib/jvm/*/lib/security/cacerts",
	"/usr/lib/jvm/*/jre/lib/security/cacerts",
	"/opt/java/*/lib/security/cacerts",
}

// PublicSet is the packaged root set of a tree: the public roots its
// distribution (and any JDK it has) ships. A root outside it is local: added
// by the organisation.
type PublicSet struct {
	// Roots are the packaged roots' fingerprints.
	Roots map[stores.Fingerprint]bool
	// From lists the folders and files read, sorted; empty when the tree has
	// none of them (then no root is public).
	From []string
}

// Public reports whether fp is in the packaged root set. A nil set holds
// nothing.
func (p *PublicSet) Public(fp stores.Fingerprint) bool { return p != nil && p.Roots[fp] }

// Packaged reads the packaged root set of the tree at root ("" or "/" for the
// running system): every certificate in the Packaged folders of every layout
// (a tree may be any distribution, so no detection is needed) and in a JDK's
// own cacerts (JDKCacerts). A folder or file that does not exist is skipped;
// one that cannot be read is an error naming it. Files that hold no PEM
// certificate are skipped, as the distribution's tools skip them.
func Packaged(ctx context.Context, root string) (*PublicSet, error) {
	if root == "/" {
		root = ""
	}
	ps := &PublicSet{Roots: map[stores.Fingerprint]bool{}}
	seen := map[string]bool{}
	for _, l := range Layouts {
		for _, d := range l.Packaged {
			dir := filepath.Join(root, d)
			if seen[dir] {
				continue
			}
			seen[dir] = true
			n, err := readPackaged(dir, ps.Roots)
			if err != nil {
				return nil, err
			}
			if n > 0 {
				ps.From = append(ps.From, dir)
			}
		}
	}
	for _, pat := range JDKCacerts {
		matches, _ := filepath.Glob(filepath.Join(root, pat))
		for _, m := range matches {
			fi, err := os.Lstat(m)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			st, err := javastore.Open(stores.Spec{Kind: "jks", Location: m}, stores.OpenOptions{}, javastore.JKS)
			if err != nil {
				return nil, err
			}
			set, err := st.Load(ctx)
			if err != nil {
				return nil, &stores.Error{Path: m, Err: err, Hint: "the JDK's cacerts names the public roots Java ships; fix or reinstall the JDK"}
			}
			for _, e := range set.Entries() {
				ps.Roots[e.Cert.Fingerprint] = true
			}
			ps.From = append(ps.From, m)
		}
	}
	sort.Strings(ps.From)
	return ps, nil
}

// readPackaged adds the certificates of every regular file below dir to
// roots and returns how many it found.
func readPackaged(dir string, roots map[stores.Fingerprint]bool) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				return fs.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		data, err := stores.ReadFile(p)
		if err != nil {
			return err
		}
		// PEM blocks among other text: .crt files, and p11-kit's
		// ca-bundle.trust.p11-kit, whose objects carry their certificate as
		// a PEM block between attribute lines.
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := stores.ParseCertificate(b.Bytes)
			if err != nil {
				continue
			}
			roots[c.Fingerprint] = true
			n++
		}
		return nil
	})
	if err != nil {
		return n, &stores.Error{Path: dir, Err: err, Hint: "the distribution's packaged roots must be readable to tell public roots from local ones"}
	}
	return n, nil
}
