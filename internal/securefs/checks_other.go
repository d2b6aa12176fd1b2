//go:build !linux && !windows

package securefs

// On systems other than Linux and Windows rootsync does not enforce the
// rules: CheckStateDir, MkdirState (beyond creating the folder), CheckFile
// and CheckLinks check nothing, and ownership is not checked.

import (
	"fmt"
	"os"
)

func elevated() bool { return os.Geteuid() == 0 }

// CheckStateDir does nothing on this system.
func CheckStateDir(dir string) error { return nil }

// MkdirState creates the state folder dir (mode 0700) if it is missing.
func MkdirState(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	return nil
}

// CheckFile does nothing on this system.
func CheckFile(path, what string) error { return nil }

// CheckLinks does nothing on this system.
func CheckLinks(path string) error { return nil }
