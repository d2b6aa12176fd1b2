//go:build !linux

package securefs

// On systems other than Linux, OpenFile, ReadFile and ReadFileIn refuse a
// link or special file only by looking before opening, which another process
// can race, and symbolic links on the way to a store are followed. Where a
// platform offers O_NOFOLLOW the final component of a state file is still
// never followed. Windows checks the owner and ACL of the state folder and of
// the files rootsync takes instructions from (securefs_windows.go); other
// systems check nothing (checks_other.go).

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// OpenFile opens a file in the state folder, refusing a symbolic link or a
// file that is not regular.
func OpenFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, errNotRegular(path, fi.Mode())
	}
	f, err := os.OpenFile(path, flag|oNoFollow, perm)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, errNotRegular(path, fi.Mode())
	}
	return f, nil
}

// ReadFile reads a file in the state folder opened with OpenFile, refusing
// one larger than max bytes (0: no limit).
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if max <= 0 {
		return io.ReadAll(f)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err == nil && int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return b, err
}

// OpenIn opens rel beneath root for reading, refusing names that leave root
// and links on the way (by looking first).
func OpenIn(root, rel string) (*os.File, error) {
	path := filepath.Join(root, rel)
	if filepath.IsAbs(rel) || !filepath.IsLocal(rel) {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("%s: %q is not a name beneath %s", path, rel, root)}
	}
	for p := path; ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return nil, errNotRegular(p, fi.Mode())
		}
		if p == filepath.Clean(root) || p == filepath.Dir(p) {
			break
		}
	}
	return OpenFile(path, os.O_RDONLY, 0)
}

// ReadFileIn reads rel beneath root as OpenIn opens it.
func ReadFileIn(root, rel string, max int64) ([]byte, error) {
	f, err := OpenIn(root, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err == nil && max > 0 && int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path(root, rel), max)
	}
	return b, err
}

func path(root, rel string) string { return filepath.Join(root, rel) }
