package system

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// TestRollbackKeepsMetadata: a file the failed Apply removed comes back
// with its owner, group, mode, ACL and extended attributes.
func TestRollbackKeepsMetadata(t *testing.T) {
	ctx := context.Background()
	s := debianTree(t, storetest.XattrDir(t))
	old := testpki.Root("Metadata Old Root")
	if err := s.Apply(ctx, []stores.Change{addChange(old)}); err != nil {
		t.Fatal(err)
	}
	in := s.Paths()[0]
	ents, err := os.ReadDir(in)
	if err != nil || len(ents) != 1 {
		t.Fatalf("input folder: %v %v", ents, err)
	}
	p := filepath.Join(in, ents[0].Name())
	os.Chmod(p, 0o640)
	if os.Geteuid() == 0 {
		os.Chown(p, 65534, 65534)
	}
	storetest.RunTool(t, "setfacl", "-m", "g:0:r", p)
	storetest.RunTool(t, "setfattr", "-n", "user.origin", "-v", "admin", p)
	want := storetest.Metadata(t, p)
	set, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	broken := withTool(s, "sh", "-c", "exit 4")
	if err := broken.Apply(ctx, []stores.Change{{Action: stores.Remove, Entry: set.Get(stores.FingerprintOf(old.DER))}}); err == nil {
		t.Fatal("Apply succeeded with a broken tool")
	}
	if got := storetest.Metadata(t, p); got != want {
		t.Errorf("after the rollback:\n%s\nwant:\n%s", got, want)
	}
}
