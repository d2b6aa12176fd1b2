package journal

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/backup"
)

var now = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRecoverRollsBackEveryNamedTarget plays a run killed after changing
// two targets of three: recovery puts all back as they were before.
func TestRecoverRollsBackEveryNamedTarget(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	a, b, c := filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.pem"), filepath.Join(dir, "c.pem")
	write(t, a, "old a")
	write(t, b, "old b")
	j, err := Begin(state, "job1", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct{ path, new string }{{a, "new a"}, {b, "new b"}, {c, "new c"}} {
		bk, err := backup.Take(state, "pem:"+step.path, []string{step.path}, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Add("pem:"+step.path, bk); err != nil {
			t.Fatal(err)
		}
		if step.path == c {
			break // killed after the journal named c, before c was written
		}
		write(t, step.path, step.new)
	}
	// the process dies here: no Finish

	p, err := Pending(state)
	if err != nil || p == nil || p.Job != "job1" || len(p.Targets) != 3 {
		t.Fatalf("Pending = %+v, %v; want job1 with 3 targets", p, err)
	}
	if _, err := Begin(state, "job2", now); err == nil || !strings.Contains(err.Error(), "recovered first") {
		t.Errorf("Begin with a pending journal = %v, want an error", err)
	}
	r, err := Recover(state)
	if err != nil || r == nil || r.Job != "job1" {
		t.Fatalf("Recover = %+v, %v", r, err)
	}
	for path, want := range map[string]string{a: "old a", b: "old b", c: "<missing>"} {
		if got := read(t, path); got != want {
			t.Errorf("%s = %q, want %q", filepath.Base(path), got, want)
		}
	}
	if p, err := Pending(state); p != nil || err != nil {
		t.Errorf("after Recover, Pending = %+v, %v; want nothing", p, err)
	}
	if r, err := Recover(state); r != nil || err != nil {
		t.Errorf("second Recover = %+v, %v; want nothing", r, err)
	}
}

func TestFinishLeavesNothing(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	f := filepath.Join(dir, "a.pem")
	write(t, f, "old")

	j, err := Begin(state, "quiet", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Finish(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(state, FileName)); !os.IsNotExist(err) {
		t.Errorf("a job that changed nothing left a journal (stat: %v)", err)
	}

	j, _ = Begin(state, "changes", now)
	bk, err := backup.Take(state, "pem:"+f, []string{f}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Add("pem:"+f, bk); err != nil {
		t.Fatal(err)
	}
	if p, _ := Pending(state); p == nil {
		t.Fatal("Add did not write the journal")
	}
	write(t, f, "new")
	if err := j.Finish(); err != nil {
		t.Fatal(err)
	}
	if r, err := Recover(state); r != nil || err != nil {
		t.Errorf("Recover after Finish = %+v, %v; want nothing", r, err)
	}
	if got := read(t, f); got != "new" {
		t.Errorf("file = %q, want the committed %q", got, "new")
	}
}

func TestRecoverKeepsJournalWhenRestoreFails(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	f := filepath.Join(dir, "a.pem")
	write(t, f, "old")
	j, _ := Begin(state, "j", now)
	bk, err := backup.Take(state, "pem:"+f, []string{f}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Add("pem:"+f, bk); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(bk.Dir); err != nil {
		t.Fatal(err)
	}
	_, err = Recover(state)
	if err == nil || !strings.Contains(err.Error(), "pem:"+f) || !strings.Contains(err.Error(), bk.Dir) {
		t.Errorf("Recover with a lost backup = %v; want an error naming the store and backup", err)
	}
	if p, _ := Pending(state); p == nil {
		t.Error("the journal was removed although the rollback failed")
	}
}

func TestCorruptJournal(t *testing.T) {
	state := t.TempDir()
	write(t, filepath.Join(state, FileName), "{not json")
	if _, err := Recover(state); err == nil || !strings.Contains(err.Error(), FileName) {
		t.Errorf("Recover(corrupt) = %v, want an error naming %s", err, FileName)
	}
}
