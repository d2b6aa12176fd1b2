//go:build windows

package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// SyncDir checks that dir is a folder and flushes nothing: Windows cannot
// flush a folder (FlushFileBuffers on a folder handle is refused), and NTFS
// journals its folder entries itself.
func SyncDir(dir string) error {
	noteFlush(FlushDir, dir)
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s: %w", dir, errors.Join(errors.New("not a folder"), fs.ErrInvalid))
	}
	return nil
}
