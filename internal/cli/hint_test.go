package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
)

// A folder rootsync may not write is named as the state folder when the
// failing path is the state folder, inside it or on the way to it, and as
// the store's folder otherwise.
func TestHintStateFolder(t *testing.T) {
	const state = "/var/lib/rootsync"
	denied := func(op, path string) error {
		return fmt.Errorf("state folder: %w", &fs.PathError{Op: op, Path: path, Err: syscall.EACCES})
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"the state folder", denied("mkdir", state), "state folder " + state},
		{"a parent of it", denied("mkdir", "/var/lib"), "state folder " + state},
		{"the lock", denied("open", state+"/lock"), "state folder " + state},
		{"a backup", fmt.Errorf("backup: %w", &os.LinkError{Op: "rename", Old: state + "/backups/x.tmp", New: state + "/backups/x", Err: syscall.EROFS}), "state folder " + state},
		{"a store next to it", denied("open", "/var/lib/rootsyncstore/ca.pem"), "the store's folder"},
		{"a store elsewhere", denied("open", "/etc/ssl/certs/ca.pem"), "the store's folder"},
		{"no path", errors.Join(syscall.EACCES), "the store's folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hintOf(tc.err, state); !strings.Contains(got, tc.want) {
				t.Errorf("hintOf(%v) = %q, want it to say %q", tc.err, got, tc.want)
			}
		})
	}
}
