//go:build unix

package atomicfile

import "golang.org/x/sys/unix"

// SetLinkTime sets the access and modification times of path to mtime (Unix
// nanoseconds) without following path when it is a symbolic link.
func SetLinkTime(path string, mtime int64) error {
	ts := []unix.Timespec{unix.NsecToTimespec(mtime), unix.NsecToTimespec(mtime)}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
}
