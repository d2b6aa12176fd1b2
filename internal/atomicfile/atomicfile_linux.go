//go:build linux

package atomicfile

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rootsync/rootsync/internal/securefs"
)

func write(path string, data content, perm fs.FileMode, want *Meta, follow bool) error {
	var dir *os.File
	var dirPath, name string
	var err error
	if follow {
		dir, dirPath, name, err = securefs.OpenDir(path)
	} else {
		dirPath, name = filepath.Dir(path), filepath.Base(path)
		dir, err = os.OpenFile(dirPath, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return err
	}
	defer dir.Close()
	dfd := int(dir.Fd())
	full := filepath.Join(dirPath, name)

	meta := &Meta{Mode: perm.Perm(), UID: -1, GID: -1}
	var st unix.Stat_t
	err = unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
	case err != nil:
		return &fs.PathError{Op: "stat", Path: full, Err: err}
	case !follow && st.Mode&unix.S_IFMT == unix.S_IFLNK:
		// Replaced, never followed.
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%s: not a regular file", full)
	default:
		old, m, err := readAt(dfd, name, full)
		if err != nil {
			return err
		}
		if data.same(old) && (want == nil || sameMeta(m, want)) {
			return nil
		}
		meta = m
		meta.ModTime = 0 // a new version is new
	}
	if want != nil {
		meta = want
	}
	return replace(dfd, name, full, data, meta, want != nil)
}

// sameMeta reports whether a file with metadata have already has what want
// asks for (its modification time too, when want names one).
func sameMeta(have, want *Meta) bool {
	if have.Mode.Perm() != want.Mode.Perm() ||
		want.UID >= 0 && have.UID != want.UID || want.GID >= 0 && have.GID != want.GID ||
		want.ModTime != 0 && have.ModTime != want.ModTime {
		return false
	}
	root := os.Geteuid() == 0
	var kept []Xattr
	for _, x := range want.Xattrs {
		if KeepXattr(x.Name, root) {
			kept = append(kept, x)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Name < kept[j].Name })
	if len(kept) != len(have.Xattrs) {
		return false
	}
	for i := range kept {
		if kept[i].Name != have.Xattrs[i].Name || !bytes.Equal(kept[i].Value, have.Xattrs[i].Value) {
			return false
		}
	}
	return true
}

// ReadMeta reads a regular file and its metadata, following a link as Write
// does, opening without blocking (a FIFO is refused, not waited on).
func ReadMeta(path string) ([]byte, *Meta, error) {
	dir, dirPath, name, err := securefs.OpenDir(path)
	if err != nil {
		return nil, nil, err
	}
	defer dir.Close()
	return readAt(int(dir.Fd()), name, filepath.Join(dirPath, name))
}

func readAt(dfd int, name, full string) ([]byte, *Meta, error) {
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: full, Err: err}
	}
	f := os.NewFile(uintptr(fd), full)
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, nil, &fs.PathError{Op: "stat", Path: full, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, nil, fmt.Errorf("%s: not a regular file", full)
	}
	m := &Meta{Mode: fs.FileMode(st.Mode & 0o777), UID: int(st.Uid), GID: int(st.Gid), ModTime: unix.TimespecToNsec(st.Mtim)}
	if m.Xattrs, err = xattrs(fd); err != nil {
		return nil, nil, fmt.Errorf("%s: extended attributes: %w", full, err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", full, err)
	}
	return b, m, nil
}

// xattrs lists the attributes KeepXattr keeps, sorted by name.
func xattrs(fd int) ([]Xattr, error) {
	root := os.Geteuid() == 0
	var names []byte
	for size := 1024; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Flistxattr(fd, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		names = buf[:n]
		break
	}
	var out []Xattr
	for _, name := range strings.Split(string(names), "\x00") {
		if name == "" || !KeepXattr(name, root) {
			continue
		}
		for size := 256; ; size *= 4 {
			buf := make([]byte, size)
			n, err := unix.Fgetxattr(fd, name, buf)
			if errors.Is(err, unix.ERANGE) && size < 1<<20 {
				continue
			}
			if errors.Is(err, unix.ENODATA) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out = append(out, Xattr{Name: name, Value: buf[:n]})
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// replace writes data to a new file in the folder dfd with metadata m, then
// renames it over name. With exact, attributes the new file inherited (a
// default ACL) that m does not list are removed.
func replace(dfd int, name, full string, data content, m *Meta, exact bool) error {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := "." + name + ".rootsync-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(dfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &fs.PathError{Op: "create", Path: filepath.Join(filepath.Dir(full), tmp), Err: err}
	}
	f := os.NewFile(uintptr(fd), tmp)
	ok := false
	defer func() {
		if !ok {
			f.Close()
			_ = unix.Unlinkat(dfd, tmp, 0)
		}
	}()
	if err := data.writeTo(f); err != nil {
		return fmt.Errorf("%s: %w", full, err)
	}
	if err := setMeta(fd, m, exact); err != nil {
		return fmt.Errorf("%s: %w", full, err)
	}
	noteFlush(FlushFile, full)
	if err := f.Sync(); err != nil {
		return fmt.Errorf("%s: %w", full, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", full, err)
	}
	if err := unix.Renameat(dfd, tmp, dfd, name); err != nil {
		return &fs.PathError{Op: "rename", Path: full, Err: err}
	}
	ok = true
	if m.ModTime != 0 {
		ts := []unix.Timespec{unix.NsecToTimespec(m.ModTime), unix.NsecToTimespec(m.ModTime)}
		if err := unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("%s: setting the modification time: %w", full, err)
		}
	}
	if dirSyncFault != nil {
		if err := dirSyncFault(filepath.Dir(full)); err != nil {
			return fmt.Errorf("%s: %w: %w", full, ErrDirSync, err)
		}
	}
	noteFlush(FlushDir, filepath.Dir(full))
	if err := unix.Fsync(dfd); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("%s: %w: %s: %w", full, ErrDirSync, filepath.Dir(full), err)
	}
	return nil
}

func setMeta(fd int, m *Meta, exact bool) error {
	root := os.Geteuid() == 0
	if m.UID >= 0 || m.GID >= 0 {
		// Only root may give a file away; keeping the owner matters when
		// root rewrites a file someone else owns.
		if err := unix.Fchown(fd, m.UID, m.GID); err != nil && root {
			return fmt.Errorf("keeping owner %d:%d: %w", m.UID, m.GID, err)
		}
	}
	has := map[string]bool{}
	for _, x := range m.Xattrs {
		has[x.Name] = true
	}
	if !has["system.posix_acl_access"] {
		// A default ACL of the folder gave the new file an ACL the old one
		// did not have.
		if err := unix.Fremovexattr(fd, "system.posix_acl_access"); err != nil && !errors.Is(err, unix.ENODATA) && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("removing an inherited ACL: %w", err)
		}
	}
	if exact {
		if cur, err := xattrs(fd); err == nil {
			for _, x := range cur {
				if !has[x.Name] && x.Name != "system.posix_acl_access" {
					_ = unix.Fremovexattr(fd, x.Name)
				}
			}
		}
	}
	if err := unix.Fchmod(fd, uint32(m.Mode.Perm())); err != nil {
		return fmt.Errorf("keeping mode %04o: %w", m.Mode.Perm(), err)
	}
	for _, x := range m.Xattrs {
		if !KeepXattr(x.Name, root) {
			continue
		}
		if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
			return fmt.Errorf("keeping extended attribute %s: %w", x.Name, err)
		}
	}
	return nil
}

// CopyMeta gives the file to (a replacement rootsync is about to rename over
// from) the owner, group, mode, ACLs and extended attributes of from. A
// symbolic link at to is not followed.
func CopyMeta(from, to string) error {
	_, m, err := ReadMeta(from)
	if err != nil {
		return err
	}
	fd, err := unix.Open(to, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: to, Err: err}
	}
	defer unix.Close(fd)
	m.ModTime = 0
	if err := setMeta(fd, m, false); err != nil {
		return fmt.Errorf("%s: %w", to, err)
	}
	return nil
}
