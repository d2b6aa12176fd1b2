//go:build unix

package debroot

import (
	"os"
	"syscall"
)

// waitLock waits for an exclusive flock on f, so that concurrent test
// binaries build the base once.
func waitLock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
