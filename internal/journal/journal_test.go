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

// TestPendingAfterKill plays a run killed after the journal named three
// targets: Pending returns them in order, Begin refuses to start another
// journal, and Clear removes it.
func TestPendingAfterKill(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	j, err := Begin(state, "job1", now)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, name := range []string{"a.pem", "b.pem", "c.pem"} {
		path := filepath.Join(dir, name)
		write(t, path, "old")
		bk, err := backup.Take(state, "pem:"+path, []string{path}, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Add("pem:"+path, bk); err != nil {
			t.Fatal(err)
		}
		want = append(want, "pem:"+path+" "+bk.Dir)
	}
	// the process dies here: no Finish

	p, err := Pending(state)
	if err != nil || p == nil || p.Job != "job1" || p.PID != os.Getpid() || !p.Started.Equal(now) {
		t.Fatalf("Pending = %+v, %v; want job1 of this process", p, err)
	}
	var got []string
	for _, tg := range p.Targets {
		got = append(got, tg.Store+" "+tg.Backup)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Pending targets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := Begin(state, "job2", now); err == nil || !strings.Contains(err.Error(), "recovered first") {
		t.Errorf("Begin with a pending journal = %v, want an error", err)
	}
	if err := Clear(state); err != nil {
		t.Fatal(err)
	}
	if p, err := Pending(state); p != nil || err != nil {
		t.Errorf("after Clear, Pending = %+v, %v; want nothing", p, err)
	}
	if err := Clear(state); err != nil {
		t.Errorf("Clear without a journal: %v", err)
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
	if p, err := Pending(state); p != nil || err != nil {
		t.Errorf("Pending after Finish = %+v, %v; want nothing", p, err)
	}
}

func TestCorruptJournal(t *testing.T) {
	state := t.TempDir()
	write(t, filepath.Join(state, FileName), "{not json")
	if _, err := Pending(state); err == nil || !strings.Contains(err.Error(), FileName) {
		t.Errorf("Pending(corrupt) = %v, want an error naming %s", err, FileName)
	}
}
