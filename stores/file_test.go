package stores_test

import (
	"bytes"
	"context"
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

// ReadFile reads regular files and refuses everything else with the right
// sentinel, naming the path, without blocking on a pipe or reading a device.
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
func TestReadFileContent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	want := bytes.Repeat([]byte("0123456789"), 100_000)
	if err := os.WriteFile(p, want, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := stores.ReadFile(p)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadFile: %d bytes, %v; want %d bytes", len(got), err, len(want))
	}
}

func TestStatDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := stores.StatDir(dir); err != nil {
		t.Errorf("StatDir(folder): %v", err)
	}
	for path, want := range map[string]error{
		file:                          stores.ErrWrongKind,
		"/dev/null":                   stores.ErrNotRegular,
		filepath.Join(dir, "missing"): fs.ErrNotExist,
	} {
		if _, err := stores.StatDir(path); !errors.Is(err, want) || !strings.Contains(err.Error(), path) {
			t.Errorf("StatDir(%s): %v, want %v naming the path", path, err, want)
		}
	}
}

// LoadTarget reads a missing store as empty and passes every other error on.
func TestLoadTarget(t *testing.T) {
	missing := fakeStore{err: stores.NotExist("/x")}
	if set, err := stores.LoadTarget(t.Context(), missing); err != nil || set.Len() != 0 {
		t.Errorf("LoadTarget(missing) = %v, %v; want an empty set", set, err)
	}
	if _, err := missing.Load(t.Context()); !errors.Is(err, stores.ErrNotExist) {
		t.Errorf("Load(missing): %v", err)
	}
	wrong := fakeStore{err: stores.WrongKind("/x", "a PEM bundle", "binary", "hint")}
	if _, err := stores.LoadTarget(t.Context(), wrong); !errors.Is(err, stores.ErrWrongKind) {
		t.Errorf("LoadTarget(wrong kind): %v, want the error", err)
	}
	// A missing file that is not the store itself (fs.ErrNotExist from a
	// password file, say) is not a missing store.
	other := fakeStore{err: &stores.Error{Path: "/pw", Err: fs.ErrNotExist}}
	if _, err := stores.LoadTarget(t.Context(), other); err == nil {
		t.Error("LoadTarget read a store whose password file is missing as empty")
	}
}

type fakeStore struct {
	stores.Store
	err error
}

func (f fakeStore) Load(ctx context.Context) (*stores.Set, error) { return nil, f.err }
