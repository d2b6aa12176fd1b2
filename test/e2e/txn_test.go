//go:build unix

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/internal/journal"
)

// TestParallelSyncsIntoOneStore: 40 rootsync processes, each with its own
// state folder, add 40 different roots to one pem file at the same time.
// They take turns through the lock on the file's folder, so none loses
// another's root.
func TestParallelSyncsIntoOneStore(t *testing.T) {
	const n = 40
	dir := t.TempDir()
	target := filepath.Join(dir, "shared", "bundle.pem")
	writeFile(t, target, "")
	rs := roots("Parallel Root", n)
	env := baseEnv(filepath.Join(dir, "home"))
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := 0; i < n; i++ {
		src := filepath.Join(dir, fmt.Sprintf("src%02d.pem", i))
		fill(t, "pem:"+src, rs[i:i+1])
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = rootsync(t, env, "sync", "--state-dir", filepath.Join(dir, fmt.Sprintf("state%02d", i)),
				"--lock-wait", "60s", "pem:"+src, "--to", "pem:"+target)
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("sync %d: %v", i, r)
		}
	}
	got := fingerprints(t, "pem:"+target)
	if want := fps(rs...); !equal(got, want) {
		t.Errorf("after %d parallel syncs the bundle holds %d of the %d roots", n, len(got), n)
	}
	if ents, _ := os.ReadDir(filepath.Dir(target)); len(ents) != 1 {
		t.Errorf("the store's folder holds %d entries, want only the bundle (no lock file)", len(ents))
	}
}

// hookJob is a run configuration with two pem targets and the given hooks
// and hook timeouts.
func hookJob(t *testing.T, hooksA, timeoutA, hooksB, timeoutB string) (*setup, []string) {
	s := newSetup(t)
	src := s.path("src.pem")
	fill(t, "pem:"+src, roots("Hook Root", 2))
	a, b := s.path("a.pem"), s.path("b.pem")
	fill(t, "pem:"+a, roots("Hook Old", 1))
	fill(t, "pem:"+b, roots("Hook Old", 1))
	s.config(fmt.Sprintf(`jobs:
  web:
    sources: [pem:%s]
    targets:
      - store: pem:%s
        hooks: %s
        hook-timeout: %s
      - store: pem:%s
        hooks: %s
        hook-timeout: %s
`, src, a, hooksA, timeoutA, b, hooksB, timeoutB))
	return s, []string{"pem:" + a, "pem:" + b}
}

// TestHookBackgroundChild: a hook that leaves a process in the background
// (holding its output open) does not keep rootsync or the lock; a hook that
// outlives its 1s timeout is stopped with everything it started.
func TestHookBackgroundChild(t *testing.T) {
	t.Run("exits", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "pid")
		s, _ := hookJob(t, fmt.Sprintf(`[["sh", "-c", "sleep 60 & echo $! > %s; echo reloaded"]]`, pidFile), "1s", "[]", "1s")
		start := time.Now()
		r := s.run("--cron")
		if r.code != 0 {
			t.Fatalf("run: %v", r)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("the run took %s: it waited for the hook's background process", d)
		}
		pid := readPid(t, pidFile)
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
		if !processAlive(pid) {
			t.Errorf("the hook's background process was stopped; a hook that exits keeps what it started")
		}
		if r := rootsync(t, s.env, "sync", "--state-dir", s.state, "--lock-wait", "1s", "pem:"+s.path("src.pem"), "--to", "pem:"+s.path("c.pem")); r.code != 0 {
			t.Errorf("the lock is still held after the run: %v", r)
		}
	})
	t.Run("times out", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "pid")
		s, targets := hookJob(t, fmt.Sprintf(`[["sh", "-c", "sleep 60 & echo $! > %s; sleep 60"]]`, pidFile), "1s", "[]", "1s")
		before := fingerprints(t, targets[0])
		start := time.Now()
		r := s.run("--cron")
		if r.code != 1 || !strings.Contains(r.stderr, "timed out after 1s") {
			t.Errorf("run with a hook past its timeout: %v\nwant exit 1 naming the timeout", r)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("the run took %s with a 1s hook timeout", d)
		}
		pid := readPid(t, pidFile)
		deadline := time.Now().Add(3 * time.Second)
		for processAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if processAlive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("the timed-out hook's background process %d survived", pid)
		}
		if got := fingerprints(t, targets[0]); !equal(got, before) {
			t.Errorf("%s was not rolled back", targets[0])
		}
		if r := rootsync(t, s.env, "sync", "--state-dir", s.state, "--lock-wait", "1s", "pem:"+s.path("src.pem"), "--to", "pem:"+s.path("c.pem")); r.code != 0 {
			t.Errorf("the lock is still held after the run: %v", r)
		}
	})
}

// TestHookEnvironmentWithoutPasswords: hooks do not see the variable
// rootsync read passwords from.
func TestHookEnvironmentWithoutPasswords(t *testing.T) {
	out := filepath.Join(t.TempDir(), "env")
	s, _ := hookJob(t, fmt.Sprintf(`[["sh", "-c", "echo \"${STORE_PW-unset} $KEEP_ME\" > %s"]]`, out), "5s", "[]", "1s")
	s.env = append(s.env, "STORE_PW=hunter2", "KEEP_ME=kept")
	if r := s.run("--cron", "--password-env", "STORE_PW"); r.code != 0 {
		t.Fatalf("run: %v", r)
	}
	if got, _ := os.ReadFile(out); string(got) != "unset kept\n" {
		t.Errorf("the hook saw %q, want %q", got, "unset kept\n")
	}
}

// startSignalRun starts `rootsync run --cron` and waits for marker, which
// target b's hook creates while the run is in it.
func startSignalRun(t *testing.T, s *setup, marker string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, "run", "--cron", "--config", s.path("config.yaml"))
	cmd.Env = s.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFile(t, marker)
	return cmd, &stderr
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSignalRollsBackAndRerunsHooks: SIGTERM while target b's hook runs
// rolls both targets back, runs a's hook again (not skipped as "context
// canceled") and exits 1 within the rolled-back targets' hook timeouts plus
// 5 seconds; a second SIGTERM during those hooks skips them, keeps the
// journal, says so, and the next run rolls back.
func TestSignalRollsBackAndRerunsHooks(t *testing.T) {
	t.Run("one signal", func(t *testing.T) {
		dir := t.TempDir()
		log, marker := filepath.Join(dir, "log"), filepath.Join(dir, "b-started")
		s, targets := hookJob(t,
			fmt.Sprintf(`[["sh", "-c", "echo a >> %s"]]`, log), "3s",
			fmt.Sprintf(`[["sh", "-c", "[ -e %[1]s ] && exit 0; touch %[1]s; sleep 60"]]`, marker), "2s")
		before := map[string][]string{}
		for _, tg := range targets {
			before[tg] = fingerprints(t, tg)
		}
		cmd, stderr := startSignalRun(t, s, marker)
		start := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		took := time.Since(start)
		if code := exitCode(err); code != 1 {
			t.Errorf("exit status after SIGTERM: %d, want 1\n%s", code, stderr)
		}
		if limit := 3*time.Second + 2*time.Second + 5*time.Second; took > limit {
			t.Errorf("rootsync took %s to exit after SIGTERM, more than the hook timeouts plus 5s (%s)", took, limit)
		}
		for _, tg := range targets {
			if got := fingerprints(t, tg); !equal(got, before[tg]) {
				t.Errorf("%s was not rolled back", tg)
			}
		}
		if got, _ := os.ReadFile(log); string(got) != "a\na\n" {
			t.Errorf("a's hook ran %q, want twice (after the change and after the rollback)\n%s", got, stderr)
		}
		if strings.Contains(stderr.String(), "context canceled\n") && strings.Contains(stderr.String(), "after the rollback") {
			t.Errorf("a rollback hook was skipped:\n%s", stderr)
		}
		if !strings.Contains(stderr.String(), "rolled back "+targets[0]+", "+targets[1]) {
			t.Errorf("stderr does not name the rolled-back targets:\n%s", stderr)
		}
		if p, _ := journal.Pending(s.state); p != nil {
			t.Errorf("the journal is left after a complete rollback")
		}
	})
	t.Run("two signals", func(t *testing.T) {
		dir := t.TempDir()
		marker, again := filepath.Join(dir, "b-started"), filepath.Join(dir, "a-again")
		s, targets := hookJob(t,
			fmt.Sprintf(`[["sh", "-c", "[ -e %[1]s.first ] || { touch %[1]s.first; exit 0; }; touch %[1]s; sleep 60"]]`, again), "30s",
			fmt.Sprintf(`[["sh", "-c", "[ -e %[1]s ] && exit 0; touch %[1]s; sleep 60"]]`, marker), "30s")
		cmd, stderr := startSignalRun(t, s, marker)
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitFile(t, again) // a's hook runs again after the rollback
		start := time.Now()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("rootsync took %s to exit after the second signal", d)
		}
		if code := exitCode(err); code != 1 {
			t.Errorf("exit status: %d, want 1\n%s", code, stderr)
		}
		if !strings.Contains(stderr.String(), "interrupted again") || !strings.Contains(stderr.String(), "journal is kept") {
			t.Errorf("stderr does not say the hooks were skipped and the journal kept:\n%s", stderr)
		}
		if p, _ := journal.Pending(s.state); p == nil {
			t.Fatalf("the journal was not kept after a second signal")
		}
		// The next run rolls back again (the files are already back), then
		// does its own work with hooks that now return at once.
		cfg, _ := os.ReadFile(s.path("config.yaml"))
		writeFile(t, s.path("config.yaml"), strings.ReplaceAll(string(cfg), "sleep 60", "true"))
		r := s.run("--cron")
		if r.code != 0 || !strings.Contains(r.stderr, "left half-done by an interrupted run") {
			t.Errorf("the run after a second signal: %v", r)
		}
		for _, tg := range targets {
			if !strings.Contains(r.stdout, tg+": added 2") {
				t.Errorf("the next run did not apply %s:\n%v", tg, r)
			}
		}
	})
}

// TestFailingHookAfterRollbackIsReported: target b's hook fails, so a is
// rolled back and its hook runs again, and fails too; text and --cron output
// say so and the hint does not claim all is as before.
func TestFailingHookAfterRollbackIsReported(t *testing.T) {
	for _, args := range [][]string{{"--cron"}, {}} {
		t.Run(strings.Join(append([]string{"run"}, args...), " "), func(t *testing.T) {
			dir := t.TempDir()
			seen := filepath.Join(dir, "a-seen")
			s, targets := hookJob(t,
				fmt.Sprintf(`[["sh", "-c", "[ -e %[1]s ] && { echo 'reload: service is gone' >&2; exit 1; }; touch %[1]s"]]`, seen), "5s",
				`[["sh", "-c", "echo 'config test failed' >&2; exit 1"]]`, "5s")
			r := s.run(args...)
			if r.code != 1 {
				t.Errorf("exit status %d, want 1", r.code)
			}
			for _, want := range []string{
				`rootsync: job "web": target ` + targets[0] + `: rollback: hooks of ` + targets[0] + ` after the rollback: hook`,
				"reload: service is gone",
				"hint: the rollback did not complete",
			} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%v", want, r)
				}
			}
			if strings.Contains(r.stderr, "as they were before the run") {
				t.Errorf("the hint claims all is as before although a hook failed after the rollback:\n%v", r)
			}
		})
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	waitFile(t, path)
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no process id in %s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
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

// TestSystemRollbackRegenerates: a job writes a Debian system store (under a
// root prefix) and then fails on its next target; the rollback restores the
// anchors folder and runs update-ca-certificates again, so the generated
// bundle no longer holds the new root.
func TestSystemRollbackRegenerates(t *testing.T) {
	need(t, "update-ca-certificates")
	need(t, "openssl")
	s := newSetup(t)
	root := s.path("root")
	writeFile(t, filepath.Join(root, "etc", "ca-certificates.conf"), "")
	src := s.path("src.pem")
	fill(t, "pem:"+src, roots("System Rollback Root", 1))
	system := "system:" + root + "?family=debian"
	fill(t, system, roots("System Old Root", 1))
	bundle := "pem:" + filepath.Join(root, "etc", "ssl", "certs", "ca-certificates.crt")
	before := fingerprints(t, bundle)
	if len(before) != 1 {
		t.Fatalf("the generated bundle holds %d roots before the run, want 1", len(before))
	}
	s.config(fmt.Sprintf(`jobs:
  system:
    sources: [pem:%s]
    targets:
      - %s
      - store: pem:%s
        hooks: [["false"]]
`, src, system, s.path("app.pem")))
	r := s.run("--cron")
	if r.code != 1 || !strings.Contains(r.stderr, "rolled back "+system) {
		t.Fatalf("run with a failing hook after the system store: %v", r)
	}
	if got := fingerprints(t, bundle); !equal(got, before) {
		t.Errorf("after the rollback ca-certificates.crt holds %d roots, want the %d it held before (the tool was not re-run)", len(got), len(before))
	}
	if got := fingerprints(t, system); !equal(got, before) {
		t.Errorf("after the rollback the system store holds %v, want %v", got, before)
	}
}

// TestReadersWarnWhileRecoveryPending: after a sync is killed with its
// journal written, diff and list warn that a rollback is pending and change
// nothing; the next sync rolls back.
func TestReadersWarnWhileRecoveryPending(t *testing.T) {
	s := newSetup(t)
	src, target := s.path("src.pem"), s.path("target.pem")
	fill(t, "pem:"+src, roots("Pending Root", 1))
	fill(t, "pem:"+target, roots("Pending Old", 1))
	before := fingerprints(t, "pem:"+target)
	// Plant what a sync killed after its journal leaves: the journal naming
	// the target and its backup, and the target changed.
	if err := os.MkdirAll(s.state, 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := backup.Take(s.state, "pem:"+target, []string{target}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	jr, err := journal.Begin(s.state, "sync", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := jr.Add("pem:"+target, b); err != nil {
		t.Fatal(err)
	}
	fill(t, "pem:"+target, roots("Pending Root", 1))

	for _, args := range [][]string{
		{"list", "--state-dir", s.state, "pem:" + target},
		{"diff", "--state-dir", s.state, "pem:" + src, "--to", "pem:" + target},
		{"sync", "--dry-run", "--state-dir", s.state, "pem:" + src, "--to", "pem:" + target},
	} {
		r := rootsync(t, s.env, args...)
		if !strings.Contains(r.stderr, `rootsync: warning: job "sync" was interrupted`) || !strings.Contains(r.stderr, "rolls it back first") {
			t.Errorf("%s with a pending recovery: %v\nwant a warning", args[0], r)
		}
		if p, _ := journal.Pending(s.state); p == nil {
			t.Fatalf("%s removed the journal", args[0])
		}
	}
	r := rootsync(t, s.env, "sync", "--state-dir", s.state, "pem:"+s.path("src.pem"), "--to", "pem:"+s.path("other.pem"))
	if r.code != 0 || !strings.Contains(r.stderr, "rolled back pem:"+target+", left half-done by an interrupted run") {
		t.Errorf("the next sync: %v", r)
	}
	if got := fingerprints(t, "pem:"+target); !equal(got, before) {
		t.Errorf("%s after the recovery holds %v, want %v", target, got, before)
	}
}
