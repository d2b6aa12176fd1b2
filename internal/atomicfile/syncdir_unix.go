//go:build unix

package atomicfile

import (
	"errors"
	"os"
	"syscall"
)

// SyncDir flushes a folder's entries (new names, renames, removals) to disk.
func SyncDir(dir string) error {
	noteFlush(FlushDir, dir)
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
