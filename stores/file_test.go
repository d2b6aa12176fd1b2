package stores_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/stores"
)

// ReadFile reads regular files and refuses everything else with the right
// sentinel, naming the path, without blocking on a pipe or reading a device.
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
