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

// TestStagePublishDiscard: a staged journal is not the journal until
// Publish; Discard drops the target it added; a staged journal a killed
// process left is removed by the next Begin.
func TestStagePublishDiscard(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	staged := func() []string {
		m, _ := filepath.Glob(filepath.Join(state, "."+FileName+".rootsync-*"))
		return m
	}
	targets := func() int {
		p, err := Pending(state)
		if err != nil {
			t.Fatal(err)
		}
		if p == nil {
			return -1
		}
		return len(p.Targets)
	}
	take := func(name string) *backup.Backup {
		path := filepath.Join(dir, name)
		write(t, path, "old")
		b, err := backup.TakeUnflushed(state, "pem:"+path, []string{path}, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	j, err := Begin(state, "job", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Stage("pem:a", take("a")); err != nil {
		t.Fatal(err)
	}
	if n := targets(); n != -1 || len(staged()) != 1 {
		t.Fatalf("after Stage: journal with %d targets, %d staged; want none and 1", n, len(staged()))
	}
	if err := j.Publish(dir); err != nil {
		t.Fatal(err)
	}
	if n := targets(); n != 1 || len(staged()) != 0 {
		t.Fatalf("after Publish: journal with %d targets, %d staged; want 1 and none", n, len(staged()))
	}
	if err := j.Stage("pem:b", take("b")); err != nil {
		t.Fatal(err)
	}
	j.Discard()
	if n := targets(); n != 1 || len(staged()) != 0 {
		t.Fatalf("after Discard: journal with %d targets, %d staged; want 1 and none", n, len(staged()))
	}
	if err := j.Add("pem:c", take("c")); err != nil {
		t.Fatal(err)
	}
	p, _ := Pending(state)
	if len(p.Targets) != 2 || p.Targets[0].Store != "pem:a" || p.Targets[1].Store != "pem:c" {
		t.Fatalf("journal targets %+v, want pem:a and pem:c", p.Targets)
	}
	if err := j.Stage("pem:d", take("d")); err != nil {
		t.Fatal(err)
	}
	if err := j.Finish(); err != nil {
		t.Fatal(err)
	}
	if n := targets(); n != -1 || len(staged()) != 0 {
		t.Fatalf("after Finish: journal with %d targets, %d staged; want none", n, len(staged()))
	}

	// A killed process's staged journal: the next Begin removes it.
	j, _ = Begin(state, "job", now)
	if err := j.Stage("pem:e", take("e")); err != nil {
		t.Fatal(err)
	}
	if _, err := Begin(state, "next", now); err != nil {
		t.Fatal(err)
	}
	if len(staged()) != 0 {
		t.Errorf("Begin left a staged journal of a killed process: %v", staged())
	}
}
