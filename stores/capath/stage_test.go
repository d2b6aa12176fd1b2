package capath

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
)

// names is the folder's names, with links' targets, one a line.
func names(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		s := e.Name()
		if e.Type()&fs.ModeSymlink != 0 {
			to, _ := os.Readlink(filepath.Join(dir, e.Name()))
			s += " -> " + to
		} else if fi, err := e.Info(); err == nil {
			s += " " + fi.Mode().String()
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

func stagedIn(t *testing.T, parent string) []string {
	m, _ := filepath.Glob(filepath.Join(parent, ".ca"+stagedInfix+"*"))
	return m
}

// TestStageNewFolder: Stage builds a new folder beside its place, which
// readers do not see until Commit renames it in; the result is what Apply
// makes, and openssl finds every certificate through it. Discard leaves
// nothing; a folder that exists is not staged.
func TestStageNewFolder(t *testing.T) {
	parent := t.TempDir()
	ca := filepath.Join(parent, "ca")
	certs := []*testpki.Cert{testpki.Root("Stage A"), testpki.Root("Stage B"), testpki.Root("Stage C")}
	st := open(t, ca).(*Store)
	sg, err := st.Stage(context.Background(), adds(certs...))
	if err != nil || sg == nil {
		t.Fatalf("Stage = %v, %v; want a staged folder", sg, err)
	}
	if _, err := os.Lstat(ca); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the folder is in place before Commit: %v", err)
	}
	if got := sg.Dirs(); len(got) != 1 || filepath.Dir(got[0]) != parent || !strings.HasPrefix(filepath.Base(got[0]), ".ca"+stagedInfix) {
		t.Fatalf("Dirs = %v, want one hidden folder beside %s", got, ca)
	}
	if err := sg.Commit(); err != nil {
		t.Fatal(err)
	}
	if left := stagedIn(t, parent); len(left) > 0 {
		t.Errorf("staged folders left after Commit: %v", left)
	}
	applied := filepath.Join(t.TempDir(), "ca")
	if err := open(t, applied).Apply(context.Background(), adds(certs...)); err != nil {
		t.Fatal(err)
	}
	if got, want := names(t, ca), names(t, applied); got != want {
		t.Errorf("staged and committed:\n%s\nApply made:\n%s", got, want)
	}
	for _, c := range certs {
		p := filepath.Join(t.TempDir(), "c.pem")
		os.WriteFile(p, c.PEM(), 0o644)
		openssl(t, "verify", "-CApath", ca, "-no-CAfile", "-no-CAstore", p)
	}

	// A folder that exists is changed in place.
	if sg, err := st.Stage(context.Background(), adds(testpki.Root("Stage D"))); err != nil || sg != nil {
		t.Errorf("Stage of an existing folder = %v, %v; want nothing staged", sg, err)
	}

	// Discard.
	other := open(t, filepath.Join(parent, "other")).(*Store)
	sg, err = other.Stage(context.Background(), adds(certs...))
	if err != nil || sg == nil {
		t.Fatalf("Stage = %v, %v", sg, err)
	}
	if err := sg.Discard(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 {
		t.Errorf("after Discard the parent holds %d entries, want only ca", len(ents))
	}
}

// TestStageCommitNeverReplaces: a folder made (even empty) between Stage and
// Commit is not replaced; Commit fails, leaving it and no staged folder.
func TestStageCommitNeverReplaces(t *testing.T) {
	parent := t.TempDir()
	ca := filepath.Join(parent, "ca")
	sg, err := open(t, ca).(*Store).Stage(context.Background(), adds(testpki.Root("Stage A")))
	if err != nil || sg == nil {
		t.Fatalf("Stage = %v, %v", sg, err)
	}
	if err := os.Mkdir(ca, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := sg.Commit(); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Commit over a folder made meanwhile = %v, want an error wrapping fs.ErrExist", err)
	}
	if ents, err := os.ReadDir(ca); err != nil || len(ents) != 0 {
		t.Errorf("the folder made meanwhile holds %d entries (%v), want it left empty", len(ents), err)
	}
	if left := stagedIn(t, parent); len(left) > 0 {
		t.Errorf("staged folders left after a failed Commit: %v", left)
	}
}

// TestStageRemovesStale: a staged folder a killed process left is removed
// by the next Stage of that folder; a folder named alike that holds
// something else is left alone.
func TestStageRemovesStale(t *testing.T) {
	parent := t.TempDir()
	ca := filepath.Join(parent, "ca")
	killed, err := open(t, ca).(*Store).Stage(context.Background(), adds(testpki.Root("Stage A")))
	if err != nil || killed == nil {
		t.Fatalf("Stage = %v, %v", killed, err)
	}
	foreign := filepath.Join(parent, ".ca"+stagedInfix+"0123456789ab")
	os.Mkdir(foreign, 0o755)
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o644)
	// A link named as a staged folder, to a folder holding only what
	// rootsync writes (another CA directory): neither is removed.
	other, err := open(t, filepath.Join(t.TempDir(), "other")).(*Store).Stage(context.Background(), adds(testpki.Root("Stage C")))
	if err != nil || other == nil {
		t.Fatalf("Stage = %v, %v", other, err)
	}
	link := filepath.Join(parent, ".ca"+stagedInfix+"ba9876543210")
	if err := os.Symlink(other.Dirs()[0], link); err != nil {
		t.Fatal(err)
	}
	sg, err := open(t, ca).(*Store).Stage(context.Background(), adds(testpki.Root("Stage B")))
	if err != nil || sg == nil {
		t.Fatalf("Stage = %v, %v", sg, err)
	}
	if _, err := os.Lstat(killed.Dirs()[0]); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the killed process's staged folder is still there: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(foreign, "notes.txt")); err != nil {
		t.Errorf("a folder that is not rootsync's was touched: %v", err)
	}
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("a link named as a staged folder was removed: %v", err)
	}
	if ents, err := os.ReadDir(other.Dirs()[0]); err != nil || len(ents) == 0 {
		t.Errorf("the folder behind a link named as a staged folder was emptied: %v, %d entries", err, len(ents))
	}
	other.Discard()
	sg.Discard()
}
