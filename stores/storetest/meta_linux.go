//go:build linux

package storetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// XattrDir returns a new folder on a file system that keeps user extended
// attributes and POSIX ACLs: t.TempDir() when it does (tmpfs may not), else
// a folder under /var/tmp, removed after the test.
func XattrDir(t testing.TB) string {
	t.Helper()
	for _, parent := range []string{"", "/var/tmp"} {
		var dir string
		if parent == "" {
			dir = t.TempDir()
		} else {
			d, err := os.MkdirTemp(parent, "rootsync-xattr-")
			if err != nil {
				continue
			}
			t.Cleanup(func() { os.RemoveAll(d) })
			dir = d
		}
		probe := filepath.Join(dir, ".probe")
		if err := os.WriteFile(probe, nil, 0o600); err != nil {
			continue
		}
		err := syscall.Setxattr(probe, "user.rootsync-probe", []byte("1"), 0)
		os.Remove(probe)
		if err == nil {
			return dir
		}
	}
	unavailable(t, "no folder keeps user extended attributes", errors.ErrUnsupported)
	return ""
}

// Metadata describes a file's owner, group, mode, POSIX ACL and extended
// attributes as getfacl and getfattr (Debian's acl and attr packages) print
// them, for comparing before and after a change.
func Metadata(t testing.TB, path string) string {
	t.Helper()
	getfacl, getfattr := Tool(t, "getfacl"), Tool(t, "getfattr")
	acl, err := exec.Command(getfacl, "--absolute-names", "--", path).CombinedOutput()
	if err != nil {
		t.Fatalf("getfacl %s: %v\n%s", path, err, acl)
	}
	attrs, err := exec.Command(getfattr, "--absolute-names", "-d", "-m", "-", "-e", "hex", "--", path).CombinedOutput()
	if err != nil {
		t.Fatalf("getfattr %s: %v\n%s", path, err, attrs)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return strings.Join([]string{
		fi.Mode().String(),
		fmt.Sprintf("uid %d gid %d", st.Uid, st.Gid),
		strings.TrimSpace(string(acl)),
		strings.TrimSpace(string(attrs)),
	}, "\n")
}
