// The flushes recorded are those of Linux (syncfs); elsewhere each file is
// flushed on its own.

//go:build linux

package job

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/internal/journal"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/capath"
)

// flushLog is a test double of the flush points: each flush atomicfile makes
// is recorded with what was on disk (in the page cache) at that moment, so
// that a test can check which changes each flush made durable, and in which
// order.
type flushLog struct {
	mu     sync.Mutex
	dir    string // what paths are shown relative to
	state  string
	target string // the folder (or file) the sync writes
	events []string
}

func recordFlushes(t *testing.T, dir, state, target string) *flushLog {
	l := &flushLog{dir: dir, state: state, target: target}
	t.Cleanup(atomicfile.SetFlushHook(l.note))
	return l
}

// note records one flush: its kind and path, whether the journal and a
// staged (not yet published) journal exist, whether a backup's manifest
// exists, and what the target holds: "-" when it does not exist, else its
// certificate files and links ("2f2l"); "staged" is the same for a folder
// built beside the target.
func (l *flushLog) note(kind, path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rel, _ := filepath.Rel(l.dir, path)
	_, err := os.Lstat(filepath.Join(l.state, journal.FileName))
	jr := err == nil
	tmp, _ := filepath.Glob(filepath.Join(l.state, "."+journal.FileName+".rootsync-*"))
	manifests, _ := filepath.Glob(filepath.Join(l.state, "backups", "*", "manifest.json"))
	staged, _ := filepath.Glob(filepath.Join(filepath.Dir(l.target), "."+filepath.Base(l.target)+".rootsync-new-*"))
	st := "-"
	if len(staged) == 1 {
		st = folderShape(staged[0])
	}
	l.events = append(l.events, fmt.Sprintf("%s %s: journal=%v staged-journal=%v backup=%v target=%s staged=%s",
		kind, rel, jr, len(tmp) > 0, len(manifests) > 0, folderShape(l.target), st))
}

// folderShape is "-" for a missing path, else the number of rootsync's
// certificate files and of links in the folder ("2f2l"), or "file".
func folderShape(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "-"
	}
	if !fi.IsDir() {
		return "file"
	}
	ents, _ := os.ReadDir(path)
	files, links := 0, 0
	for _, e := range ents {
		switch {
		case e.Type()&os.ModeSymlink != 0:
			links++
		case strings.HasPrefix(e.Name(), "rootsync-"):
			files++
		}
	}
	return fmt.Sprintf("%df%dl", files, links)
}

func (l *flushLog) check(t *testing.T, want []string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.Join(l.events, "\n") != strings.Join(want, "\n") {
		t.Errorf("flushes, with what was written when each was made:\n%s\nwant:\n%s", strings.Join(l.events, "\n"), strings.Join(want, "\n"))
	}
}

// TestFlushOrderNewCAFolder holds the order of the flushes of a sync into a
// CA folder that does not exist yet, which is built beside its place and
// renamed in: one flush of the file system for the backup, the staged
// journal and the whole staged folder (the certificate files on disk before
// any folder a reader sees links to them); the journal's name flushed before
// the folder takes its name (the journal on disk before the first change to
// the target); the folder's name flushed before the journal is removed; the
// removal flushed last.
func TestFlushOrderNewCAFolder(t *testing.T) {
	dir, src := fixture(t)
	ca := filepath.Join(dir, "ca")
	tgt, err := capath.Open(stores.Spec{Kind: "capath", Location: ca}, stores.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tx := newTx(dir)
	os.MkdirAll(tx.StateDir, 0o700)
	l := recordFlushes(t, dir, tx.StateDir, ca)
	if _, err := runTx(tx, newJob(dir, src, Target{Store: tgt})); err != nil {
		t.Fatal(err)
	}
	l.check(t, []string{
		"fs state: journal=false staged-journal=true backup=true target=- staged=2f2l",
		"dir state: journal=true staged-journal=false backup=true target=- staged=2f2l",
		"dir .: journal=true staged-journal=false backup=true target=2f2l staged=-",
		"dir state: journal=false staged-journal=false backup=true target=2f2l staged=-",
	})
}

// TestFlushOrderExistingCAFolder holds the order of the flushes of a sync
// that adds to a CA folder that exists (changed in place): the backup and
// the journal flushed before anything is written in the folder; the new
// files flushed before any link names them; the links flushed before the
// journal is removed.
func TestFlushOrderExistingCAFolder(t *testing.T) {
	dir, src := fixture(t)
	ca := filepath.Join(dir, "ca")
	os.Mkdir(ca, 0o755)
	tgt, err := capath.Open(stores.Spec{Kind: "capath", Location: ca}, stores.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tx := newTx(dir)
	os.MkdirAll(tx.StateDir, 0o700)
	l := recordFlushes(t, dir, tx.StateDir, ca)
	if _, err := runTx(tx, newJob(dir, src, Target{Store: tgt})); err != nil {
		t.Fatal(err)
	}
	l.check(t, []string{
		"fs state: journal=false staged-journal=true backup=true target=0f0l staged=-",
		"dir state: journal=true staged-journal=false backup=true target=0f0l staged=-",
		"fs ca: journal=true staged-journal=false backup=true target=2f0l staged=-",
		"dir ca: journal=true staged-journal=false backup=true target=2f2l staged=-",
		"dir state: journal=false staged-journal=false backup=true target=2f2l staged=-",
	})
}

// TestFlushOrderFile holds the order of the flushes of a sync into a store
// that is one file, replaced with atomicfile.Write.
func TestFlushOrderFile(t *testing.T) {
	dir, src := fixture(t)
	a := &fileStore{path: filepath.Join(dir, "a")}
	os.WriteFile(a.path, []byte(fmt.Sprintf("%x\n", testpki.Root("Job Existing").DER)), 0o600)
	tx := newTx(dir)
	os.MkdirAll(tx.StateDir, 0o700)
	l := recordFlushes(t, dir, tx.StateDir, a.path)
	if _, err := runTx(tx, newJob(dir, src, Target{Store: a})); err != nil {
		t.Fatal(err)
	}
	l.check(t, []string{
		"fs state: journal=false staged-journal=true backup=true target=file staged=-",
		"dir state: journal=true staged-journal=false backup=true target=file staged=-",
		"file a: journal=true staged-journal=false backup=true target=file staged=-",
		"dir .: journal=true staged-journal=false backup=true target=file staged=-",
		"dir state: journal=false staged-journal=false backup=true target=file staged=-",
	})
}

// TestFailedBackupDiscardsStaged: the new folder is built while the backup
// is taken; when the backup fails, what was built is removed and the target
// is not made.
func TestFailedBackupDiscardsStaged(t *testing.T) {
	dir, src := fixture(t)
	ca := filepath.Join(dir, "ca")
	tgt, err := capath.Open(stores.Spec{Kind: "capath", Location: ca}, stores.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tx := newTx(dir)
	os.MkdirAll(tx.StateDir, 0o700)
	// The backups folder cannot be made: a file has its name.
	os.WriteFile(filepath.Join(tx.StateDir, "backups"), nil, 0o600)
	if _, err := runTx(tx, newJob(dir, src, Target{Store: tgt})); err == nil {
		t.Fatal("the sync succeeded without a backup")
	}
	if _, err := os.Lstat(ca); err == nil {
		t.Error("the folder was made although its backup failed")
	}
	// Whatever was still building after the sync returned would show by now.
	time.Sleep(100 * time.Millisecond)
	if left, _ := filepath.Glob(filepath.Join(dir, ".ca.rootsync-new-*")); len(left) > 0 {
		t.Errorf("staged folders left behind: %v", left)
	}
	if p, _ := journal.Pending(tx.StateDir); p != nil {
		t.Errorf("a journal was left: %+v", p)
	}
}

// TestFlushOrderRollbackNewCAFolder: when a later target fails, the new
// folder is removed again and that removal is flushed before the journal
// goes.
func TestFlushOrderRollbackNewCAFolder(t *testing.T) {
	dir, src := fixture(t)
	ca := filepath.Join(dir, "ca")
	tgt, err := capath.Open(stores.Spec{Kind: "capath", Location: ca}, stores.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := &fileStore{path: filepath.Join(dir, "b"), fail: true}
	tx := newTx(dir)
	os.MkdirAll(tx.StateDir, 0o700)
	l := recordFlushes(t, dir, tx.StateDir, ca)
	if _, err := runTx(tx, newJob(dir, src, Target{Store: tgt}, Target{Store: bad})); err == nil {
		t.Fatal("the job succeeded with a failing target")
	}
	l.check(t, []string{
		"fs state: journal=false staged-journal=true backup=true target=- staged=2f2l",
		"dir state: journal=true staged-journal=false backup=true target=- staged=2f2l",
		"dir .: journal=true staged-journal=false backup=true target=2f2l staged=-",
		// the failing target's backup and journal
		"fs state: journal=true staged-journal=true backup=true target=2f2l staged=-",
		"dir state: journal=true staged-journal=false backup=true target=2f2l staged=-",
		// the rollback: the folder removed, and that flushed
		"dir .: journal=true staged-journal=false backup=true target=- staged=-",
		"dir state: journal=false staged-journal=false backup=true target=- staged=-",
	})
}
