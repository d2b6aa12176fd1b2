// Package backup copies a store's files aside before rootsync changes them,
// and puts them back when a run is rolled back or a user asks for a restore.
//
// A backup is a folder STATE/backups/TIME-KIND-NAME holding manifest.json and
// the saved bytes. A saved folder means its direct contents: regular files
// (bytes, mode, modification time) and symbolic links; subfolders are left
// alone. The package never logs.
package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rootsync/rootsync/internal/atomicfile"
)

// Backup is one saved state of one store.
type Backup struct {
	Dir     string    `json:"-"`
	ID      string    `json:"-"`
	Store   string    `json:"store"`
	Created time.Time `json:"created"`
	Items   []Item    `json:"items"`
}

// Item is one saved path.
type Item struct {
	Path    string  `json:"path"`
	Kind    string  `json:"kind"` // file, dir or missing
	Mode    uint32  `json:"mode,omitempty"`
	ModTime int64   `json:"mtime,omitempty"`
	Entries []Entry `json:"entries,omitempty"` // for a dir
}

// Entry is one direct member of a saved folder.
type Entry struct {
	Name    string `json:"name"`
	Link    string `json:"link,omitempty"` // symbolic link target
	Mode    uint32 `json:"mode,omitempty"`
	ModTime int64  `json:"mtime,omitempty"`
}

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

// Take saves paths (files or folders; missing ones are recorded as missing)
// for store into a new backup under root.
func Take(root, store string, paths []string, now time.Time) (*Backup, error) {
	slug := strings.Trim(unsafeChars.ReplaceAllString(store, "-"), "-")
	if len(slug) > 80 {
		slug = slug[len(slug)-80:]
	}
	base := filepath.Join(root, "backups")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("backup folder: %w", err)
	}
	stamp := now.UTC().Format("20060102T150405.000000000Z")
	dir, err := os.MkdirTemp(base, stamp+"-"+slug+"-")
	if err != nil {
		return nil, fmt.Errorf("backup folder: %w", err)
	}
	b := &Backup{Dir: dir, ID: filepath.Base(dir), Store: store, Created: now.UTC()}
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
	if err := atomicfile.Write(filepath.Join(dir, "manifest.json"), m, 0o600); err != nil {
		return nil, err
	}
	ok = true
	return b, nil
}

func save(p, data string) (Item, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
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
		return it, copyFile(abs, filepath.Join(data, "file"))
	}
	it.Kind = "dir"
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
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			if e.Link, err = os.Readlink(full); err != nil {
				return it, err
			}
		case info.Mode().IsRegular():
			if err := copyFile(full, filepath.Join(data, de.Name())); err != nil {
				return it, err
			}
		default:
			continue
		}
		it.Entries = append(it.Entries, e)
	}
	return it, nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

// Restore puts every saved path back as it was: bytes, modes, modification
// times and links. Paths that were missing are removed; folder members added
// since are removed.
func (b *Backup) Restore() error {
	var errs []error
	for i, it := range b.Items {
		data := filepath.Join(b.Dir, "data", strconv.Itoa(i))
		if err := restore(it, data); err != nil {
			errs = append(errs, fmt.Errorf("restore %s: %w", it.Path, err))
		}
	}
	return errors.Join(errs...)
}

func restore(it Item, data string) error {
	switch it.Kind {
	case "missing":
		err := os.RemoveAll(it.Path)
		return err
	case "file":
		return putFile(it.Path, filepath.Join(data, "file"), fs.FileMode(it.Mode), it.ModTime)
	}
	if err := os.MkdirAll(it.Path, fs.FileMode(it.Mode)); err != nil {
		return err
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
			ts := []unix.Timespec{unix.NsecToTimespec(e.ModTime), unix.NsecToTimespec(e.ModTime)}
			_ = unix.UtimesNanoAt(unix.AT_FDCWD, dst, ts, unix.AT_SYMLINK_NOFOLLOW)
			continue
		}
		if fi, err := os.Lstat(dst); err == nil && !fi.Mode().IsRegular() {
			os.Remove(dst)
		}
		if err := putFile(dst, filepath.Join(data, e.Name), fs.FileMode(e.Mode), e.ModTime); err != nil {
			return err
		}
	}
	t := time.Unix(0, it.ModTime)
	_ = os.Chtimes(it.Path, t, t)
	return atomicfile.SyncDir(it.Path)
}

func putFile(dst, src string, mode fs.FileMode, mtime int64) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(dst, b, mode); err != nil {
		return err
	}
	if err := os.Chmod(dst, mode); err != nil {
		return err
	}
	t := time.Unix(0, mtime)
	return os.Chtimes(dst, t, t)
}

// Open reads the backup in dir.
func Open(dir string) (*Backup, error) {
	m, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", dir, err)
	}
	var b Backup
	if err := json.Unmarshal(m, &b); err != nil {
		return nil, fmt.Errorf("backup %s: manifest.json: %w", dir, err)
	}
	b.Dir, b.ID = dir, filepath.Base(dir)
	return &b, nil
}

// List returns the backups under root, newest first.
func List(root string) ([]*Backup, error) {
	ents, err := os.ReadDir(filepath.Join(root, "backups"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Backup
	for _, de := range ents {
		if !de.IsDir() {
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
func Prune(root string, keep int) error {
	all, err := List(root)
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
