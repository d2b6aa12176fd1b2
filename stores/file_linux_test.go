//go:build linux

package stores_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootsync/rootsync/stores"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	regular := write("regular", []byte("hello\n"))
	empty := write("empty", nil)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	loop := filepath.Join(dir, "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(stores.MaxFileSize + 1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	sock := filepath.Join(dir, "sock")
	if l, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0); err == nil {
		if err := syscall.Bind(l, &syscall.SockaddrUnix{Name: sock}); err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(l)
	}

	tests := []struct {
		name string
		path string
		want error // nil: read succeeds
		data string
	}{
		{"regular file", regular, nil, "hello\n"},
		{"empty file", empty, nil, ""},
		{"symbolic link to a file", link, nil, "hello\n"},
		{"missing", filepath.Join(dir, "missing"), fs.ErrNotExist, ""},
		{"folder", dir, stores.ErrWrongKind, ""},
		{"fifo", fifo, stores.ErrNotRegular, ""},
		{"dev zero", "/dev/zero", stores.ErrNotRegular, ""},
		{"dev null", "/dev/null", stores.ErrNotRegular, ""},
		{"socket", sock, stores.ErrNotRegular, ""},
		{"symlink loop", loop, syscall.ELOOP, ""},
		{"over 1 GiB", big, stores.ErrTooLarge, ""},
		{"path through a file", filepath.Join(regular, "x"), syscall.ENOTDIR, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			var data []byte
			var err error
			go func() { data, err = stores.ReadFile(tc.path); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("ReadFile(%s) blocks", tc.path)
			}
			if tc.want == nil {
				if err != nil || string(data) != tc.data {
					t.Fatalf("ReadFile = %q, %v; want %q", data, err, tc.data)
				}
				return
			}
			var se *stores.Error
			switch {
			case !errors.Is(err, tc.want):
				t.Fatalf("ReadFile: %v, want %v", err, tc.want)
			case !errors.As(err, &se) || se.Path != tc.path || !strings.HasPrefix(err.Error(), tc.path+": "):
				t.Fatalf("ReadFile: %q does not name %s first", err, tc.path)
			case se.Hint == "":
				t.Fatalf("ReadFile: %v has no hint", err)
			}
		})
	}
}

// ReadFile returns the whole content of a file longer than one read.
