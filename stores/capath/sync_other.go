//go:build !linux

package capath

import (
	"io/fs"
	"os"
	"time"
)

// renameNoReplace renames the folder from to to, failing if to exists. The
// caller holds the folders' lock, so only a program other than rootsync
// could make to between the look and the rename.
func renameNoReplace(from, to string) error {
	if _, err := os.Lstat(to); err == nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: fs.ErrExist}
	}
	return os.Rename(from, to)
}

// accessTime is fi's modification time: the folder's access time is not
// read on this system, so a rollback sets both times to the modification
// time.
func accessTime(fi fs.FileInfo) time.Time { return fi.ModTime() }

// openDirFD returns -1: here createFile and symlinkIn use paths.
func openDirFD(string) int { return -1 }

func closeDirFD(int) {}

// symlinkIn makes the link p to target.
func symlinkIn(_ int, target, _, p string) error { return os.Symlink(target, p) }

// createFile makes the new file p holding data with exactly mode (whatever
// the umask), calling created as soon as the file exists.
func createFile(_ int, _, p string, data []byte, mode fs.FileMode, _ bool, created func()) error {
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	created()
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Chmod(mode); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// modeKept says no: createFile always sets the mode here.
func modeKept(string, fs.FileMode) bool { return false }
