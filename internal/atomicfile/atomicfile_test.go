package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// leftovers lists the temporary files Write left in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.Contains(e.Name(), ".rootsync-") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestWriteNewAndReplace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := Write(p, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o640 || read(t, p) != "one" {
		t.Fatalf("new file: %v %v %q", fi.Mode(), err, read(t, p))
	}
	if err := os.Chmod(p, 0o604); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, _ = os.Stat(p)
	if fi.Mode().Perm() != 0o604 || read(t, p) != "two" {
		t.Errorf("replaced file: mode %v content %q, want 0604 (kept) and %q", fi.Mode().Perm(), read(t, p), "two")
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}
}

func TestWriteSameContentTouchesNothing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("same"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	fail := errors.New("must not be called")
	dirSyncFault = func(string) error { return fail }
	t.Cleanup(func() { dirSyncFault = nil })
	if err := Write(p, []byte("same"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); !fi.ModTime().Equal(old) {
		t.Errorf("modification time changed to %v although the content was the same", fi.ModTime())
	}
}

func TestWriteFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	link := filepath.Join(dir, "link")
	os.WriteFile(real, []byte("old"), 0o644)
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	if err := Write(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced by a file: %v %v", fi.Mode(), err)
	}
	if read(t, real) != "new" {
		t.Errorf("link target holds %q", read(t, real))
	}
}

// TestWriteFailureLeavesOldFile: a write that fails before the rename (here:
// the folder is not writable, so no temporary file can be made) leaves the
// old file as it was and returns an error that is not ErrDirSync.
func TestWriteFailureLeavesOldFile(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only folders")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("old"), 0o644)
	os.Chmod(dir, 0o500)
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	err := Write(p, []byte("new"), 0o644)
	if err == nil || errors.Is(err, ErrDirSync) {
		t.Fatalf("Write into a read-only folder: %v, want an error that is not ErrDirSync", err)
	}
	if read(t, p) != "old" {
		t.Errorf("old file changed to %q", read(t, p))
	}
}

// TestWriteDirSyncFailure: when the folder sync after the rename fails, Write
// says so with ErrDirSync, and the file already holds the new content (the
// caller must treat it as changed).
func TestWriteDirSyncFailure(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("old"), 0o644)
	eio := syscall.EIO
	var synced []string
	dirSyncFault = func(d string) error { synced = append(synced, d); return eio }
	t.Cleanup(func() { dirSyncFault = nil })

	err := Write(p, []byte("new"), 0o644)
	if !errors.Is(err, ErrDirSync) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Write with a failing folder sync: %v, want ErrDirSync wrapping EIO", err)
	}
	if !strings.Contains(err.Error(), p) {
		t.Errorf("error %q does not name %s", err, p)
	}
	if len(synced) != 1 || synced[0] != dir {
		t.Errorf("synced %v, want [%s]", synced, dir)
	}
	if read(t, p) != "new" {
		t.Errorf("after a rename whose folder sync failed the file holds %q, want the new content", read(t, p))
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}
}

func TestSyncDirMissing(t *testing.T) {
	if err := SyncDir(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SyncDir of a missing folder: %v", err)
	}
}
