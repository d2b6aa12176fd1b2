//go:build windows

package lock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// tryLock takes an exclusive lock on the first byte of f without waiting
// (LockFileEx); it reports false when another handle holds it. The system
// drops the lock when the process ends.
func tryLock(f *os.File) (bool, error) {
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, new(windows.Overlapped))
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return false, nil
	}
	return err == nil, err
}

// openFolder opens the lock file that stands for dir: Windows cannot lock a
// folder handle, and no file is created in the store's folder. The lock
// files of all users and state folders live in %ProgramData%\rootsync\locks
// (writable by every user), named by the SHA-256 of the folder's absolute,
// lower-cased path, so that two rootsync processes take turns on a store
// whatever their state folders.
func openFolder(dir string) (*os.File, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	base := os.Getenv("ProgramData")
	if base == "" {
		base = os.TempDir()
	}
	locks := filepath.Join(base, "rootsync", "locks")
	if err := os.MkdirAll(locks, 0o755); err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(strings.ToLower(filepath.Clean(abs))))
	return os.OpenFile(filepath.Join(locks, hex.EncodeToString(sum[:])), os.O_RDWR|os.O_CREATE, 0o644)
}
