//go:build linux

package capath

import (
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames the folder from to to, failing if to exists (also
// as an empty folder, which rename(2) would replace). Where the file system
// cannot refuse by itself (no RENAME_NOREPLACE), it looks first: the caller
// holds the folders' lock, so only a program other than rootsync could make
// to in between.
func renameNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS {
		if _, serr := os.Lstat(to); serr == nil {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
		}
		return os.Rename(from, to)
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// accessTime is fi's last access time.
func accessTime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atim.Sec, st.Atim.Nsec)
	}
	return fi.ModTime()
}

// openDirFD opens the folder dir for createFile and symlinkIn, which then
// name its entries relative to it: the system looks up one name per call
// instead of the whole path, and the folder cannot be swapped underneath.
// It returns -1 when dir cannot be opened (the calls then use paths).
func openDirFD(dir string) int {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}

func closeDirFD(fd int) {
	if fd >= 0 {
		unix.Close(fd)
	}
}

// createFile makes the new file name in the folder dfd (or, when dfd is -1,
// the file p) holding data with exactly mode (whatever the umask), calling
// created as soon as the file exists. p, its whole path, names it in
// errors. A new folder of many certificates is mostly this, so it goes to
// the system directly: one open (O_EXCL, O_NOFOLLOW: never through a link
// put there), one write call for the whole content and one close, with none
// of the bookkeeping of an *os.File; and an fchmod unless kept says the open
// already gives the file exactly mode (see modeKept).
func createFile(dfd int, name, p string, data []byte, mode fs.FileMode, kept bool, created func()) error {
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	var fd int
	var err error
	if dfd >= 0 {
		fd, err = unix.Openat(dfd, name, flags, uint32(mode.Perm()))
	} else {
		fd, err = unix.Open(p, flags, uint32(mode.Perm()))
	}
	if err != nil {
		return &fs.PathError{Op: "create", Path: p, Err: err}
	}
	created()
	err = writeAll(fd, data)
	if err == nil && !kept {
		err = unix.Fchmod(fd, uint32(mode.Perm()))
	}
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return &fs.PathError{Op: "write", Path: p, Err: err}
	}
	return nil
}

// symlinkIn makes the link name, to target, in the folder dfd (or, when dfd
// is -1, the link p).
func symlinkIn(dfd int, target, name, p string) error {
	if dfd < 0 {
		return os.Symlink(target, p)
	}
	if err := unix.Symlinkat(target, dfd, name); err != nil {
		return &os.LinkError{Op: "symlink", Old: target, New: p, Err: err}
	}
	return nil
}

// modeKept reports whether a file that open makes in dir with mode gets
// exactly mode: the process's umask (read from /proc/self/status) clears
// none of its bits, and dir has no default ACL (which would take the
// umask's place). When it cannot tell, it says no.
func modeKept(dir string, mode fs.FileMode) bool {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	umask := -1
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			if u, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				umask = int(u)
			}
			break
		}
	}
	if umask < 0 || uint32(umask)&uint32(mode.Perm()) != 0 {
		return false
	}
	_, err = unix.Getxattr(dir, "system.posix_acl_default", nil)
	return err == unix.ENODATA || err == unix.ENOTSUP
}

// writeAll writes data to fd: one call, unless the system takes less.
func writeAll(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}
