//go:build unix

package nss

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// What a folder must be before Load reads it and Apply writes into it: a
// missing database is stores.ErrNotExist (a target then gets a new one, also
// next to NSS's own pkcs11.txt); a folder of other files, a cert9.db that is
// a folder or a pipe, and a path that is a file are refused, named, and left
// as they were.
func TestCheckFiles(t *testing.T) {
	root := testpki.Root("NSS Files Root")
	tests := []struct {
		name    string
		prep    func(t *testing.T, dir string)
		want    error // nil: Load succeeds
		named   string
		created bool // LoadTarget gives an empty set and Apply makes a database
	}{
		{"missing folder", func(t *testing.T, dir string) { must(t, os.Remove(dir)) }, stores.ErrNotExist, "", true},
		{"empty folder", func(t *testing.T, dir string) {}, stores.ErrNotExist, certFile, true},
		{"only pkcs11.txt", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "pkcs11.txt"), []byte("library=\n"), 0o644))
		}, stores.ErrNotExist, certFile, true},
		{"other files", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "ca.pem"), root.PEM(), 0o644))
		}, stores.ErrWrongKind, "", false}, // the message says "holds ca.pem"
		{"cert9.db is a folder", func(t *testing.T, dir string) {
			must(t, os.Mkdir(filepath.Join(dir, certFile), 0o755))
		}, stores.ErrWrongKind, certFile, false},
		{"cert9.db is a pipe", func(t *testing.T, dir string) {
			must(t, syscall.Mkfifo(filepath.Join(dir, certFile), 0o644))
		}, stores.ErrNotRegular, certFile, false},
		{"key4.db is a pipe", func(t *testing.T, dir string) {
			must(t, syscall.Mkfifo(filepath.Join(dir, keyFile), 0o644))
		}, stores.ErrNotRegular, keyFile, false},
		{"a file", func(t *testing.T, dir string) {
			must(t, os.Remove(dir))
			must(t, os.WriteFile(dir, root.PEM(), 0o644))
		}, stores.ErrWrongKind, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "db")
			must(t, os.Mkdir(dir, 0o755))
			tc.prep(t, dir)
			s := openDir(t, dir)
			before := storetest.Snapshot(t, []string{dir})
			_, err := s.Load(context.Background())
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, tc.named)) || stores.HintOf(err) == "" {
				t.Fatalf("Load: %v (hint %q), want %v naming %s", err, stores.HintOf(err), tc.want, filepath.Join(dir, tc.named))
			}
			if !tc.created {
				if err := s.Apply(context.Background(), []stores.Change{addChange(root, stores.TrustAll())}); !errors.Is(err, tc.want) {
					t.Errorf("Apply: %v, want %v", err, tc.want)
				}
				storetest.Compare(t, before, storetest.Snapshot(t, []string{dir}))
				return
			}
			if set, err := stores.LoadTarget(context.Background(), s); err != nil || set.Len() != 0 {
				t.Fatalf("LoadTarget: %v, %v; want an empty set", set, err)
			}
			mustApply(t, s, addChange(root, stores.TrustAll()))
			if set, err := s.Load(context.Background()); err != nil || set.Len() != 1 {
				t.Fatalf("Load after Apply: %v, %v", set, err)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
