//go:build !linux

package system

import (
	"fmt"
	"runtime"
	"syscall"

	"github.com/rootsync/rootsync/stores"
)

// userNamespace is nil: user namespaces exist only on Linux (and Open
// refuses the system kind before a command runs).
func userNamespace() *syscall.SysProcAttr { return nil }

// platformError refuses the system kind: it writes a Linux distribution's
// trust store through the distribution's own tool.
func platformError(spec stores.Spec) error {
	hint := "the system kind is not supported on " + runtime.GOOS + " yet; name a file-based store instead (pem:FILE, capath:DIR, nss:DIR, p12:FILE, jks:FILE)"
	if runtime.GOOS == "windows" {
		hint = "on Windows the system's stores are windows:LocalMachine/Root and windows:CurrentUser/Root"
	}
	return &stores.Error{Path: spec.String(),
		Err:  fmt.Errorf("the system kind writes a Linux distribution's trust store: %w", stores.ErrPlatform),
		Hint: hint}
}
