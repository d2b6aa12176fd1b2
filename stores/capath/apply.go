package capath

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/capath/namehash"
	pemstore "github.com/rootsync/rootsync/stores/pem"
)

// maxLinks is how many HASH.N names OpenSSL's rehash uses per hash.
const maxLinks = 256

// work is what Apply will do, computed before anything is touched. New
// files and links are kept as what they are made from, not as names and
// contents: a new folder of 100,000 certificates plans 200,000 names.
type work struct {
	newFiles []*stores.Certificate // files to create, each named OwnedName(fingerprint)
	newLinks []newLink             // their HASH.N links
	rewrites []rewrite             // files to replace (foreign bundles that lose a block)
	deletes  []string              // names to remove
	renames  [][2]string           // link renumbering: from, to
}

// newLink is the link HASH.N to newFiles[file].
type newLink struct {
	hash uint32
	n    int32
	file int32
}

// rewrite is a file's new content.
type rewrite struct {
	name string
	data []byte
	mode fs.FileMode
}

func (w *work) empty() bool {
	return len(w.newFiles)+len(w.rewrites)+len(w.deletes)+len(w.renames)+len(w.newLinks) == 0
}

// linkName is the name HASH.N.
func linkName(hash uint32, n int) string {
	b := make([]byte, 0, 12)
	b = append(b, namehash.Hex(hash)...)
	b = append(b, '.')
	return string(strconv.AppendInt(b, int64(n), 10))
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
	f, err := s.scan()
	if err != nil {
		return err
	}
	p := newPlanner(s, f)
	if err := p.read(changes); err != nil {
		return err
	}
	w, err := p.plan(changes)
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

// planner holds what plan's phases share: the folder as scanned, the work
// so far, which entries go or are rewritten, which certificates each file
// holds, and which HASH.N names are taken.
type planner struct {
	s         *Store
	f         *folder
	w         *work
	deleted   []bool // by entry
	rewritten []bool // by entry
	// held lists which entry holds which certificate, sorted by
	// fingerprint, then entry.
	held []holding
	used hashNames
}

type holding struct {
	fp stores.Fingerprint
	i  int32
}

func newPlanner(s *Store, f *folder) *planner {
	return &planner{s: s, f: f, w: &work{},
		deleted: make([]bool, len(f.entries)), rewritten: make([]bool, len(f.entries))}
}

// read reads the folder's files: which certificates each holds, and the
// whole file of those that hold a certificate a Remove or SetTrust names
// (the files plan may edit).
func (p *planner) read(changes []stores.Change) error {
	edited := map[stores.Fingerprint]bool{}
	for _, ch := range changes {
		if ch.Action != stores.Add && ch.Entry != nil && ch.Entry.Cert != nil {
			edited[ch.Entry.Cert.Fingerprint] = true
		}
	}
	var buf []byte
	for i := range p.f.entries {
		pf, err := p.f.read(int32(i), &buf)
		if err != nil {
			return err
		}
		if pf == nil {
			continue
		}
		keep := false
		for _, b := range pf.Certificates() {
			p.held = append(p.held, holding{b.Cert.Fingerprint, int32(i)})
			keep = keep || edited[b.Cert.Fingerprint]
		}
		if keep {
			// The file outlives buf: parse a copy of its text.
			path := filepath.Join(p.f.dir, p.f.entries[i].name)
			if p.f.entries[i].file, err = pemstore.ParseFile(path, bytes.Clone(pf.Bytes())); err != nil {
				return err
			}
		}
	}
	slices.SortFunc(p.held, func(a, b holding) int {
		if c := bytes.Compare(a.fp[:], b.fp[:]); c != 0 {
			return c
		}
		return int(a.i - b.i)
	})
	return nil
}

// holds reports whether a file still in the folder holds a certificate with
// fingerprint fp (edits included: a file fp was removed from no longer holds
// it).
func (p *planner) holds(fp stores.Fingerprint) bool {
	return len(p.holders(fp, true)) > 0
}

// holders lists, in folder order, the files still in the folder that hold a
// certificate with fingerprint fp (edits included); with first, only the
// first. A file whose certificates an edit can change was read whole (see
// read).
func (p *planner) holders(fp stores.Fingerprint, first bool) []int32 {
	var out []int32
	k, _ := slices.BinarySearchFunc(p.held, fp, func(h holding, fp stores.Fingerprint) int { return bytes.Compare(h.fp[:], fp[:]) })
	for ; k < len(p.held) && p.held[k].fp == fp; k++ {
		i := p.held[k].i
		if p.deleted[i] || (len(out) > 0 && out[len(out)-1] == i) || !p.stillHolds(i, fp) {
			continue
		}
		out = append(out, i)
		if first {
			break
		}
	}
	return out
}

// stillHolds reports whether entry i, which held fp when it was read, holds
// it still.
func (p *planner) stillHolds(i int32, fp stores.Fingerprint) bool {
	e := &p.f.entries[i]
	if e.file == nil {
		return true // not read whole: no edit touched it
	}
	for _, b := range e.file.Certificates() {
		if b.Cert.Fingerprint == fp {
			return true
		}
	}
	return false
}

// plan turns changes into the work run carries out, in phases: the changes
// themselves (files that lose a certificate are deleted or rewritten, adds
// collected), links that no longer serve a certificate, the HASH.N names
// still taken, the new files and their links, and the renames that close the
// gaps in every HASH.N sequence.
func (p *planner) plan(changes []stores.Change) (*work, error) {
	adds, err := p.changes(changes)
	if err != nil {
		return nil, err
	}
	p.dropStaleLinks()
	p.takenNames()
	// Adds in fingerprint order, so that the links come out numbered as
	// openssl rehash numbers them (it takes files in name order).
	slices.SortStableFunc(adds, func(a, b *stores.Entry) int {
		return bytes.Compare(a.Cert.Fingerprint[:], b.Cert.Fingerprint[:])
	})
	for k, a := range adds {
		c := a.Cert
		if (k > 0 && adds[k-1].Cert.Fingerprint == c.Fingerprint) || p.holds(c.Fingerprint) {
			continue
		}
		if err := p.add(c); err != nil {
			return nil, err
		}
	}
	p.closeGaps()
	p.collect()
	return p.w, nil
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
			for _, i := range p.holders(c.Fingerprint, false) {
				h := &p.f.entries[i]
				h.file.Remove(c.Fingerprint)
				switch {
				case len(h.file.Blocks()) == 0:
					p.deleted[i] = true
					p.rewritten[i] = false
				case h.symlink:
					return nil, s.linkedBundle(h, c)
				default:
					p.rewritten[i] = true
				}
			}
		case stores.SetTrust:
			if err := pemstore.CheckWritable(s.dir, ch.Entry); err != nil {
				return nil, err
			}
			for _, i := range p.holders(c.Fingerprint, false) {
				h := &p.f.entries[i]
				if h.file.MakePlain(c.Fingerprint) {
					if h.symlink {
						return nil, s.linkedBundle(h, c)
					}
					p.rewritten[i] = true
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
	for i := range p.f.entries {
		e := &p.f.entries[i]
		if !e.link || p.deleted[i] {
			continue
		}
		h := p.f.holder(int32(i))
		if p.deleted[h] {
			p.deleted[i] = true
			continue
		}
		if p.rewritten[h] && !holdsHash(&p.f.entries[h], e.hash) {
			p.deleted[i] = true
		}
	}
}

// takenNames records which HASH.N names are taken once the deletions are
// done.
func (p *planner) takenNames() {
	p.used = newHashNames()
	for i := range p.f.entries {
		if e := &p.f.entries[i]; e.hashed && !p.deleted[i] {
			p.used.take(e.hash, e.n, int32(i))
		}
	}
}

// add plans the file rootsync-<fingerprint>.pem for c and, unless a link
// already names it, its HASH.N link under the lowest free N.
func (p *planner) add(c *stores.Certificate) error {
	s, f, w := p.s, p.f, p.w
	hash, err := namehash.SubjectHash(c.RawSubject)
	if err != nil {
		return &stores.Error{
			Path:  s.dir,
			Entry: c.Subject,
			Err:   fmt.Errorf("%w: OpenSSL could not use this certificate (%v), so it is not added", stores.ErrUnsupported, err),
			Hint:  "leave this certificate out of the capath target (exclude it); OpenSSL refuses to load it anyway",
		}
	}
	name := OwnedName(c.Fingerprint)
	if i := f.index(name); i >= 0 && !p.deleted[i] {
		return &stores.Error{
			Path:  filepath.Join(s.dir, name),
			Entry: c.Subject,
			Err:   errors.New("the file exists but does not hold this certificate"),
			Hint:  "remove or rename the file, then run again",
		}
	}
	file := int32(len(w.newFiles))
	w.newFiles = append(w.newFiles, c)
	if p.linked(hash, name) {
		return nil
	}
	n := p.used.free(hash)
	if n == maxLinks {
		return &stores.Error{Path: s.dir, Entry: c.Subject, Err: fmt.Errorf("all %d links for hash %s are taken", maxLinks, namehash.Hex(hash)), Hint: "remove unused certificates with this subject"}
	}
	p.used.take(hash, n, -1-int32(len(w.newLinks)))
	w.newLinks = append(w.newLinks, newLink{hash: hash, n: int32(n), file: file})
	return nil
}

// linked reports whether a link in the folder with hash names the file
// name (a new link cannot: each names a new file).
func (p *planner) linked(hash uint32, name string) bool {
	for k := p.used.first[hash]; k != 0; k = p.used.slots[k-1].next {
		if i := p.used.slots[k-1].who; i >= 0 && p.f.entries[i].link && p.f.refName(i) == name {
			return true
		}
	}
	return false
}

// closeGaps closes the gaps the deletions left: it moves the highest link of
// a hash into its lowest hole until none is left, renaming as few links as
// possible.
func (p *planner) closeGaps() {
	var hashes []uint32
	for i := range p.f.entries {
		if e := &p.f.entries[i]; p.deleted[i] && e.hashed {
			hashes = append(hashes, e.hash)
		}
	}
	slices.Sort(hashes)
	hashes = slices.Compact(hashes)
	for _, h := range hashes {
		// The hash's names by N. No new link is above a hole: each took
		// the lowest free N.
		u := map[int]string{}
		for k := p.used.first[h]; k != 0; k = p.used.slots[k-1].next {
			sl := p.used.slots[k-1]
			if sl.who >= 0 {
				u[sl.n] = p.f.entries[sl.who].name
			} else {
				u[sl.n] = linkName(h, sl.n)
			}
		}
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
			to := linkName(h, hole)
			p.w.renames = append(p.w.renames, [2]string{from, to})
			delete(u, top)
			u[hole] = to
		}
	}
}

// collect adds the deletions and rewrites, in folder order, to the work.
func (p *planner) collect() {
	for i := range p.f.entries {
		e := &p.f.entries[i]
		if p.deleted[i] {
			p.w.deletes = append(p.w.deletes, e.name)
		}
		if p.rewritten[i] {
			p.w.rewrites = append(p.w.rewrites, rewrite{name: e.name, data: e.file.Bytes(), mode: e.mode})
		}
	}
}

func holdsHash(e *entry, hash uint32) bool {
	if e.file == nil {
		return false
	}
	for _, b := range e.file.Certificates() {
		if h, err := namehash.SubjectHash(b.Cert.RawSubject); err == nil && h == hash {
			return true
		}
	}
	return false
}

// hashNames is the HASH.N bookkeeping: which N are taken for each hash, and
// by which name. The slots of a hash form a list (a hash rarely has more
// than one or two), so that the whole holds no pointers.
type hashNames struct {
	first map[uint32]int32 // hash -> its last-taken slot's index in slots, plus one
	slots []nameSlot
}

type nameSlot struct {
	n    int
	next int32 // the hash's previous slot, plus one (0: none)
	// who took the name: a folder entry (>= 0) or the new link -1-who.
	who int32
}

func newHashNames() hashNames { return hashNames{first: map[uint32]int32{}} }

// take marks HASH.N taken by who. Two names can have the same N (HASH.2
// and HASH.02): the later one taken stands for it.
func (u *hashNames) take(hash uint32, n int, who int32) {
	for k := u.first[hash]; k != 0; k = u.slots[k-1].next {
		if u.slots[k-1].n == n {
			u.slots[k-1].who = who
			return
		}
	}
	u.slots = append(u.slots, nameSlot{n: n, next: u.first[hash], who: who})
	u.first[hash] = int32(len(u.slots))
}

// free is the lowest N below maxLinks not taken for hash, or maxLinks.
func (u *hashNames) free(hash uint32) int {
	var taken [maxLinks / 64]uint64
	for k := u.first[hash]; k != 0; k = u.slots[k-1].next {
		if n := u.slots[k-1].n; n >= 0 && n < maxLinks {
			taken[n/64] |= 1 << (n % 64)
		}
	}
	for i, w := range taken {
		if w != ^uint64(0) {
			return i*64 + bits.TrailingZeros64(^w)
		}
	}
	return maxLinks
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
	dir string
	// shown is the folder errors name, when dir is a folder built under
	// another name (Stage); "" means dir.
	shown      string
	undo       []func() error
	cleanup    []string // names removed once everything succeeded
	hadDir     bool
	atime, mod time.Time
	// dfd is dir opened for the calls that make names in it (-1: none,
	// paths are used).
	dfd int
	// newModeKept: a file made in dir with newFileMode gets exactly that
	// mode (modeKept), so no chmod is needed.
	newModeKept bool
}

// newFileMode is the mode of the files Apply adds.
const newFileMode fs.FileMode = 0o644

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
	return tempPrefix + what + "-" + randomHex()
}

// randomHex is 12 random hex digits.
func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// run carries out the work all-or-nothing: on any error every step taken is
// undone. New files are written and flushed before any name points at them;
// then the names change (removals, renumbering, new links, rewritten files
// swapped in) and the folder is flushed.
func (s *Store) run(f *folder, w *work) (err error) {
	t := &txn{dir: s.dir, hadDir: f.exists, dfd: -1}
	defer func() {
		if err != nil {
			t.rollback()
		}
	}()
	if err := t.begin(); err != nil {
		return err
	}
	t.dfd = openDirFD(t.dir)
	defer closeDirFD(t.dfd)
	temps, err := t.writeFiles(w)
	if err != nil {
		return err
	}
	// One flush for every file written, before any name points at them
	// (cheaper than a sync per file, and just as durable).
	if err := atomicfile.SyncFS(s.dir); err != nil {
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
	if t.shown != "" {
		p = t.shown
	}
	if name != "" {
		p = filepath.Join(p, name)
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
	if len(w.newFiles) > 0 {
		t.newModeKept = modeKept(t.dir, newFileMode)
	}
	for _, c := range w.newFiles {
		name := OwnedName(c.Fingerprint)
		buf = stores.AppendCertificatePEM(buf[:0], c.DER)
		if err := t.create(name, buf, newFileMode); err != nil {
			return nil, t.fail(name, err)
		}
	}
	temps := map[string]string{}
	for _, rw := range w.rewrites {
		tmp := tempName("new")
		if err := t.create(tmp, rw.data, rw.mode); err != nil {
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
		name, target := linkName(l.hash, int(l.n)), OwnedName(w.newFiles[l.file].Fingerprint)
		if err := symlinkIn(t.dfd, target, name, t.path(name)); err != nil {
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
// flushes all new files at once with atomicfile.SyncFS.
func (t *txn) create(name string, data []byte, mode fs.FileMode) error {
	p := t.path(name)
	kept := mode == newFileMode && t.newModeKept
	return createFile(t.dfd, name, p, data, mode, kept, func() { t.undo = append(t.undo, func() error { return os.Remove(p) }) })
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
