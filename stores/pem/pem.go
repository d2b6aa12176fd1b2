// Package pem is the store adapter for PEM bundles (spec pem:FILE): the CA
// files of nginx (ssl_client_certificate, ssl_trusted_certificate), curl, Go
// programs and OpenSSL's -CAfile.
//
// It reads CERTIFICATE blocks (trusted for every purpose) and OpenSSL's
// TRUSTED CERTIFICATE blocks (their trust and reject lists mapped per
// purpose), and a file holding a single DER certificate. It writes only plain
// CERTIFICATE blocks, the form every reader accepts, so a bundle cannot record
// per-purpose trust or distrust. A block rootsync adds is appended at the end
// after an ownership comment line "# rootsync: SUBJECT". Everything else in the
// file (other blocks such as CRLs, comments and text between blocks,
// certificates nobody asked to change) is kept byte for byte. A file that is
// not a bundle (binary data, a private key, text without certificates) is
// refused by Load and never written (see CheckKind); a missing file is
// stores.ErrNotExist. A DER file that
// Apply changes is written back as PEM. Files are replaced atomically with
// their permissions kept; the package never logs.
package pem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/stores"
)

// Store is a PEM bundle file.
type Store struct {
	spec stores.Spec
	path string
}

// Open returns the store for spec (kind "pem"). It does not touch the file.
func Open(spec stores.Spec, _ stores.OpenOptions) (stores.Store, error) {
	if spec.Kind != "pem" {
		return nil, fmt.Errorf("store %s: not a pem store", spec)
	}
	if spec.Location == "" {
		return nil, fmt.Errorf("store %s: missing file name (want pem:FILE)", spec)
	}
	return &Store{spec: spec, path: filepath.Clean(spec.Location)}, nil
}

// Spec returns the spec the store was opened with.
func (s *Store) Spec() stores.Spec { return s.spec }

// Capabilities: a bundle trusts each certificate for everything; rootsync
// marks its own blocks with a comment line.
func (s *Store) Capabilities() stores.Capabilities {
	return stores.Capabilities{PerPurpose: false, Distrust: false, Ownership: true, ReadByOpenSSL: true}
}

// Paths is the bundle file.
func (s *Store) Paths() []string { return []string{s.path} }

// Load reads the bundle. A missing file is stores.ErrNotExist; a file that
// is not a PEM bundle (see CheckKind) is stores.ErrWrongKind. An empty file is
// an empty store.
//
// A bundle of certificate blocks is read block by block (see scan), so that
// loading holds the certificates, not the file; anything else is read whole.
func (s *Store) Load(ctx context.Context) (*stores.Set, error) {
	if set, ok := s.scan(); ok {
		return set, nil
	}
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	return Entries(f), nil
}

// Entries turns a parsed file into a set: one entry per certificate, with
// duplicates folded into the first block that holds them and one note that
// names the other blocks (the first few, in file order, and how many more).
func Entries(f *File) *stores.Set {
	set := stores.NewSet()
	first := map[stores.Fingerprint]*Block{}
	again := map[stores.Fingerprint][]int{}
	for _, b := range f.Certificates() {
		if _, dup := first[b.Cert.Fingerprint]; dup {
			again[b.Cert.Fingerprint] = append(again[b.Cert.Fingerprint], b.Index)
		} else {
			first[b.Cert.Fingerprint] = b
		}
		e := &stores.Entry{Cert: b.Cert, Trust: b.Trust, Owned: b.Owned, Label: b.Label()}
		if f.der {
			e.Label = "DER certificate"
		}
		if b.Alias != "" {
			e.Notes = append(e.Notes, fmt.Sprintf("alias %q", b.Alias))
		}
		set.Add(e)
	}
	for fp, idx := range again {
		e := set.Get(fp)
		e.Notes = append(e.Notes, duplicateNote(first[fp].Label(), idx))
	}
	return set
}

// maxNamed is how many duplicate blocks a note names before "and N more".
const maxNamed = 3

// duplicateNote says which other blocks hold the certificate of the block
// named label.
func duplicateNote(label string, idx []int) string {
	var names []string
	for _, i := range idx[:min(len(idx), maxNamed)] {
		names = append(names, fmt.Sprint(i))
	}
	list := strings.Join(names, ", ")
	if len(idx) > maxNamed {
		list += fmt.Sprintf(" and %d more", len(idx)-maxNamed)
	}
	what := "block " + list + " holds"
	if len(idx) > 1 {
		what = "blocks " + list + " hold"
	}
	return fmt.Sprintf("%s the same certificate again (folded into %s)", what, label)
}

// scan reads the bundle with stores.ScanPEM and makes the set Entries would
// make of it. It reports false for everything but a PEM bundle holding at
// least one certificate, no private key and no NUL byte, and for any error
// (a missing file, a block that does not decode): Load then reads the file
// whole, which says exactly what is wrong.
func (s *Store) scan() (*stores.Set, bool) {
	fh, err := stores.OpenFile(s.path)
	if err != nil {
		return nil, false
	}
	defer fh.Close()
	r := &nulReader{r: stores.LimitReader(s.path, fh)}
	// The entries are made in chunks (one allocation for many) and put in
	// a set made for their number once it is known, so that the set's
	// tables do not grow (and become garbage) as the file is read.
	var chunks [][]scanned
	n := 0
	err = stores.ScanPEM(r, func(b *stores.PEMBlock, before []byte) error {
		if b.Cert == nil {
			if strings.Contains(b.Label, "PRIVATE KEY") {
				return errNotPlain
			}
			return nil
		}
		if k := len(chunks) - 1; k < 0 || len(chunks[k]) == cap(chunks[k]) {
			chunks = append(chunks, make([]scanned, 0, scanChunk))
		}
		owned := bytes.HasPrefix(before, []byte(OwnerPrefix)) && bytes.HasSuffix(before, []byte("\n"))
		x := scanned{index: b.Index, e: stores.Entry{Cert: b.Cert, Trust: b.Trust(), Owned: owned, Label: blockLabel(b.Index)}}
		if b.Aux != nil && b.Aux.HasAlias && len(b.Aux.Alias) > 0 {
			x.e.Notes = append(x.e.Notes, fmt.Sprintf("alias %q", string(b.Aux.Alias)))
		}
		chunks[len(chunks)-1] = append(chunks[len(chunks)-1], x)
		n++
		return nil
	})
	if err != nil || r.nul || n == 0 {
		return nil, false
	}
	set := stores.NewSetSize(n)
	// Duplicates: the set keeps the first block's entry (and label), again
	// the indexes of the later blocks.
	again := map[stores.Fingerprint][]int{}
	for _, c := range chunks {
		for i := range c {
			fp := c[i].e.Cert.Fingerprint
			if set.Get(fp) != nil {
				again[fp] = append(again[fp], c[i].index)
			}
			set.Put(&c[i].e)
		}
	}
	for fp, idx := range again {
		e := set.Get(fp)
		e.Notes = append(e.Notes, duplicateNote(e.Label, idx))
	}
	return set, true
}

// scanned is an entry scan read, with its block's index.
type scanned struct {
	e     stores.Entry
	index int
}

// scanChunk is how many entries scan allocates at once.
const scanChunk = 256

// errNotPlain stops a scan that found something only a whole read reports.
var errNotPlain = errors.New("not a plain bundle")

// nulReader notes whether it read a NUL byte (a bundle holds none).
type nulReader struct {
	r   io.Reader
	nul bool
}

func (n *nulReader) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	if bytes.IndexByte(p[:k], 0) >= 0 {
		n.nul = true
	}
	return k, err
}

// read parses the file and checks that it is a bundle.
func (s *Store) read() (*File, error) {
	data, err := stores.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, stores.NotExist(s.path)
	}
	if err != nil {
		return nil, err
	}
	f, err := ParseFile(s.path, data)
	if err != nil {
		return nil, err
	}
	if err := CheckKind(s.path, data, f); err != nil {
		return nil, err
	}
	return f, nil
}

// Apply makes the changes in memory and replaces the file once; on any error
// the file is left as it was. Add appends a plain CERTIFICATE block with the
// ownership line (a certificate already present is left alone); Remove takes
// out every block holding the certificate, with its ownership line; SetTrust
// can only make a certificate trusted for every purpose (rewriting a TRUSTED
// CERTIFICATE block as a plain one).
func (s *Store) Apply(ctx context.Context, changes []stores.Change) error {
	if len(changes) == 0 {
		return nil
	}
	f, err := s.read()
	if errors.Is(err, stores.ErrNotExist) {
		f, err = ParseFile(s.path, nil)
	}
	if err != nil {
		return err
	}
	certs, adds := f.Certificates(), 0
	for _, ch := range changes {
		if ch.Action == stores.Add {
			adds++
		}
	}
	f.Grow(adds)
	present := make(map[stores.Fingerprint]bool, len(certs)+adds)
	for _, b := range certs {
		present[b.Cert.Fingerprint] = true
	}
	for _, ch := range changes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if ch.Entry == nil || ch.Entry.Cert == nil {
			return fmt.Errorf("%s: %v change without a certificate", s.path, ch.Action)
		}
		c := ch.Entry.Cert
		switch ch.Action {
		case stores.Add:
			if err := CheckWritable(s.path, ch.Entry); err != nil {
				return err
			}
			if !present[c.Fingerprint] {
				f.Add(c)
				present[c.Fingerprint] = true
			}
		case stores.Remove:
			f.Remove(c.Fingerprint)
			delete(present, c.Fingerprint)
		case stores.SetTrust:
			if err := CheckWritable(s.path, ch.Entry); err != nil {
				return err
			}
			if !present[c.Fingerprint] {
				return &stores.Error{Path: s.path, Entry: c.Subject, Err: errors.New("certificate is no longer in the bundle"), Hint: "run the command again to plan from the current content"}
			}
			f.MakePlain(c.Fingerprint)
		default:
			return fmt.Errorf("%s: unknown change %v", s.path, ch.Action)
		}
	}
	if !f.Changed() {
		return nil
	}
	if dir := filepath.Dir(s.path); !isDir(dir) {
		return &stores.Error{Path: s.path, Err: fmt.Errorf("folder %s does not exist", dir),
			Hint: "create the folder first (mkdir -p " + dir + "), or check the path for a typo"}
	}
	write := func(w io.Writer) error {
		_, err := f.WriteTo(w)
		return err
	}
	if err := atomicfile.WriteFunc(s.path, 0o644, write); err != nil {
		return &stores.Error{Path: s.path, Err: err, Hint: "check that the folder is writable and the disk has room; the file was left as it was"}
	}
	return nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// CheckWritable refuses trust a plain bundle cannot hold: a bundle entry is
// trusted for every purpose, so writing a certificate that should be trusted
// for nothing (or is distrusted) would trust it instead.
func CheckWritable(path string, e *stores.Entry) error {
	if e.Trust.Any(stores.Trusted) {
		return nil
	}
	return &stores.Error{
		Path:  path,
		Entry: e.Cert.Subject,
		Err:   fmt.Errorf("%w: a certificate in this store is trusted for every purpose, cannot write trust %v", stores.ErrUnsupported, e.Trust),
		Hint:  "leave the certificate out of this target (exclude it) or use a store that records distrust, such as nss",
	}
}
