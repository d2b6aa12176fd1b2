package system

import (
	"fmt"
	"os"
	"testing"
)

// TestMain points TMPDIR at a folder removed afterwards: a refused Apply
// leaves the files it meant to write staged in a temporary folder for the
// administrator, and the tests should not leave those behind.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rootsync-system-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("TMPDIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
