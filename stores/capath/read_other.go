//go:build !linux

package capath

import (
	"io/fs"
	"os"
)

// readFile says whether path names a regular file (following links) and
// its mode; the caller reads it with stores.ReadFile (ok is always false
// for a regular file here).
func readFile(path string, buf []byte) (data []byte, mode fs.FileMode, skip, ok bool) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return buf, 0, true, true
	}
	return buf, fi.Mode().Perm(), false, false
}

// listDir says the folder must be listed with stores.ReadDir.
func listDir(dir string, add func(name []byte, symlink bool)) (ok bool) { return false }

// readLink is os.Readlink.
func readLink(path string, buf *[]byte) ([]byte, error) {
	t, err := os.Readlink(path)
	*buf = append((*buf)[:0], t...)
	return *buf, err
}
