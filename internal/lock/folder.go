package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"
)

// Folders is a set of held store-folder locks; Unlock releases them.
type Folders struct{ files []*os.File }

// AcquireFolders takes an exclusive flock on each folder (the folder itself
// is opened: no file is created in it; on Windows, which cannot lock a
// folder, a lock file named after it in %ProgramData%\rootsync\locks), in
// sorted order so that two runs
// never wait for each other in a circle, waiting up to wait in all. Two
// rootsync processes that write the same store therefore take turns whatever
// their state folders. A folder that does not exist is skipped. The error
// for a busy folder wraps ErrBusy and names it.
func AcquireFolders(ctx context.Context, dirs []string, wait time.Duration) (*Folders, error) {
	dirs = append([]string(nil), dirs...)
	sort.Strings(dirs)
	held := &Folders{}
	deadline := time.Now().Add(wait)
	for i, dir := range dirs {
		if i > 0 && dir == dirs[i-1] {
			continue
		}
		f, err := openFolder(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			held.Unlock()
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		if err := flockWait(ctx, f, deadline); err != nil {
			f.Close()
			held.Unlock()
			if errors.Is(err, ErrBusy) {
				return nil, fmt.Errorf("store folder %s is being written by another rootsync process; gave up after %s: %w", dir, wait, ErrBusy)
			}
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		held.files = append(held.files, f)
	}
	return held, nil
}

// flockWait takes an exclusive lock on f, polling until deadline. It
// returns ErrBusy when the deadline passed.
func flockWait(ctx context.Context, f *os.File, deadline time.Time) error {
	for {
		ok, err := tryLock(f)
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return ErrBusy
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Unlock releases every folder lock (closing a folder drops its flock).
func (h *Folders) Unlock() {
	if h == nil {
		return
	}
	for i := len(h.files) - 1; i >= 0; i-- {
		h.files[i].Close()
	}
	h.files = nil
}
