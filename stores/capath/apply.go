package capath

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/stores"
	pemstore "github.com/rootsync/rootsync/stores/pem"
)

// maxLinks is how many HASH.N names OpenSSL's rehash uses per hash.
const maxLinks = 256

// work is what Apply will do, computed before anything is touched.
type work struct {
	newFiles []named     // certificate files to create
	rewrites []named     // files to replace (foreign bundles that lose a block)
	deletes  []string    // names to remove
	renames  [][2]string // link renumbering: from, to
	newLinks []named     // HASH.N -> file
	modes    map[string]fs.FileMode
}

type named struct {
	name string
	data []byte // file content, or the link target
	// der is the certificate of a new file: its PEM is made only when the
	// file is written, so that a large Apply holds the DER once.
	der []byte
}

func (w *work) empty() bool {
	return len(w.newFiles)+len(w.rewrites)+len(w.deletes)+len(w.renames)+len(w.newLinks) == 0
}

// Apply carries out the changes all-or-nothing. Add writes
// rootsync-<fingerprint>.pem and its HASH.N link (reusing a link that already
// names that file); a certificate whose subject OpenSSL refuses is not added
// and the whole Apply fails. Remove deletes the files that hold only that
// certificate (and rewrites a foreign file that holds others too), removes the
// links that served it and renumbers links to close the gaps. SetTrust can
// only make a certificate trusted for every purpose (a TRUSTED CERTIFICATE
// file is rewritten as a plain one). The folder is created (mode 0755) when
// something is added to a folder that does not exist.
func (s *Store) Apply(ctx context.Context, changes []stores.Change) error {
	if len(changes) == 0 {
		return nil
	}
	f, err := s.scan(true)
	if err != nil {
		return err
	}
	w, err := s.plan(f, changes)
	if err != nil {
		return err
	}
	if w.empty() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.run(f, w)
}

// plan turns changes into the work run carries out, in phases: the changes
// themselves (files that lose a certificate are deleted or rewritten, adds
// collected), links that no longer serve a certificate, the HASH.N names
// still taken, the new files and their links, and the renames that close the
// gaps in every HASH.N sequence.
func (s *Store) plan(f *folder, changes []stores.Change) (*work, error) {
	p := &planner{s: s, f: f, w: &work{modes: map[string]fs.FileMode{}},
		deleted: map[string]bool{}, rewritten: map[string]bool{}}
	adds, err := p.changes(changes)
	if err != nil {
		return nil, err
	}
	p.dropStaleLinks()
	p.takenNames()
	// Adds in fingerprint order, so that the links come out numbered as
	// openssl rehash numbers them (it takes files in name order).
	sort.Slice(adds, func(i, j int) bool {
		return string(adds[i].Cert.Fingerprint[:]) < string(adds[j].Cert.Fingerprint[:])
	})
	added := map[stores.Fingerprint]bool{}
	for _, a := range adds {
		c := a.Cert
		if added[c.Fingerprint] || len(p.holders(c.Fingerprint)) > 0 {
			continue
		}
		added[c.Fingerprint] = true
		if err := p.add(c); err != nil {
			return nil, err
		}
	}
	p.closeGaps()
	p.collect()
	return p.w, nil
}

// planner holds what plan's phases share: the folder as scanned, the work
// so far, which names go or are rewritten, and which HASH.N names are taken.
type planner struct {
	s         *Store
	f         *folder
	w         *work
	deleted   map[string]bool
	rewritten map[string]bool
	used      map[string]map[int]string // hash -> N -> name
}

// holders lists the files still in the folder that hold a certificate with
// fingerprint fp.
func (p *planner) holders(fp stores.Fingerprint) []*entry {
	var out []*entry
	for _, name := range p.f.names {
		e := p.f.entries[name]
		if p.deleted[name] || e.file == nil {
			continue
		}
		for _, b := range e.file.Certificates() {
			if b.Cert.Fingerprint == fp {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// changes carries out Remove and SetTrust on the files that hold the
// certificate, and returns the entries to add.
func (p *planner) changes(changes []stores.Change) ([]*stores.Entry, error) {
	s := p.s
	var adds []*stores.Entry
	for _, ch := range changes {
		if ch.Entry == nil || ch.Entry.Cert == nil {
			return nil, fmt.Errorf("%s: %v change without a certificate", s.dir, ch.Action)
		}
		c := ch.Entry.Cert
		switch ch.Action {
		case stores.Add:
			if err := pemstore.CheckWritable(s.dir, ch.Entry); err != nil {
				return nil, err
			}
			adds = append(adds, ch.Entry)
		case stores.Remove:
			for _, h := range p.holders(c.Fingerprint) {
				h.file.Remove(c.Fingerprint)
				switch {
				case len(h.file.Blocks()) == 0:
					p.deleted[h.name] = true
					delete(p.rewritten, h.name)
				case h.symlink:
					return nil, s.linkedBundle(h, c)
				default:
					p.rewritten[h.name] = true
				}
			}
		case stores.SetTrust:
			if err := pemstore.CheckWritable(s.dir, ch.Entry); err != nil {
				return nil, err
			}
			for _, h := range p.holders(c.Fingerprint) {
				if h.file.MakePlain(c.Fingerprint) {
					if h.symlink {
						return nil, s.linkedBundle(h, c)
					}
					p.rewritten[h.name] = true
				}
			}
		default:
			return nil, fmt.Errorf("%s: unknown change %v", s.dir, ch.Action)
		}
	}
	return adds, nil
}

// dropStaleLinks deletes links whose file is gone, or no longer holds a
// certificate with the link's hash.
func (p *planner) dropStaleLinks() {
	for _, name := range p.f.names {
		e := p.f.entries[name]
		if !e.link || p.deleted[name] {
			continue
		}
		h := p.f.holder(e)
		if p.deleted[h.name] {
			p.deleted[name] = true
			continue
		}
		if p.rewritten[h.name] && !holdsHash(h, e.hash) {
			p.deleted[name] = true
		}
	}
}

// takenNames records which HASH.N names are taken once the deletions are
// done.
func (p *planner) takenNames() {
	p.used = map[string]map[int]string{}
	for _, name := range p.f.names {
		e := p.f.entries[name]
		if e.hash == "" || p.deleted[name] {
			continue
		}
		if p.used[e.hash] == nil {
			p.used[e.hash] = map[int]string{}
		}
		p.used[e.hash][e.n] = name
	}
}

// add plans the file rootsync-<fingerprint>.pem for c and, unless a link
// already names it, its HASH.N link under the lowest free N.
func (p *planner) add(c *stores.Certificate) error {
	s, f, w := p.s, p.f, p.w
	hash, err := HashName(c.RawSubject)
	if err != nil {
		return &stores.Error{
			Path:  s.dir,
			Entry: c.Subject,
			Err:   fmt.Errorf("%w: OpenSSL could not use this certificate (%v), so it is not added", stores.ErrUnsupported, err),
			Hint:  "leave this certificate out of the capath target (exclude it); OpenSSL refuses to load it anyway",
		}
	}
	name := OwnedName(c.Fingerprint)
	if e, ok := f.entries[name]; ok && !p.deleted[name] {
		return &stores.Error{
			Path:  filepath.Join(s.dir, e.name),
			Entry: c.Subject,
			Err:   errors.New("the file exists but does not hold this certificate"),
			Hint:  "remove or rename the file, then run again",
		}
	}
	w.newFiles = append(w.newFiles, named{name: name, der: c.DER})
	for _, ln := range p.used[hash] {
		if e := f.entries[ln]; e != nil && e.link && e.ref == name {
			return nil // a link already names the file
		}
	}
	if p.used[hash] == nil {
		p.used[hash] = map[int]string{}
	}
	n := 0
	for ; n < maxLinks; n++ {
		if _, taken := p.used[hash][n]; !taken {
			break
		}
	}
	if n == maxLinks {
		return &stores.Error{Path: s.dir, Entry: c.Subject, Err: fmt.Errorf("all %d links for hash %s are taken", maxLinks, hash), Hint: "remove unused certificates with this subject"}
	}
	link := fmt.Sprintf("%s.%d", hash, n)
	p.used[hash][n] = link
	w.newLinks = append(w.newLinks, named{name: link, data: []byte(name)})
	return nil
}

// closeGaps closes the gaps the deletions left: it moves the highest link of
// a hash into its lowest hole until none is left, renaming as few links as
// possible.
func (p *planner) closeGaps() {
	affected := map[string]bool{}
	for name := range p.deleted {
		if e := p.f.entries[name]; e.hash != "" {
			affected[e.hash] = true
		}
	}
	var hashes []string
	for h := range affected {
		hashes = append(hashes, h)
	}
	sort.Strings(hashes)
	for _, h := range hashes {
		u := p.used[h]
		for {
			hole, top := -1, -1
			for n := range u {
				top = max(top, n)
			}
			for n := 0; n < top; n++ {
				if _, ok := u[n]; !ok {
					hole = n
					break
				}
			}
			if hole < 0 {
				break
			}
			from := u[top]
			to := fmt.Sprintf("%s.%d", h, hole)
			p.w.renames = append(p.w.renames, [2]string{from, to})
			delete(u, top)
			u[hole] = to
		}
	}
}

// collect adds the deletions and rewrites, in folder order, to the work.
func (p *planner) collect() {
	for _, name := range p.f.names {
		if p.deleted[name] {
			p.w.deletes = append(p.w.deletes, name)
		}
		if p.rewritten[name] {
			e := p.f.entries[name]
			p.w.rewrites = append(p.w.rewrites, named{name: name, data: e.file.Bytes()})
			p.w.modes[name] = e.mode
		}
	}
}

func holdsHash(e *entry, hash string) bool {
	if e.file == nil {
		return false
	}
	for _, b := range e.file.Certificates() {
		if h, err := HashName(b.Cert.RawSubject); err == nil && h == hash {
			return true
		}
	}
	return false
}

func (s *Store) linkedBundle(h *entry, c *stores.Certificate) error {
	return &stores.Error{
		Path:  filepath.Join(s.dir, h.name),
		Entry: c.Subject,
		Err:   fmt.Errorf("%w: the file is a link to a bundle that holds other certificates too", stores.ErrUnsupported),
		Hint:  "edit the bundle the link points to, or replace the link by a copy of the file",
	}
}

// txn records how to undo each step of an Apply.
type txn struct {
	dir        string
	undo       []func() error
	cleanup    []string // names removed once everything succeeded
	hadDir     bool
	atime, mod time.Time
}

func (t *txn) path(name string) string { return filepath.Join(t.dir, name) }

func (t *txn) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		_ = t.undo[i]()
	}
	if t.hadDir {
		// Creating and removing names changed the folder's time; put it back.
		_ = os.Chtimes(t.dir, t.atime, t.mod)
	}
}

func tempName(what string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return tempPrefix + what + "-" + hex.EncodeToString(b[:])
}

// run carries out the work all-or-nothing: on any error every step taken is
// undone. New files are written and flushed before any name points at them;
// then the names change (removals, renumbering, new links, rewritten files
// swapped in) and the folder is flushed.
func (s *Store) run(f *folder, w *work) (err error) {
	t := &txn{dir: s.dir, hadDir: f.exists}
	defer func() {
		if err != nil {
			t.rollback()
		}
	}()
	if err := t.begin(); err != nil {
		return err
	}
	temps, err := t.writeFiles(w)
	if err != nil {
		return err
	}
	// One flush for every file written, before any name points at them
	// (cheaper than a sync per file, and just as durable).
	if err := syncFS(s.dir); err != nil {
		return t.fail("", err)
	}
	if err := t.changeNames(w, temps); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return t.fail("", err)
	}
	for _, name := range t.cleanup {
		_ = os.Remove(t.path(name))
	}
	return nil
}

// fail is the error of a step on name (the folder itself when name is "").
func (t *txn) fail(name string, e error) error {
	p := t.dir
	if name != "" {
		p = t.path(name)
	}
	return &stores.Error{Path: p, Err: e, Hint: "check that the folder is writable and the disk has room; the folder was left as it was"}
}

// begin notes the folder's times, to put them back on rollback, or creates
// the folder.
func (t *txn) begin() error {
	if t.hadDir {
		fi, err := os.Stat(t.dir)
		if err != nil {
			return t.fail("", err)
		}
		t.mod, t.atime = fi.ModTime(), accessTime(fi)
		return nil
	}
	if err := os.Mkdir(t.dir, 0o755); err != nil {
		return t.fail("", err)
	}
	t.undo = append(t.undo, func() error { return os.Remove(t.dir) })
	return nil
}

// writeFiles writes the new files, then the temporary copies of rewritten
// files (with the owner, group, ACLs and attributes of the file each
// replaces), and returns the temporary name of each rewritten file.
func (t *txn) writeFiles(w *work) (map[string]string, error) {
	var buf []byte
	for _, nf := range w.newFiles {
		buf = stores.AppendCertificatePEM(buf[:0], nf.der)
		if err := t.create(nf.name, buf, 0o644); err != nil {
			return nil, t.fail(nf.name, err)
		}
	}
	temps := map[string]string{}
	for _, rw := range w.rewrites {
		tmp := tempName("new")
		if err := t.create(tmp, rw.data, w.modes[rw.name]); err != nil {
			return nil, t.fail(rw.name, err)
		}
		if err := atomicfile.CopyMeta(t.path(rw.name), t.path(tmp)); err != nil {
			return nil, t.fail(rw.name, err)
		}
		temps[rw.name] = tmp
	}
	return temps, nil
}

// changeNames makes the name changes: removals (kept aside until the end),
// renumbering, new links, and the rewritten files swapped in.
func (t *txn) changeNames(w *work, temps map[string]string) error {
	for _, name := range w.deletes {
		aside := tempName("old")
		if err := t.rename(name, aside); err != nil {
			return t.fail(name, err)
		}
		t.cleanup = append(t.cleanup, aside)
	}
	for _, r := range w.renames {
		if err := t.rename(r[0], r[1]); err != nil {
			return t.fail(r[0], err)
		}
	}
	for _, l := range w.newLinks {
		name, target := l.name, string(l.data)
		if err := os.Symlink(target, t.path(name)); err != nil {
			return t.fail(name, err)
		}
		t.undo = append(t.undo, func() error { return os.Remove(t.path(name)) })
	}
	for _, rw := range w.rewrites {
		name, old := rw.name, tempName("old")
		if err := os.Link(t.path(name), t.path(old)); err != nil {
			return t.fail(name, err)
		}
		t.undo = append(t.undo, func() error { return os.Remove(t.path(old)) })
		// Unlike t.rename, this replaces name: the old file stays as old
		// until the end, and the undo puts it back.
		if err := os.Rename(t.path(temps[name]), t.path(name)); err != nil {
			return t.fail(name, err)
		}
		t.undo = append(t.undo, func() error { return os.Rename(t.path(old), t.path(name)) })
		t.cleanup = append(t.cleanup, old)
	}
	return nil
}

// create makes a new file with data, or fails leaving nothing. The caller
// flushes all new files at once with syncFS.
func (t *txn) create(name string, data []byte, mode fs.FileMode) error {
	p := t.path(name)
	return createFile(p, data, mode, func() { t.undo = append(t.undo, func() error { return os.Remove(p) }) })
}

func (t *txn) rename(from, to string) error {
	if _, err := os.Lstat(t.path(to)); err == nil {
		return fmt.Errorf("rename %s to %s: %w", from, to, fs.ErrExist)
	}
	if err := os.Rename(t.path(from), t.path(to)); err != nil {
		return err
	}
	t.undo = append(t.undo, func() error { return os.Rename(t.path(to), t.path(from)) })
	return nil
}
