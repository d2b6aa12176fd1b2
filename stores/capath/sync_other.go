//go:build !linux

package capath

import (
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// syncFS flushes every regular file in dir (this system has no syncfs, so
// each file is flushed on its own).
func syncFS(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, e.Name()), os.O_RDWR, 0)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// accessTime is fi's modification time: the folder's access time is not
// read on this system, so a rollback sets both times to the modification
// time.
func accessTime(fi fs.FileInfo) time.Time { return fi.ModTime() }

// createFile makes the new file p holding data with exactly mode (whatever
// the umask), calling created as soon as the file exists.
func createFile(p string, data []byte, mode fs.FileMode, created func()) error {
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
