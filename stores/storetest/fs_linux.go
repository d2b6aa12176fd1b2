//go:build linux

package storetest

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

// ReadOnly makes dir read-only for the rest of the test by bind-mounting it
// read-only over itself (as root, file modes alone do not stop writes). It
// fails the test in CI when that is impossible, and skips it elsewhere.
func ReadOnly(t testing.TB, dir string) {
	t.Helper()
	if err := syscall.Mount(dir, dir, "", syscall.MS_BIND, ""); err != nil {
		unavailable(t, "bind mount "+dir, err)
		return
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	if err := syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""); err != nil {
		unavailable(t, "remount read-only "+dir, err)
	}
}

// TinyFS mounts a tmpfs of size bytes on a new folder and returns it, to test
// a full disk.
func TinyFS(t testing.TB, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		unavailable(t, "mount tmpfs", err)
		return dir
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// NotRoot returns process attributes that run a program as user 1000 in a
// new user namespace (as root, p11-kit ignores per-user module files). It
// returns nil on systems without user namespaces.
func NotRoot() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 1000, HostID: os.Getuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 1000, HostID: os.Getgid(), Size: 1}},
	}
}
