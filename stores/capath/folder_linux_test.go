//go:build linux

package capath

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadFile: readFile reads regular files (through links too) into the
// buffer it is given, exactly, whatever the buffer held before; it skips
// what holds no certificates (absent, dangling links, folders, named pipes,
// which it must not wait on) and reports the file's mode.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "long.pem"), []byte(strings.Repeat("long text\n", 500)))
	short := writeFile(t, filepath.Join(dir, "short.pem"), []byte("short\n"))
	if err := os.Chmod(short, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("short.pem", filepath.Join(dir, "link.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("gone.pem", filepath.Join(dir, "dangling.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "folder"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf []byte
	for _, tc := range []struct {
		name string
		want string
		mode os.FileMode
		skip bool
	}{
		{"long.pem", strings.Repeat("long text\n", 500), 0o644, false},
		{"short.pem", "short\n", 0o640, false},
		{"link.pem", "short\n", 0o640, false},
		{"long.pem", strings.Repeat("long text\n", 500), 0o644, false},
		{"dangling.pem", "", 0, true},
		{"missing.pem", "", 0, true},
		{"folder", "", 0, true},
		{"fifo", "", 0, true},
	} {
		data, mode, skip, ok := readFile(filepath.Join(dir, tc.name), buf)
		if skip != tc.skip {
			t.Errorf("%s: skip = %v, want %v", tc.name, skip, tc.skip)
			continue
		}
		if skip {
			continue
		}
		if mode != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.name, mode, tc.mode)
		}
		if ok && string(data) != tc.want {
			t.Errorf("%s: read %d bytes %.20q..., want %d", tc.name, len(data), data, len(tc.want))
		}
		buf = data[:0]
	}
}
