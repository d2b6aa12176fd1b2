// An external test package: storetest, whose helpers these tests use, imports backup.
package backup_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/stores/storetest"
)

func TestTakeRestoreExact(t *testing.T) {
	root := t.TempDir()
	work := t.TempDir()
	dir := filepath.Join(work, "capath")
	file := filepath.Join(work, "bundle.pem")
	missing := filepath.Join(work, "not-yet.pem")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "a.pem"), []byte("A"), 0o644)
	os.Symlink("a.pem", filepath.Join(dir, "1234abcd.0"))
	os.WriteFile(file, []byte("bundle"), 0o640)
	paths := []string{dir, file, missing}
	before := storetest.Snapshot(t, paths)

	b, err := backup.Take(root, "capath:"+dir, paths, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	// Change everything: new file, changed file, removed link, created file.
	os.WriteFile(filepath.Join(dir, "rootsync-x.pem"), []byte("X"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.pem"), []byte("changed"), 0o600)
	os.Remove(filepath.Join(dir, "1234abcd.0"))
	os.WriteFile(file, []byte("new bundle"), 0o600)
	os.WriteFile(missing, []byte("created"), 0o644)

	again, err := backup.Find(root, b.ID[:10])
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Restore(); err != nil {
		t.Fatal(err)
	}
	after := storetest.Snapshot(t, paths)
	// A folder's own modification time is restored too; compare everything.
	storetest.Compare(t, before, after)
}

func TestPruneKeepsNewestPerStore(t *testing.T) {
	root := t.TempDir()
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, []byte("x"), 0o644)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		if _, err := backup.Take(root, "pem:a", []string{f}, base.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := backup.Take(root, "pem:b", []string{f}, base); err != nil {
		t.Fatal(err)
	}
	if err := backup.Prune(root, 2); err != nil {
		t.Fatal(err)
	}
	all, _ := backup.List(root)
	count := map[string]int{}
	for _, b := range all {
		count[b.Store]++
	}
	if count["pem:a"] != 2 || count["pem:b"] != 1 {
		t.Fatalf("after backup.Prune(2): %v", count)
	}
	if !all[0].Created.Equal(base.Add(4 * time.Hour)) {
		t.Errorf("newest first: got %v", all[0].Created)
	}
}

// Prune goes by store, not by folder name: two stores whose names make the
// same slug are each kept to keep, and a folder named otherwise does not
// change what is kept.
func TestPruneStoresSharingASlug(t *testing.T) {
	for _, foreign := range []bool{false, true} {
		root := t.TempDir()
		f := filepath.Join(t.TempDir(), "f")
		os.WriteFile(f, []byte("x"), 0o644)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		take := map[string]int{"pem:a/b": 3, "pem:a-b": 2, "pem:c": 2, "pem:d": 3}
		i := 0
		for store, n := range take {
			for range n {
				i++
				if _, err := backup.Take(root, store, []string{f}, base.Add(time.Duration(i)*time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if foreign {
			os.Mkdir(filepath.Join(root, "backups", "notes"), 0o700)
		}
		if err := backup.Prune(root, 2); err != nil {
			t.Fatal(err)
		}
		all, _ := backup.List(root)
		count := map[string]int{}
		for _, b := range all {
			count[b.Store]++
		}
		for store := range take {
			if count[store] != 2 {
				t.Errorf("foreign folder %v: %s keeps %d backups, want 2 (%v)", foreign, store, count[store], count)
			}
		}
	}
}
