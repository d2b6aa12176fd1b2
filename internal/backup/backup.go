// Package backup copies a store's files aside before rootsync changes them,
// and puts them back when a run is rolled back or a user asks for a restore.
//
// A backup is a folder STATE/backups/TIME-KIND-NAME holding manifest.json and
// the saved bytes. A saved file keeps its bytes, mode, owner, group,
// modification time, POSIX ACLs and extended attributes (those
// atomicfile.KeepXattr keeps). A saved folder means its direct contents:
// regular files (as above) and symbolic links; subfolders are left alone.
//
// A manifest is data to check, never instructions: Open refuses one that
// names a path that is not absolute and clean, a member that is not directly
// in its folder, a setuid, setgid or sticky bit, security.capability, or
// anything but files, folders and links; a backup's files are read beneath
// its folder without following links (internal/securefs); and a restore
// creates nothing but regular files, folders and symbolic links. As root,
// a symbolic link on the way to a saved path is followed only in a folder no
// other user can write. The package never logs.
package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/internal/securefs"
)

// Backup is one saved state of one store.
type Backup struct {
	Dir     string    `json:"-"`
	ID      string    `json:"-"`
	Store   string    `json:"store"`
	Created time.Time `json:"created"`
	Items   []Item    `json:"items"`
	// State is the saved state of a store that is no files (a
	// stores.StateSaver, such as a Windows certificate store), as its
	// SaveState returned it; Restore leaves it to the caller.
	State []byte `json:"state,omitempty"`
}

// Item is one saved path.
type Item struct {
	Path    string             `json:"path"`
	Kind    string             `json:"kind"` // file, dir or missing
	Mode    uint32             `json:"mode,omitempty"`
	ModTime int64              `json:"mtime,omitempty"`
	Owner   *Owner             `json:"owner,omitempty"`
	Xattrs  []atomicfile.Xattr `json:"xattrs,omitempty"`
	Entries []Entry            `json:"entries,omitempty"` // for a dir
}

// Entry is one direct member of a saved folder.
type Entry struct {
	Name    string             `json:"name"`
	Link    string             `json:"link,omitempty"` // symbolic link target
	Mode    uint32             `json:"mode,omitempty"`
	ModTime int64              `json:"mtime,omitempty"`
	Owner   *Owner             `json:"owner,omitempty"`
	Xattrs  []atomicfile.Xattr `json:"xattrs,omitempty"`
}

// Owner is a saved file's owner and group. A manifest without one (written
// before owners were saved) leaves a restored file's owner as it is.
type Owner struct {
	UID int `json:"uid"`
	GID int `json:"gid"`
}

// ErrInvalid is wrapped by Open's error for a manifest that is not one
// rootsync writes.
var ErrInvalid = errors.New("not a valid backup manifest")

// DefaultRoot is where backups and other state live: $ROOTSYNC_STATE_DIR, or
// /var/lib/rootsync for root, or $XDG_STATE_HOME/rootsync
// (~/.local/state/rootsync) for everyone else.
func DefaultRoot() string {
	if d := os.Getenv("ROOTSYNC_STATE_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/rootsync"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "rootsync")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "state", "rootsync")
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// stampLayout is the time stamp a backup folder's name starts with.
const stampLayout = "20060102T150405.000000000Z"

// Take saves paths (files or folders; missing ones are recorded as missing)
// for store into a new backup under root.
func Take(root, store string, paths []string, now time.Time) (*Backup, error) {
	return TakeState(root, store, paths, nil, now)
}

// TakeState is Take for a store that is more than files: state (what the
// store's SaveState returned) is kept in the manifest too.
func TakeState(root, store string, paths []string, state []byte, now time.Time) (*Backup, error) {
	return take(root, store, paths, state, now, true)
}

// TakeUnflushed is TakeState without its flush: the saved bytes and the
// manifest are written but not flushed, so that the caller makes them
// durable together with what it writes next, with one flush of the state
// folder's file system (journal.Publish makes it) before anything names the
// backup. A crash before that flush can leave the backup without a manifest
// or with a broken one, which List skips. Where there is no syncfs (systems
// other than Linux) the manifest is flushed as TakeState flushes it.
func TakeUnflushed(root, store string, paths []string, state []byte, now time.Time) (*Backup, error) {
	return take(root, store, paths, state, now, runtime.GOOS != "linux")
}

func take(root, store string, paths []string, state []byte, now time.Time, flush bool) (*Backup, error) {
	slug := strings.Trim(unsafeChars.ReplaceAllString(store, "-"), "-")
	if len(slug) > 80 {
		slug = slug[len(slug)-80:]
	}
	base := filepath.Join(root, "backups")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("backup folder: %w", err)
	}
	if err := securefs.CheckStateDir(base); err != nil {
		return nil, err
	}
	stamp := now.UTC().Format(stampLayout)
	dir, err := os.MkdirTemp(base, stamp+"-"+slug+"-")
	if err != nil {
		return nil, fmt.Errorf("backup folder: %w", err)
	}
	b := &Backup{Dir: dir, ID: filepath.Base(dir), Store: store, Created: now.UTC(), State: state}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	for i, p := range paths {
		it, err := save(p, filepath.Join(dir, "data", strconv.Itoa(i)))
		if err != nil {
			return nil, fmt.Errorf("back up %s: %w", p, err)
		}
		b.Items = append(b.Items, it)
	}
	m, _ := json.MarshalIndent(b, "", "  ")
	if flush {
		if err := atomicfile.WriteNoFollow(filepath.Join(dir, "manifest.json"), m, 0o600); err != nil {
			return nil, err
		}
	} else if err := writeNew(filepath.Join(dir, "manifest.json"), m); err != nil {
		return nil, err
	}
	ok = true
	return b, nil
}

// writeNew writes data to the new file path (never through a link put
// there), without flushing it.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func save(p, data string) (Item, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return Item{}, err
	}
	if err := securefs.CheckLinks(abs); err != nil {
		return Item{}, err
	}
	fi, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return Item{Path: abs, Kind: "missing"}, nil
	}
	if err != nil {
		return Item{}, err
	}
	it := Item{Path: abs, Mode: uint32(fi.Mode().Perm()), ModTime: fi.ModTime().UnixNano()}
	if !fi.IsDir() {
		it.Kind = "file"
		m, err := copyFile(abs, filepath.Join(data, "file"))
		if err != nil {
			return it, err
		}
		it.Mode, it.Owner, it.Xattrs = uint32(m.Mode), &Owner{m.UID, m.GID}, m.Xattrs
		return it, nil
	}
	it.Kind = "dir"
	if uid, gid, ok := ownerOf(fi); ok {
		it.Owner = &Owner{uid, gid}
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return it, err
	}
	ents, err := os.ReadDir(abs)
	if err != nil {
		return it, err
	}
	for _, de := range ents {
		full := filepath.Join(abs, de.Name())
		info, err := os.Lstat(full)
		if err != nil {
			return it, err
		}
		e := Entry{Name: de.Name(), Mode: uint32(info.Mode().Perm()), ModTime: info.ModTime().UnixNano()}
		if uid, gid, ok := ownerOf(info); ok {
			e.Owner = &Owner{uid, gid}
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			if e.Link, err = os.Readlink(full); err != nil {
				return it, err
			}
		case info.Mode().IsRegular():
			m, err := copyFile(full, filepath.Join(data, de.Name()))
			if err != nil {
				return it, err
			}
			e.Mode, e.Owner, e.Xattrs = uint32(m.Mode), &Owner{m.UID, m.GID}, m.Xattrs
		default:
			continue
		}
		it.Entries = append(it.Entries, e)
	}
	return it, nil
}

// copyFile saves src's bytes to dst and returns src's metadata.
func copyFile(src, dst string) (*atomicfile.Meta, error) {
	b, m, err := atomicfile.ReadMeta(src)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return nil, err
	}
	return m, os.WriteFile(dst, b, 0o600)
}

// Restore puts every saved path back as it was: bytes, modes, owners,
// ACLs, extended attributes, modification times and links. Paths that were
// missing are removed; folder members added since are removed.
func (b *Backup) Restore() error {
	if err := b.check(); err != nil {
		return err
	}
	var errs []error
	for i, it := range b.Items {
		if err := b.restore(it, filepath.Join("data", strconv.Itoa(i))); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", it.Path, err))
		}
	}
	return errors.Join(errs...)
}

func (b *Backup) restore(it Item, data string) error {
	if err := securefs.CheckLinks(it.Path); err != nil {
		return err
	}
	switch it.Kind {
	case "missing":
		if err := os.RemoveAll(it.Path); err != nil {
			return err
		}
		// The removal must be on disk before the journal that asked for it
		// goes.
		if err := atomicfile.SyncDir(filepath.Dir(it.Path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	case "file":
		return b.putFile(it.Path, filepath.Join(data, "file"), it.Mode, it.ModTime, it.Owner, it.Xattrs)
	}
	if _, err := os.Lstat(it.Path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(it.Path, fs.FileMode(it.Mode)); err != nil {
			return err
		}
		if err := os.Chmod(it.Path, fs.FileMode(it.Mode)); err != nil {
			return err
		}
		if it.Owner != nil {
			if err := os.Lchown(it.Path, it.Owner.UID, it.Owner.GID); err != nil && os.Geteuid() == 0 {
				return err
			}
		}
	}
	keep := map[string]bool{}
	for _, e := range it.Entries {
		keep[e.Name] = true
	}
	ents, err := os.ReadDir(it.Path)
	if err != nil {
		return err
	}
	for _, de := range ents {
		if !keep[de.Name()] && !de.IsDir() {
			if err := os.Remove(filepath.Join(it.Path, de.Name())); err != nil {
				return err
			}
		}
	}
	for _, e := range it.Entries {
		dst := filepath.Join(it.Path, e.Name)
		if e.Link != "" {
			if cur, err := os.Readlink(dst); err == nil && cur == e.Link {
				continue
			}
			os.Remove(dst)
			if err := os.Symlink(e.Link, dst); err != nil {
				return err
			}
			if e.Owner != nil {
				_ = os.Lchown(dst, e.Owner.UID, e.Owner.GID)
			}
			_ = atomicfile.SetLinkTime(dst, e.ModTime)
			continue
		}
		if fi, err := os.Lstat(dst); err == nil && !fi.Mode().IsRegular() {
			os.Remove(dst)
		}
		if err := b.putFile(dst, filepath.Join(data, e.Name), e.Mode, e.ModTime, e.Owner, e.Xattrs); err != nil {
			return err
		}
	}
	t := time.Unix(0, it.ModTime)
	_ = os.Chtimes(it.Path, t, t)
	return atomicfile.SyncDir(it.Path)
}

// putFile writes the saved bytes rel (beneath the backup's folder) to dst
// with the saved metadata.
func (b *Backup) putFile(dst, rel string, mode uint32, mtime int64, owner *Owner, xattrs []atomicfile.Xattr) error {
	data, err := securefs.ReadFileIn(b.Dir, rel, 0)
	if err != nil {
		return err
	}
	m := &atomicfile.Meta{Mode: fs.FileMode(mode), UID: -1, GID: -1, Xattrs: xattrs, ModTime: mtime}
	if owner != nil {
		m.UID, m.GID = owner.UID, owner.GID
	} else if fi, err := os.Lstat(dst); err == nil {
		// A manifest from before owners were saved: keep today's owner.
		m.UID, m.GID, _ = ownerOf(fi)
	}
	if m.ModTime == 0 {
		m.ModTime = time.Now().UnixNano()
	}
	return atomicfile.WriteMeta(dst, data, m)
}

// check refuses a manifest rootsync would not have written: the manifest
// is data, never instructions.
func (b *Backup) check() error {
	bad := func(where, format string, args ...any) error {
		return fmt.Errorf("backup %s: manifest.json: %s: %w: %s", b.Dir, where, ErrInvalid, fmt.Sprintf(format, args...))
	}
	if b.Store == "" {
		return bad("store", "no store named")
	}
	xattrs := func(where string, xs []atomicfile.Xattr) error {
		for _, x := range xs {
			if !atomicfile.KeepXattr(x.Name, true) {
				return bad(where, "extended attribute %q is never restored", x.Name)
			}
		}
		return nil
	}
	for i, it := range b.Items {
		where := fmt.Sprintf("item %d (%s)", i+1, it.Path)
		if !filepath.IsAbs(it.Path) || filepath.Clean(it.Path) != it.Path || it.Path == "/" || strings.ContainsRune(it.Path, 0) {
			return bad(where, "not a clean absolute path")
		}
		switch it.Kind {
		case "missing", "file", "dir":
		default:
			return bad(where, "kind %q is not file, dir or missing", it.Kind)
		}
		if it.Mode&^0o777 != 0 {
			return bad(where, "mode %04o sets setuid, setgid or sticky bits (or a file type)", it.Mode)
		}
		if err := xattrs(where, it.Xattrs); err != nil {
			return err
		}
		if it.Kind != "dir" && len(it.Entries) > 0 {
			return bad(where, "a %s has no members", it.Kind)
		}
		for _, e := range it.Entries {
			ew := fmt.Sprintf("%s member %q", where, e.Name)
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, "/\x00") {
				return bad(ew, "not a name directly in the folder")
			}
			if e.Mode&^0o777 != 0 {
				return bad(ew, "mode %04o sets setuid, setgid or sticky bits (or a file type)", e.Mode)
			}
			if strings.ContainsRune(e.Link, 0) {
				return bad(ew, "link target holds a NUL byte")
			}
			if err := xattrs(ew, e.Xattrs); err != nil {
				return err
			}
		}
	}
	return nil
}

// Within checks that every path the backup restores is one of paths (a
// store's Paths()): a restore changes nothing outside the store it was
// taken of.
func (b *Backup) Within(paths []string) error {
	allowed := map[string]bool{}
	for _, p := range paths {
		if abs, err := filepath.Abs(p); err == nil {
			allowed[abs] = true
		}
	}
	for i, it := range b.Items {
		if !allowed[it.Path] {
			return fmt.Errorf("backup %s: manifest.json: item %d: %w: %s is not a path of %s", b.Dir, i+1, ErrInvalid, it.Path, b.Store)
		}
	}
	return nil
}

// Open reads the backup in dir and checks its manifest: an error wraps
// ErrInvalid for a manifest rootsync would not have written, and
// securefs.ErrUnsafe for a manifest reached through a symbolic link or not
// owned by root (as root).
func Open(dir string) (*Backup, error) {
	m, err := securefs.ReadFileIn(dir, "manifest.json", securefs.MaxStateFile)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", dir, err)
	}
	var b Backup
	if err := json.Unmarshal(m, &b); err != nil {
		return nil, fmt.Errorf("backup %s: manifest.json: %w", dir, err)
	}
	b.Dir, b.ID = dir, filepath.Base(dir)
	if err := b.check(); err != nil {
		return nil, err
	}
	return &b, nil
}

// List returns the backups under root, newest first.
func List(root string) ([]*Backup, error) { return list(root, nil) }

// list is List of the backups whose folder name read accepts (all when read
// is nil).
func list(root string, read func(name string) bool) ([]*Backup, error) {
	ents, err := os.ReadDir(filepath.Join(root, "backups"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Backup
	for _, de := range ents {
		if !de.IsDir() || read != nil && !read(de.Name()) {
			continue
		}
		b, err := Open(filepath.Join(root, "backups", de.Name()))
		if err != nil {
			continue // a backup interrupted before its manifest was written
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// Find returns the backup whose ID is id or starts with it.
func Find(root, id string) (*Backup, error) {
	all, err := List(root)
	if err != nil {
		return nil, err
	}
	var hits []*Backup
	for _, b := range all {
		if b.ID == id {
			return b, nil
		}
		if strings.HasPrefix(b.ID, id) {
			hits = append(hits, b)
		}
	}
	switch len(hits) {
	case 0:
		return nil, fmt.Errorf("no backup %q under %s", id, filepath.Join(root, "backups"))
	case 1:
		return hits[0], nil
	}
	return nil, fmt.Errorf("%d backups start with %q; give more of the name", len(hits), id)
}

// Prune keeps the newest keep backups of each store and removes the rest.
// A backup's folder name holds its store's slug, so it reads the manifests
// only of the backups whose slug more than keep folders share: a store whose
// folders are at most keep has nothing to remove, and a run that backs up
// one store reads about keep manifests, not every backup's.
func Prune(root string, keep int) error {
	ents, err := os.ReadDir(filepath.Join(root, "backups"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	bySlug := map[string]int{}
	for _, de := range ents {
		if !de.IsDir() {
			continue
		}
		slug, ok := slugOf(de.Name())
		if !ok {
			return prune(root, keep, nil) // a folder named otherwise: read them all
		}
		bySlug[slug]++
	}
	return prune(root, keep, func(name string) bool {
		slug, _ := slugOf(name)
		return bySlug[slug] > keep
	})
}

// prune is Prune over the backups whose folder name read accepts (all of
// them when read is nil).
func prune(root string, keep int, read func(name string) bool) error {
	all, err := list(root, read)
	if err != nil {
		return err
	}
	seen := map[string]int{}
	var errs []error
	for _, b := range all {
		seen[b.Store]++
		if seen[b.Store] > keep {
			if err := os.RemoveAll(b.Dir); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// slugOf is the store slug in a backup folder's name as TakeState makes it:
// the time stamp, the slug and MkdirTemp's random digits, joined by dashes.
func slugOf(name string) (string, bool) {
	n := len(stampLayout)
	if len(name) < n+2 || name[n] != '-' {
		return "", false
	}
	if _, err := time.Parse(stampLayout, name[:n]); err != nil {
		return "", false
	}
	rest := name[n+1:]
	i := strings.LastIndexByte(rest, '-')
	if i < 0 || i == len(rest)-1 {
		return "", false
	}
	for _, c := range rest[i+1:] {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return rest[:i], true
}
