package capath

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/stores"
)

// stagedInfix follows ".NAME" in the name of a folder Stage builds beside
// the folder NAME it will become.
const stagedInfix = ".rootsync-new-"

// Stage builds a folder that does not exist yet whole, under a temporary
// name beside it (.NAME.rootsync-new-RANDOM): the certificate files and
// their HASH.N links, none of it flushed. Commit renames it into place, so
// that no reader ever sees the folder part-written, and the caller flushes
// the new files in one flush with its own records (a transaction's journal)
// instead of one flush for each. The files are on disk before the folder
// that links to them takes its name. Stage stages nothing for a folder that
// exists, or whose parent folder does not: Apply then changes the folder in
// place.
func (s *Store) Stage(ctx context.Context, changes []stores.Change) (stores.Staged, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	if _, err := os.Lstat(s.dir); !errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	parent := filepath.Dir(s.dir)
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return nil, nil
	}
	f, err := s.scan()
	if err != nil {
		return nil, err
	}
	if f.exists {
		return nil, nil
	}
	removeStaleStaged(s.dir)
	w, err := newPlanner(s, f).plan(changes)
	if err != nil {
		return nil, err
	}
	if w.empty() || len(w.rewrites)+len(w.deletes)+len(w.renames) > 0 {
		// Nothing to write, or (never for a new folder) names to change.
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := &staged{s: s, dir: filepath.Join(parent, "."+filepath.Base(s.dir)+stagedInfix+randomHex())}
	t := &txn{dir: st.dir, shown: s.dir, dfd: -1}
	if err := t.begin(); err != nil {
		return nil, err
	}
	t.dfd = openDirFD(t.dir)
	defer closeDirFD(t.dfd)
	if _, err := t.writeFiles(w); err != nil {
		t.rollback()
		return nil, err
	}
	if err := t.changeNames(w, nil); err != nil {
		t.rollback()
		return nil, err
	}
	return st, nil
}

// staged is a new folder Stage built.
type staged struct {
	s   *Store
	dir string // where it was built
}

// Dirs is the folder built.
func (st *staged) Dirs() []string { return []string{st.dir} }

// Commit gives the folder built its name (never over one that appeared
// since) and flushes the parent folder.
func (st *staged) Commit() error {
	if err := renameNoReplace(st.dir, st.s.dir); err != nil {
		_ = st.Discard()
		return &stores.Error{Path: st.s.dir, Err: err, Hint: "check that the folder's parent is writable and that nothing else made the folder meanwhile; nothing was changed"}
	}
	if err := atomicfile.SyncDir(filepath.Dir(st.s.dir)); err != nil {
		return &stores.Error{Path: st.s.dir, Err: fmt.Errorf("%w: %w", atomicfile.ErrDirSync, err), Hint: "check the disk; the folder is rolled back"}
	}
	return nil
}

// Discard removes the folder built.
func (st *staged) Discard() error { return os.RemoveAll(st.dir) }

// removeStaleStaged removes the folders a Stage for dir built and a killed
// process never committed nor discarded: folders beside dir named as Stage
// names them and holding nothing but rootsync's certificate files and
// links. The caller holds the lock of dir's parent folder, so no other
// rootsync is building one.
func removeStaleStaged(dir string) {
	prefix := "." + filepath.Base(dir) + stagedInfix
	ents, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.IsDir() || !isHex(rest, 12) {
			continue
		}
		p := filepath.Join(filepath.Dir(dir), e.Name())
		if onlyOwnEntries(p) {
			_ = os.RemoveAll(p)
		}
	}
}

// onlyOwnEntries reports whether the folder holds nothing but files named
// as rootsync names its certificate files, and links.
func onlyOwnEntries(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		switch {
		case e.Type()&fs.ModeSymlink != 0:
		case e.Type().IsRegular() && isOwnedName(e.Name()):
		default:
			return false
		}
	}
	return true
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
