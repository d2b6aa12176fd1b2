//go:build linux

package system

import (
	"os"
	"syscall"

	"github.com/rootsync/rootsync/stores"
)

// userNamespace runs a command in a new user namespace where the user is
// 1000, not 0.
func userNamespace() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 1000, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 1000, HostID: os.Getgid(), Size: 1}},
	}
}

// platformError is nil: the system kind is made for Linux distributions.
func platformError(stores.Spec) error { return nil }
