// Package lock makes rootsync runs take turns: a writing run holds an
// exclusive flock on STATE/lock. The kernel drops the lock when the process
// dies, so a run killed with SIGKILL never leaves a stale lock behind.
// AcquireFolders then locks the folders of the stores a run writes (an flock
// on the folder itself), so that runs with different state folders take
// turns on a store too.
//
// Taking the lock is where rootsync first acts on its state folder, so
// Acquire checks the folder (as root: owned by root, writable by nobody else,
// see internal/securefs) and opens the lock file without following a
// symbolic link.
package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rootsync/rootsync/internal/securefs"
)

// ErrBusy is returned when another run still holds the lock after the wait.
var ErrBusy = errors.New("another rootsync run holds the lock")

// Lock is a held lock; Unlock releases it.
type Lock struct{ f *os.File }

// Acquire takes the lock in stateDir, waiting up to wait. The error for a
// busy lock wraps ErrBusy and names the holder's process id when known; a
// state folder or lock file root must not trust is an error wrapping
// securefs.ErrUnsafe, and nothing is written then.
func Acquire(ctx context.Context, stateDir string, wait time.Duration) (*Lock, error) {
	if err := securefs.MkdirState(stateDir); err != nil {
		return nil, err
	}
	path := filepath.Join(stateDir, "lock")
	f, err := securefs.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			holder, _ := os.ReadFile(path)
			f.Close()
			who := strings.TrimSpace(string(holder))
			if who != "" {
				who = " (process " + who + ")"
			}
			return nil, fmt.Errorf("%s%s after waiting %s: %w", path, who, wait, ErrBusy)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	_ = l.f.Truncate(0)
	return l.f.Close()
}
