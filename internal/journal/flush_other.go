//go:build !linux

package journal

import (
	"os"

	"github.com/rootsync/rootsync/internal/atomicfile"
)

// flushStaged makes the staged journal and what the caller wrote in dirs
// durable (the backup flushed itself: backup.TakeUnflushed does where there
// is no syncfs): the journal file, then each of dirs' files.
func flushStaged(staged, _ string, dirs []string) error {
	f, err := os.OpenFile(staged, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || len(dirs) == 0 {
		return err
	}
	return atomicfile.SyncFS(dirs...)
}
