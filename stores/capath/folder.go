package capath

import (
	"bytes"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/pem"
)

// A folder of 100,000 certificates holds 200,000 names (a file and a link
// each), so what is kept per name is kept small: one entry of fixed size per
// name, link targets as indexes, hashes as numbers, and no file contents
// unless Apply needs them.

// entry is one name in the folder.
type entry struct {
	name string
	// file is the PEM file of a name that holds certificates, kept only by
	// Apply and only for the files its changes may edit (see planner.read).
	file *pem.File
	// n is the N of a HASH.N name (hashed).
	n int
	// hash is the HASH of a HASH.N name (hashed).
	hash uint32
	// ref is, for a link, where it points: the index of the entry it names,
	// refMissing for a name in the folder that no entry has (the name is in
	// folder.targets), or refOutside (the target's base name is in
	// folder.targets). It is refNone for other entries.
	ref  int32
	mode fs.FileMode
	// hashed: the name is HASH.N.
	hashed bool
	// link: a symbolic link named HASH.N.
	link bool
	// symlink: the name is a symbolic link (link or not).
	symlink bool
}

const (
	refNone    = -1
	refMissing = -2
	refOutside = -3
)

// folder is what Apply and Load know of the directory.
type folder struct {
	dir     string
	exists  bool
	entries []entry // sorted by name
	// targets holds the base name a link points to when that is not an
	// entry's (ref is refMissing or refOutside), by the link's index.
	targets map[int32]string
}

// scan lists the folder and reads where its HASH.N links point; it reads no
// file (see read). The names are kept in one string.
func (s *Store) scan() (*folder, error) {
	f := &folder{dir: s.dir, targets: map[int32]string{}}
	if _, err := stores.StatDir(s.dir); errors.Is(err, fs.ErrNotExist) {
		return f, nil
	} else if err != nil {
		return nil, err
	}
	f.exists = true
	// The listing is gathered in chunks, then put in one slice and one
	// string of exactly their size: growing one slice by appending would
	// allocate several times its final size over 200,000 names.
	var l listing
	if !listDir(s.dir, l.take) {
		l = listing{}
		des, err := stores.ReadDir(s.dir)
		if err != nil {
			return nil, err
		}
		for _, de := range des {
			l.take([]byte(de.Name()), de.Type()&fs.ModeSymlink != 0)
		}
	}
	if l.nss != "" {
		return nil, stores.WrongKind(s.dir, "a hashed certificate folder", "it holds an NSS database ("+l.nss+")",
			"use the spec nss:"+s.dir+" for an NSS database, or name another folder")
	}
	f.entries = l.finish()
	// The entries are searched by name.
	if !slices.IsSortedFunc(f.entries, byEntryName) {
		slices.SortFunc(f.entries, byEntryName)
	}
	var buf []byte
	for i := range f.entries {
		e := &f.entries[i]
		if !e.link {
			continue
		}
		path := filepath.Join(s.dir, e.name)
		t, err := readLink(path, &buf)
		if err != nil {
			return nil, &stores.Error{Path: path, Err: err, Hint: "check that rootsync may read the folder"}
		}
		if siblingName(t) {
			// What openssl rehash and rootsync make: a name in the folder,
			// found without making strings of it.
			if j := f.indexBytes(t); j >= 0 {
				e.ref = j
			} else {
				e.ref = refMissing
				f.targets[int32(i)] = string(t)
			}
			continue
		}
		target := string(t)
		abs := target
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(s.dir, target)
		}
		abs = filepath.Clean(abs)
		base := filepath.Base(abs)
		switch {
		case filepath.Dir(abs) != s.dir:
			e.ref = refOutside
			f.targets[int32(i)] = base
		default:
			if j := f.index(base); j >= 0 {
				e.ref = j
			} else {
				e.ref = refMissing
				f.targets[int32(i)] = base
			}
		}
	}
	return f, nil
}

// listing gathers a folder's entries as listDir gives their names.
type listing struct {
	entries [][]entry // in chunks of listChunk
	names   [][]byte  // the entries' names one after another, in chunks
	lens    []uint16  // the length of each entry's name
	size    int       // of all names
	nss     string    // the first NSS database file in name order
}

const listChunk = 4096

// take adds the entry for name, unless it is one of Apply's temporary files
// or a CRL link.
func (l *listing) take(name []byte, symlink bool) {
	if nssFiles[string(name)] && (l.nss == "" || string(name) < l.nss) {
		l.nss = string(name)
	}
	if bytes.HasPrefix(name, []byte(tempPrefix)) {
		return
	}
	e := entry{ref: refNone, symlink: symlink}
	if hash, crl, n, ok := parseHashName(string(name)); ok {
		if crl {
			return // a CRL link: never read, never touched
		}
		e.hashed, e.hash, e.n = true, hash, n
		e.link = e.symlink
	}
	if k := len(l.entries) - 1; k < 0 || len(l.entries[k]) == listChunk {
		l.entries = append(l.entries, make([]entry, 0, listChunk))
	}
	k := len(l.entries) - 1
	l.entries[k] = append(l.entries[k], e)
	if k := len(l.names) - 1; k < 0 || len(l.names[k])+len(name) > cap(l.names[k]) {
		l.names = append(l.names, make([]byte, 0, max(64<<10, len(name))))
	}
	k = len(l.names) - 1
	l.names[k] = append(l.names[k], name...)
	l.lens = append(l.lens, uint16(len(name)))
	l.size += len(name)
}

// finish returns the entries in one slice, named from one string.
func (l *listing) finish() []entry {
	out := make([]entry, 0, len(l.lens))
	for _, c := range l.entries {
		out = append(out, c...)
	}
	var b strings.Builder
	b.Grow(l.size)
	for _, c := range l.names {
		b.Write(c)
	}
	all, start := b.String(), 0
	for i, n := range l.lens {
		out[i].name = all[start : start+int(n)]
		start += int(n)
	}
	return out
}

func byEntryName(a, b entry) int { return strings.Compare(a.name, b.name) }

// index is the index of the entry called name, or -1.
func (f *folder) index(name string) int32 {
	i, ok := slices.BinarySearchFunc(f.entries, name, func(e entry, name string) int { return strings.Compare(e.name, name) })
	if !ok {
		return -1
	}
	return int32(i)
}

// indexBytes is index for a name in bytes.
func (f *folder) indexBytes(name []byte) int32 {
	i, ok := slices.BinarySearchFunc(f.entries, name, func(e entry, name []byte) int {
		switch {
		case e.name < string(name): // compared without a copy
			return -1
		case e.name > string(name):
			return 1
		}
		return 0
	})
	if !ok {
		return -1
	}
	return int32(i)
}

// siblingName reports whether a link's target t names something in the
// link's own folder by its name alone (no slash, not . or ..), which
// filepath would join to the folder and take apart to the same name.
func siblingName(t []byte) bool {
	return len(t) > 0 && bytes.IndexByte(t, '/') < 0 && string(t) != "." && string(t) != ".."
}

// inFolder reports whether link i points at a name in the folder (whether
// or not that name exists).
func (f *folder) inFolder(i int32) bool {
	r := f.entries[i].ref
	return r >= 0 || r == refMissing
}

// refName is the name in the folder that link i points at ("" if it points
// outside the folder, or is not a link).
func (f *folder) refName(i int32) string {
	switch r := f.entries[i].ref; {
	case r >= 0:
		return f.entries[r].name
	case r == refMissing:
		return f.targets[i]
	}
	return ""
}

// label is how Load names the certificates entry i holds: its own name, or
// for a link out of the folder the name of the file it points at.
func (f *folder) label(i int32) string {
	if f.entries[i].ref == refOutside {
		return f.targets[i]
	}
	return f.entries[i].name
}

// holder is the index of the entry whose file holds a link's (or file's)
// certificates.
func (f *folder) holder(i int32) int32 {
	for k := 0; k < 8 && f.entries[i].link && f.entries[i].ref >= 0; k++ {
		i = f.entries[i].ref
	}
	return i
}

// read reads the certificates of entry i: nil for a name that holds none (a
// link into the folder, whose file is read under its own name, a dangling
// link, a folder, a file that is not PEM). It notes the file's mode. The
// file's text is read into *buf, which read reuses from call to call: the
// File returned is valid only until the next read with the same buf
// (File.Bytes is that text; a caller that keeps the File parses a copy).
func (f *folder) read(i int32, buf *[]byte) (*pem.File, error) {
	path, data, err := f.readData(i, buf)
	if data == nil || err != nil {
		return nil, err
	}
	pf, err := pem.ParseFile(path, data)
	if err != nil {
		return nil, err
	}
	if len(pf.Certificates()) == 0 {
		return nil, nil
	}
	return pf, nil
}

// certificates calls fn with each certificate of entry i, and what the
// file's block says of its trust, for the names read reads (nil for the
// others). It is read for Load, which keeps only the certificates: the
// blocks are decoded in place in *buf, with no pem.File made of them. Its
// errors are read's.
func (f *folder) certificates(i int32, buf *[]byte, fn func(c *stores.Certificate, t stores.Trust)) error {
	path, data, err := f.readData(i, buf)
	if data == nil || err != nil {
		return err
	}
	err = stores.ScanPEMData(data, func(b *stores.PEMBlock, _ []byte) error {
		if b.Cert != nil {
			fn(b.Cert, b.Trust())
		}
		return nil
	})
	if err != nil {
		// pem.ParseFile fails on the same block, and says which file.
		if _, perr := pem.ParseFile(path, data); perr != nil {
			return perr
		}
		return err
	}
	return nil
}

// readData reads the file of entry i as read does, into *buf: its path and
// text, nil text for a name read skips.
func (f *folder) readData(i int32, buf *[]byte) (string, []byte, error) {
	e := &f.entries[i]
	if e.link && f.inFolder(i) {
		return "", nil, nil // read under its own name
	}
	path := filepath.Join(f.dir, e.name)
	data, mode, skip, ok := readFile(path, *buf)
	*buf = data[:0]
	if skip {
		return "", nil, nil // dangling links and folders hold no certificates
	}
	e.mode = mode
	if !ok {
		var err error
		if data, err = stores.ReadFile(path); err != nil {
			return "", nil, err
		}
	}
	// DER is read only from data without a BEGIN line, so no Certificate
	// keeps data.
	if !bytes.Contains(data, []byte("-----BEGIN ")) {
		return "", nil, nil // OpenSSL reads only PEM here
	}
	return path, data, nil
}

// reach is the set of (hash, entry) pairs some HASH.N name serves: the
// hash of the name and the entry whose file it leads to.
type reach []uint64

func reachKey(hash uint32, holder int32) uint64 { return uint64(hash)<<32 | uint64(uint32(holder)) }

// reachable lists which (hash, file) pairs some HASH.N name serves.
func (f *folder) reachable() reach {
	var out reach
	for i := range f.entries {
		if f.entries[i].hashed {
			out = append(out, reachKey(f.entries[i].hash, f.holder(int32(i))))
		}
	}
	slices.Sort(out)
	return out
}

// has reports whether a HASH.N name with hash leads to entry i.
func (r reach) has(hash uint32, i int32) bool {
	_, ok := slices.BinarySearch(r, reachKey(hash, i))
	return ok
}

// parseHashName reads a name of the form HASH.N (a certificate) or HASH.rN (a
// CRL), the names openssl rehash makes: eight lower-case hexadecimal digits,
// a dot, an optional r and decimal digits. N is the digits' value (leading
// zeros allowed, as OpenSSL reads them).
func parseHashName(name string) (hash uint32, crl bool, n int, ok bool) {
	if len(name) < 10 || name[8] != '.' {
		return 0, false, 0, false
	}
	for i := 0; i < 8; i++ {
		c := name[i]
		switch {
		case '0' <= c && c <= '9':
			hash = hash<<4 | uint32(c-'0')
		case 'a' <= c && c <= 'f':
			hash = hash<<4 | uint32(c-'a'+10)
		default:
			return 0, false, 0, false
		}
	}
	digits := name[9:]
	if digits[0] == 'r' {
		crl, digits = true, digits[1:]
	}
	if digits == "" {
		return 0, false, 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false, 0, false
		}
	}
	n, _ = strconv.Atoi(digits) // beyond the int range: the largest int
	return hash, crl, n, true
}

// isOwnedName reports whether name is one OwnedName makes:
// rootsync-<16 lower-case hexadecimal digits>.pem.
func isOwnedName(name string) bool {
	rest, ok := strings.CutPrefix(name, "rootsync-")
	if !ok {
		return false
	}
	digits, ok := strings.CutSuffix(rest, ".pem")
	if !ok || len(digits) != 16 {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if c := digits[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
