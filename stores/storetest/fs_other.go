//go:build !linux

package storetest

import (
	"syscall"
	"testing"
)

// ReadOnly skips the test: read-only bind mounts exist only on Linux.
func ReadOnly(t testing.TB, dir string) {
	t.Helper()
	t.Skip("read-only bind mounts need Linux")
}

// TinyFS skips the test: a size-limited tmpfs exists only on Linux.
func TinyFS(t testing.TB, size int) string {
	t.Helper()
	t.Skip("a size-limited tmpfs needs Linux")
	return ""
}

// XattrDir skips the test: extended attributes and POSIX ACLs are tested on
// Linux only.
func XattrDir(t testing.TB) string {
	t.Helper()
	t.Skip("extended attributes and POSIX ACLs are tested on Linux only")
	return ""
}

// Metadata skips the test: getfacl and getfattr are Linux tools.
func Metadata(t testing.TB, path string) string {
	t.Helper()
	t.Skip("getfacl and getfattr are Linux tools")
	return ""
}

// NotRoot returns nil: this system has no user namespaces.
func NotRoot() *syscall.SysProcAttr { return nil }
