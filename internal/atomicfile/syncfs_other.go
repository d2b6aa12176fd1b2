//go:build !linux

package atomicfile

import (
	"os"
	"path/filepath"
)

// SyncFS flushes every regular file directly in each of dirs, then the
// folder itself (this system has no syncfs, so each file is flushed on its
// own).
func SyncFS(dirs ...string) error {
	for _, dir := range dirs {
		noteFlush(FlushFS, dir)
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
		if err := SyncDir(dir); err != nil {
			return err
		}
	}
	return nil
}
