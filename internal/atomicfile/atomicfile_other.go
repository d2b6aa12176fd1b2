//go:build !linux

package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// On systems other than Linux the folder is not held open during the write,
// extended attributes and ACLs are not carried over, and symbolic links are
// followed without the root-only rule of internal/securefs.

func write(path string, data content, perm fs.FileMode, want *Meta, follow bool) error {
	if follow {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
	}
	meta := &Meta{Mode: perm.Perm(), UID: -1, GID: -1}
	if fi, err := os.Lstat(path); err == nil {
		switch {
		case !follow && fi.Mode()&fs.ModeSymlink != 0:
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%s: not a regular file", path)
		default:
			old, m, err := ReadMeta(path)
			if err != nil {
				return err
			}
			if data.same(old) && (want == nil || m.Mode.Perm() == want.Mode.Perm() && (want.ModTime == 0 || m.ModTime == want.ModTime)) {
				return nil
			}
			meta, meta.ModTime = m, 0
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if want != nil {
		meta = want
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".rootsync-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := data.writeTo(tmp); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if meta.UID >= 0 || meta.GID >= 0 {
		_ = tmp.Chown(meta.UID, meta.GID)
	}
	if err := tmp.Chmod(meta.Mode.Perm()); err != nil {
		return err
	}
	noteFlush(FlushFile, path)
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	if meta.ModTime != 0 {
		t := time.Unix(0, meta.ModTime)
		_ = os.Chtimes(path, t, t)
	}
	if dirSyncFault != nil {
		if err := dirSyncFault(dir); err != nil {
			return fmt.Errorf("%s: %w: %w", path, ErrDirSync, err)
		}
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("%s: %w: %w", path, ErrDirSync, err)
	}
	return nil
}

// ReadMeta reads a regular file and its mode, owner (where the system has
// one) and modification time.
func ReadMeta(path string) ([]byte, *Meta, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	m := &Meta{Mode: fi.Mode().Perm(), UID: -1, GID: -1, ModTime: fi.ModTime().UnixNano()}
	m.UID, m.GID = owner(fi)
	return b, m, nil
}

// CopyMeta gives the file to the mode and (where the system has one) owner
// of from.
func CopyMeta(from, to string) error {
	_, m, err := ReadMeta(from)
	if err != nil {
		return err
	}
	if m.UID >= 0 {
		_ = os.Lchown(to, m.UID, m.GID)
	}
	return os.Chmod(to, m.Mode.Perm())
}
