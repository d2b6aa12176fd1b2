package job

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/internal/journal"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stateStore is a fileStore that is also a stores.Restorer: it counts its
// RestoreState calls in a file next to it, and can be made to fail the next
// failStates of them.
type stateStore struct {
	fileStore
	failStates int
}

func (s *stateStore) RestoreState(context.Context) error {
	if s.failStates > 0 {
		s.failStates--
		return errors.New("injected state failure")
	}
	n, _ := strconv.Atoi(strings.TrimSpace(readFileQuiet(s.path + ".state")))
	return os.WriteFile(s.path+".state", []byte(strconv.Itoa(n+1)), 0o600)
}

func readFileQuiet(p string) string { b, _ := os.ReadFile(p); return string(b) }

// dirSyncStore writes the new content and then reports that the folder sync
// failed, as atomicfile.Write does.
type dirSyncStore struct{ fileStore }

func (s *dirSyncStore) Apply(ctx context.Context, ch []stores.Change) error {
	if err := s.fileStore.Apply(ctx, ch); err != nil {
		return err
	}
	return fmt.Errorf("%s: %w: input/output error", s.path, atomicfile.ErrDirSync)
}

func TestDirSyncFailureRollsBack(t *testing.T) {
	dir, src := fixture(t)
	a := &dirSyncStore{fileStore{path: filepath.Join(dir, "a")}}
	old := hex.EncodeToString(testpki.Root("Job Existing").DER) + "\n"
	os.WriteFile(a.path, []byte(old), 0o600)
	r, err := runJob(dir, newJob(dir, src, Target{Store: a}))
	if !errors.Is(err, ErrFailed) || !errors.Is(err, atomicfile.ErrDirSync) {
		t.Fatalf("Run: %v, want ErrFailed wrapping ErrDirSync", err)
	}
	if got := readFile(t, a.path); got != old {
		t.Errorf("after a failed folder sync the target holds %q, want it rolled back to %q", got, old)
	}
	if tg := r.Targets[0]; !tg.RolledBack || tg.Applied || tg.Err == nil {
		t.Errorf("report: rolled back %v, applied %v, err %v", tg.RolledBack, tg.Applied, tg.Err)
	}
}

func TestRollbackRestoresState(t *testing.T) {
	dir, src := fixture(t)
	a := &stateStore{fileStore: fileStore{path: filepath.Join(dir, "a")}}
	b := &fileStore{path: filepath.Join(dir, "b"), fail: true}
	if _, err := runJob(dir, newJob(dir, src, Target{Store: a}, Target{Store: b})); !errors.Is(err, ErrFailed) {
		t.Fatalf("Run: %v, want ErrFailed", err)
	}
	if got := readFile(t, a.path+".state"); got != "1" {
		t.Errorf("RestoreState calls after the rollback: %s, want 1", got)
	}
}

// killedRun plays a run killed after the journal named every store of paths
// and each was changed.
func killedRun(t *testing.T, state string, paths ...string) {
	t.Helper()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	j, err := journal.Begin(state, "killed", now)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		bk, err := backup.Take(state, "test:"+p, []string{p}, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Add("test:"+p, bk); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(p, []byte("new"), 0o600)
	}
}

func TestRecoverRollsBackEveryNamedTarget(t *testing.T) {
	dir := t.TempDir()
	tx := newTx(dir)
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	os.WriteFile(a, []byte("old a"), 0o600)
	os.WriteFile(b, []byte("old b"), 0o600)
	killedRun(t, tx.StateDir, a, b, c)
	opened := map[string]*stateStore{}
	tx.Open = func(spec string) (stores.Store, error) {
		s := &stateStore{fileStore: fileStore{path: strings.TrimPrefix(spec, "test:")}}
		opened[spec] = s
		return s, nil
	}
	out, err := tx.Do(context.Background())
	if err != nil || out.Recovered == nil || out.Recovered.Record.Job != "killed" || len(out.Recovered.Record.Targets) != 3 {
		t.Fatalf("Do after a killed run: %+v, %v; want the killed run recovered", out, err)
	}
	for path, want := range map[string]string{a: "old a", b: "old b", c: "<missing>"} {
		if got := readFile(t, path); got != want {
			t.Errorf("%s = %q, want %q", filepath.Base(path), got, want)
		}
		if got := readFile(t, path+".state"); got != "1" {
			t.Errorf("%s: RestoreState calls after the recovery: %s, want 1", filepath.Base(path), got)
		}
	}
	if p, err := journal.Pending(tx.StateDir); p != nil || err != nil {
		t.Errorf("after recovery the journal is still there: %+v, %v", p, err)
	}
	if out, err := tx.Do(context.Background()); err != nil || out.Recovered != nil {
		t.Errorf("second Do recovered again: %+v, %v", out, err)
	}
}

func TestRecoverKeepsJournalWhenRestoreFails(t *testing.T) {
	dir := t.TempDir()
	tx := newTx(dir)
	a := filepath.Join(dir, "a")
	os.WriteFile(a, []byte("old"), 0o600)
	killedRun(t, tx.StateDir, a)
	p, _ := journal.Pending(tx.StateDir)
	if err := os.RemoveAll(p.Targets[0].Backup); err != nil {
		t.Fatal(err)
	}
	dir2, src := fixture(t)
	j := newJob(dir2, src, Target{Store: &fileStore{path: filepath.Join(dir2, "t")}})
	_, err := tx.Do(context.Background(), j)
	if err == nil || !strings.Contains(err.Error(), "test:"+a) || !strings.Contains(err.Error(), p.Targets[0].Backup) || stores.HintOf(err) == "" {
		t.Errorf("Do with a lost backup = %v; want an error naming the store and backup, with a hint", err)
	}
	if p, _ := journal.Pending(tx.StateDir); p == nil {
		t.Error("the journal was removed although the rollback failed")
	}
	if _, err := os.Stat(filepath.Join(dir2, "t")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a job ran although the recovery before it failed")
	}
}

func TestDryRunReportsPendingAndChangesNothing(t *testing.T) {
	dir := t.TempDir()
	tx := newTx(dir)
	a := filepath.Join(dir, "a")
	os.WriteFile(a, []byte("old"), 0o600)
	killedRun(t, tx.StateDir, a)
	tx.DryRun = true
	out, err := tx.Do(context.Background())
	if err != nil || out.Pending == nil || out.Recovered != nil {
		t.Fatalf("dry run with a pending journal: %+v, %v", out, err)
	}
	if got := readFile(t, a); got != "new" {
		t.Errorf("a dry run rolled back: %q", got)
	}
}

func TestRestoreUnit(t *testing.T) {
	dir := t.TempDir()
	tx := newTx(dir)
	a := filepath.Join(dir, "a")
	os.WriteFile(a, []byte("old"), 0o600)
	b, err := backup.Take(tx.StateDir, "test:"+a, []string{a}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(a, []byte("new"), 0o600)
	st := &stateStore{fileStore: fileStore{path: a}}
	tx.Open = func(string) (stores.Store, error) { return st, nil }

	out, err := tx.Do(context.Background(), &Restore{Backup: b})
	if err != nil || out.Results[0].Err != nil {
		t.Fatalf("restore: %v, %v", err, out.Results[0].Err)
	}
	rs := out.Results[0].Restored
	if readFile(t, a) != "old" || readFile(t, a+".state") != "1" || rs.From != b.ID || rs.Undo == "" {
		t.Fatalf("after restore: %q, state calls %s, result %+v", readFile(t, a), readFile(t, a+".state"), rs)
	}
	undo, err := backup.Find(tx.StateDir, rs.Undo)
	if err != nil {
		t.Fatal(err)
	}

	// A restore that fails part-way (here: the store's state) is rolled
	// back to the state before it.
	st.failStates = 1
	out, err = tx.Do(context.Background(), &Restore{Backup: undo})
	if err != nil || !errors.Is(out.Results[0].Err, ErrFailed) {
		t.Fatalf("failing restore: %v, %v; want ErrFailed", err, out.Results[0].Err)
	}
	if got := readFile(t, a); got != "old" {
		t.Errorf("after a failed restore the store holds %q, want %q as before it", got, "old")
	}
	if p, _ := journal.Pending(tx.StateDir); p != nil {
		t.Errorf("journal kept after a complete rollback: %+v", p)
	}
}

func TestHookEnvironmentHidesPasswords(t *testing.T) {
	t.Setenv("ROOTSYNC_TEST_PASSWORD", "hunter2")
	t.Setenv("ROOTSYNC_TEST_OTHER", "visible")
	dir, src := fixture(t)
	out := filepath.Join(dir, "env")
	tx := newTx(dir)
	tx.HideEnv = []string{"ROOTSYNC_TEST_PASSWORD"}
	hook := Hook{Argv: []string{"sh", "-c", `echo "${ROOTSYNC_TEST_PASSWORD-unset} $ROOTSYNC_TEST_OTHER" > "$0"`, out}}
	if _, err := runTx(tx, newJob(dir, src, Target{Store: &fileStore{path: filepath.Join(dir, "a")}, Hooks: []Hook{hook}})); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, out); got != "unset visible\n" {
		t.Errorf("the hook saw %q, want %q (no password variable, the rest kept)", got, "unset visible\n")
	}
}

// TestHookBackgroundChild: a hook that exits leaving a process that holds
// its output open does not keep rootsync waiting, and that process is left
// alone.
func TestHookBackgroundChild(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	start := time.Now()
	_, err := runHook(context.Background(), Hook{Argv: []string{"sh", "-c", `sleep 30 & echo $! > "$0"; echo started`, pidFile}}, nil)
	if err != nil {
		t.Fatalf("hook: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("runHook took %s: it waited for the background process", d)
	}
	pid := readPID(t, pidFile)
	t.Cleanup(func() { killPID(pid) })
	if !alive(pid) {
		t.Errorf("the hook's background process %d was stopped; it should be left alone", pid)
	}
}

// TestHookTimeoutKillsGroup: at the timeout the hook and everything it
// started get SIGTERM, then SIGKILL.
func TestHookTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	start := time.Now()
	// The background process ignores SIGTERM: only SIGKILL ends it.
	_, err := runHook(context.Background(), Hook{Argv: []string{"sh", "-c", `(trap "" TERM; sleep 30) & echo $! > "$0"; sleep 30`, pidFile}, Timeout: 300 * time.Millisecond}, nil)
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Fatalf("hook past its timeout: %v", err)
	}
	if d := time.Since(start); d > 300*time.Millisecond+killGrace+2*time.Second {
		t.Errorf("runHook took %s after a 300ms timeout", d)
	}
	pid := readPID(t, pidFile)
	deadline := time.Now().Add(2 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		killPID(pid)
		t.Errorf("the hook's background process %d survived the timeout", pid)
	}
}

// TestRollbackAfterInterruptRunsHooks: when the run is interrupted (its
// context ends) the rollback still runs the hooks of the stores it put back;
// after a second interruption (Abort) it skips them and keeps the journal.
func TestRollbackAfterInterruptRunsHooks(t *testing.T) {
	for _, second := range []bool{false, true} {
		t.Run(fmt.Sprintf("second=%v", second), func(t *testing.T) {
			dir, src := fixture(t)
			log := filepath.Join(dir, "log")
			marker := filepath.Join(dir, "b-hook-started")
			a := &fileStore{path: filepath.Join(dir, "a")}
			b := &fileStore{path: filepath.Join(dir, "b")}
			ha := []Hook{{Argv: []string{"sh", "-c", `echo a >> "$0"`, log}, Timeout: 5 * time.Second}}
			// b's hook hangs the first time (the run is interrupted then)
			// and returns at once when the rollback runs it again.
			hb := []Hook{{Argv: []string{"sh", "-c", `[ -e "$0" ] && exit 0; touch "$0"; sleep 30`, marker}}}
			ctx, cancel := context.WithCancel(context.Background())
			abort, cancelAbort := context.WithCancel(context.Background())
			defer cancelAbort()
			go func() {
				for {
					if _, err := os.Stat(marker); err == nil {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				cancel()
				if second {
					cancelAbort()
				}
			}()
			tx := newTx(dir)
			tx.Abort = abort
			start := time.Now()
			out, err := tx.Do(ctx, newJob(dir, src, Target{Store: a, Hooks: ha}, Target{Store: b, Hooks: hb}))
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("the interrupted run took %s", d)
			}
			res := out.Results[0]
			if !errors.Is(res.Err, ErrFailed) || readFile(t, a.path) != "<missing>" || readFile(t, b.path) != "<missing>" {
				t.Fatalf("interrupted run: %v; a %q b %q; want both rolled back", res.Err, readFile(t, a.path), readFile(t, b.path))
			}
			p, _ := journal.Pending(tx.StateDir)
			if !second {
				if got := readFile(t, log); got != "a\na\n" {
					t.Errorf("hooks of a ran %q, want twice (after the change and after the rollback)", got)
				}
				if p != nil || res.JournalKept != nil || res.Run.Targets[0].RollbackErr != nil {
					t.Errorf("journal kept (%v, %v) or rollback error %v after a complete rollback", p, res.JournalKept, res.Run.Targets[0].RollbackErr)
				}
				return
			}
			if got := readFile(t, log); got != "a\n" {
				t.Errorf("after a second interruption hooks of a ran %q, want only once", got)
			}
			if p == nil || res.JournalKept == nil || !strings.Contains(res.JournalKept.Error(), "interrupted again") {
				t.Errorf("after a second interruption: journal %v, kept because %v; want it kept and said so", p, res.JournalKept)
			}
			if rb := res.Run.Targets[0].RollbackErr; rb == nil || !strings.Contains(rb.Error(), "not run after the rollback") {
				t.Errorf("target a's rollback error = %v, want the skipped hooks named", rb)
			}
		})
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pid, err := strconv.Atoi(strings.TrimSpace(readFileQuiet(path)))
		if err == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no process id in %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 {
		return s[i+2] != 'Z'
	}
	return true
}

func killPID(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}
