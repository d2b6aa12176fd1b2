//go:build !unix

package debroot

import (
	"errors"
	"os"
)

// waitLock fails: Debian roots are built on Linux only.
func waitLock(*os.File) error { return errors.New("debroot: building a Debian root needs Linux") }
