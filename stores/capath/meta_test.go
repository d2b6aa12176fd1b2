package capath

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// TestRewriteKeepsMetadata: a foreign bundle that loses a block keeps its
// owner, group, mode, ACL and extended attributes.
func TestRewriteKeepsMetadata(t *testing.T) {
	dir := filepath.Join(storetest.XattrDir(t), "certs")
	a, b := testpki.Root("Meta A"), testpki.Root("Meta B")
	addForeign(t, dir, "bundle.crt", append(a.PEM(), b.PEM()...))
	p := filepath.Join(dir, "bundle.crt")
	os.Chmod(p, 0o640)
	if os.Geteuid() == 0 {
		os.Chown(p, 65534, 65534)
	}
	storetest.RunTool(t, "setfacl", "-m", "g:0:r", p)
	storetest.RunTool(t, "setfattr", "-n", "user.origin", "-v", "admin", p)
	want := storetest.Metadata(t, p)
	s := open(t, dir)
	apply(t, s, []stores.Change{{Action: stores.Remove, Entry: load(t, s).Get(stores.FingerprintOf(b.DER))}})
	if set := load(t, s); set.Len() != 1 || set.Get(stores.FingerprintOf(a.DER)) == nil {
		t.Fatalf("after removing B: %d entries", set.Len())
	}
	if got := storetest.Metadata(t, p); got != want {
		t.Errorf("rewritten bundle:\n%s\nwant:\n%s", got, want)
	}
}
