package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootsync/rootsync/stores"
)

// setup is a folder with a source store holding the given roots, a state
// folder and a HOME, and writes configurations into it.
type setup struct {
	t     *testing.T
	dir   string
	state string
	env   []string
}

func newSetup(t *testing.T) *setup {
	s := &setup{t: t, dir: t.TempDir()}
	s.state = filepath.Join(s.dir, "state")
	s.env = baseEnv(filepath.Join(s.dir, "home"))
	return s
}

func (s *setup) path(name string) string { return filepath.Join(s.dir, name) }

// config writes config.yaml with the state folder, then body.
func (s *setup) config(body string) string {
	return writeFile(s.t, s.path("config.yaml"), fmt.Sprintf("state-dir: %s\nkeep-backups: 3\nlock-wait: 2s\n%s", s.state, body))
}

func (s *setup) run(args ...string) result {
	s.t.Helper()
	return rootsync(s.t, s.env, append([]string{"run", "--config", s.path("config.yaml")}, args...)...)
}

// nssPair is the common set-up: a source NSS database with two roots and
// two target NSS databases (the second one missing: created by the run).
func nssPair(t *testing.T, hooks string) (*setup, []string) {
	s := newSetup(t)
	src := s.path("src")
	certutilInit(t, src)
	fill(t, "nss:"+src, roots("Run Root", 2))
	certutilInit(t, s.path("t1"))
	s.config(fmt.Sprintf(`jobs:
  browsers:
    sources: [nss:%s]
    targets:
      - nss:%s
      - store: nss:%s
        hooks: %s
`, src, s.path("t1"), s.path("t2"), hooks))
	return s, []string{"nss:" + s.path("t1"), "nss:" + s.path("t2")}
}

func TestRunCron(t *testing.T) {
	s, targets := nssPair(t, "[]")
	want := fps(roots("Run Root", 2)...)

	r := s.run("--cron", "--dry-run")
	// Each line names the changes: subject and short fingerprint.
	var named []string
	for _, c := range roots("Run Root", 2) {
		named = append(named, fmt.Sprintf("+ %s (%s)", c.Cert.Subject.CommonName, stores.FingerprintOf(c.DER).Short()))
	}
	wantLines := []string{
		fmt.Sprintf("job browsers: %s: would add 2, remove 0, change trust of 0: %s", targets[0], strings.Join(named, ", ")),
		fmt.Sprintf("job browsers: %s: would add 2, remove 0, change trust of 0: %s", targets[1], strings.Join(named, ", ")),
	}
	if r.code != 3 || r.stdout != strings.Join(wantLines, "\n")+"\n" || r.stderr != "" {
		t.Errorf("run --cron --dry-run with drift: %v\nwant exit 3 and\n%s", r, strings.Join(wantLines, "\n"))
	}
	for _, tg := range targets {
		if got := fingerprints(t, tg); len(got) != 0 {
			t.Fatalf("dry run changed %s: %v", tg, got)
		}
	}

	r = s.run("--cron")
	for i := range wantLines {
		wantLines[i] = strings.Replace(wantLines[i], "would add 2, remove 0, change trust of 0", "added 2, removed 0, changed trust of 0", 1)
	}
	if r.code != 0 || r.stdout != strings.Join(wantLines, "\n")+"\n" || r.stderr != "" {
		t.Errorf("run --cron with changes: %v\nwant exit 0 and\n%s", r, strings.Join(wantLines, "\n"))
	}
	for _, tg := range targets {
		if got := fingerprints(t, tg); !equal(got, want) {
			t.Errorf("%s = %v, want %v", tg, got, want)
		}
	}

	for _, args := range [][]string{{"--cron"}, {"--cron", "--dry-run"}} {
		if r := s.run(args...); r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Errorf("run %s when in sync: %v\nwant exit 0 and no output at all", strings.Join(args, " "), r)
		}
	}
	if _, err := os.Stat(filepath.Join(s.state, "journal.json")); !os.IsNotExist(err) {
		t.Errorf("a finished run left its journal behind (stat: %v)", err)
	}

	// Every change was backed up; restore lists the backups.
	r = rootsync(t, s.env, "restore", "--state-dir", s.state)
	for _, tg := range targets {
		if !strings.Contains(r.stdout, tg) {
			t.Errorf("restore does not list a backup of %s:\n%v", tg, r)
		}
	}
}

func TestRunTextAndJSON(t *testing.T) {
	s, targets := nssPair(t, "[]")
	r := s.run("--dry-run")
	if r.code != 3 || !strings.Contains(r.stdout, "job browsers:") || !strings.Contains(r.stdout, targets[1]+" (add mode): 2 to add") {
		t.Errorf("run --dry-run: %v", r)
	}
	r = s.run("--output", "json")
	var doc struct {
		Schema string `json:"schema"`
		Jobs   []struct {
			Job  string `json:"job"`
			OK   bool   `json:"ok"`
			Plan struct {
				Schema  string `json:"schema"`
				Changed bool   `json:"changed"`
				Targets []struct {
					Store   string `json:"store"`
					Applied bool   `json:"applied"`
				} `json:"targets"`
			} `json:"plan"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 {
		t.Fatalf("run --output json: %v (%v)", r, err)
	}
	if doc.Schema != "rootsync.run/v1" || len(doc.Jobs) != 1 || !doc.Jobs[0].OK || doc.Jobs[0].Plan.Schema != "rootsync.plan/v1" ||
		len(doc.Jobs[0].Plan.Targets) != 2 || !doc.Jobs[0].Plan.Targets[1].Applied {
		t.Errorf("run --output json = %+v", doc)
	}
}

func TestRunJSONLogs(t *testing.T) {
	s, _ := nssPair(t, "[]")
	r := s.run("--cron", "-v", "--log-format", "json")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(r.stderr))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Errorf("stderr line is not JSON: %q", sc.Text())
			continue
		}
		if m["job"] != "browsers" || m["msg"] == nil || m["level"] == nil {
			t.Errorf("log line without job, msg or level: %q", sc.Text())
		}
		n++
	}
	if n == 0 {
		t.Errorf("-v --log-format json logged nothing: %v", r)
	}
}

func TestRunHooks(t *testing.T) {
	s := newSetup(t)
	log := s.path("hooks.log")
	s2, targets := nssPair(t, fmt.Sprintf(`[["sh", "-c", "echo one >> %[1]s"], ["sh", "-c", "echo two \"$0\" >> %[1]s", "arg with spaces"]]`, log))
	s2.run("--cron")
	got, _ := os.ReadFile(log)
	if want := "one\ntwo arg with spaces\n"; string(got) != want {
		t.Errorf("hooks after a change wrote %q, want %q (in order, argument lists)", got, want)
	}
	if r := s2.run("--cron"); r.code != 0 || r.stdout != "" {
		t.Fatalf("second run: %v", r)
	}
	got, _ = os.ReadFile(log)
	if want := "one\ntwo arg with spaces\n"; string(got) != want {
		t.Errorf("hooks ran although %s did not change: log %q", targets[1], got)
	}
}

func TestRunFailingHookRollsBack(t *testing.T) {
	s, targets := nssPair(t, `[["true"], ["sh", "-c", "echo 'nginx: [emerg] cannot load certificate' >&2; exit 1"]]`)
	before := map[string]string{}
	for _, tg := range targets {
		before[tg] = strings.Join(fingerprints(t, tg), ",")
	}
	r := s.run("--cron")
	if r.code != 1 {
		t.Fatalf("run with a failing hook: %v\nwant exit 1", r)
	}
	for _, want := range []string{
		`rootsync: job "browsers": target ` + targets[1] + `: hook "sh -c echo 'nginx: [emerg] cannot load certificate' >&2; exit 1" failed: exit status 1: nginx: [emerg] cannot load certificate`,
		`rootsync: job "browsers": rolled back ` + targets[0] + ", " + targets[1],
		"hint: ",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%v", want, r)
		}
	}
	if r.stdout != "" {
		t.Errorf("--cron printed a summary for a rolled-back job: %q", r.stdout)
	}
	for _, tg := range targets {
		if got := strings.Join(fingerprints(t, tg), ","); got != before[tg] {
			t.Errorf("%s after rollback = %s, want %s", tg, got, before[tg])
		}
	}
}

func TestRunConfigMistakes(t *testing.T) {
	s := newSetup(t)
	target := s.path("t.pem")
	writeFile(t, target, "")
	cfg := s.config(fmt.Sprintf(`jobs:
  nginx-clients:
    sources: [nss:%s]
    targets:
      - pemm:/x
      - store: pem:%s
        hooks: ["nginx -s reload"]
    mode: sometimes
`, s.path("src"), target))
	r := s.run()
	for _, want := range []string{
		cfg + `:8: job "nginx-clients": target "pemm:/x": unknown kind "pemm"`,
		cfg + `:10: job "nginx-clients": target "pem:` + target + `": hooks: each hook is a list of arguments`,
		cfg + `:11: job "nginx-clients": mode: unknown mode "sometimes"`,
		"hint: nothing was changed",
	} {
		if !strings.Contains(r.stderr, "rootsync: "+want) && !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if r.code != 2 || r.stdout != "" {
		t.Errorf("run with a bad configuration: %v\nwant exit 2 and nothing on stdout", r)
	}
	if _, err := os.Stat(s.state); !os.IsNotExist(err) {
		t.Errorf("a bad configuration still touched the state folder (stat: %v)", err)
	}

	s2, _ := nssPair(t, "[]")
	if r := s2.run("--job", "nope"); r.code != 2 || !strings.Contains(r.stderr, `--job "nope"`) || !strings.Contains(r.stderr, "browsers") {
		t.Errorf("run --job nope: %v", r)
	}
	if r := rootsync(t, s2.env, "run", "--config", s2.path("missing.yaml")); r.code != 2 || !strings.Contains(r.stderr, "missing.yaml") {
		t.Errorf("run with a missing configuration: %v", r)
	}
}

// startRun starts `rootsync run` in the background and waits until it holds
// the lock.
func startRun(t *testing.T, s *setup, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"run", "--config", s.path("config.yaml")}, args...)...)
	cmd.Env = s.env
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join(s.state, "lock"))
		if strings.TrimSpace(string(b)) == strconv.Itoa(cmd.Process.Pid) {
			return cmd
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("rootsync run (process %d) did not take the lock within 30s", cmd.Process.Pid)
	return nil
}

// TestRunOneAtATime: a second run gives up after lock-wait with exit 5; a run
// killed with SIGKILL leaves no stale lock, and the next run rolls back what
// it left half-done before doing its own work.
func TestRunOneAtATime(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "hook-started")
	s, targets := nssPair(t, fmt.Sprintf(`[["sh", "-c", "touch %s; exec sleep 30"]]`, marker))
	first := startRun(t, s, "--cron")

	r := s.run("--cron", "--lock-wait", "300ms")
	if r.code != 5 || !strings.Contains(r.stderr, "another rootsync run holds the lock") ||
		!strings.Contains(r.stderr, strconv.Itoa(first.Process.Pid)) || r.stdout != "" {
		t.Errorf("second run while the first holds the lock: %v\nwant exit 5 naming the holder", r)
	}

	// Kill the first run while its hook runs: t1 and t2 are changed, the
	// journal names both.
	deadline := time.Now().Add(30 * time.Second)
	for _, err := os.Stat(marker); err != nil; _, err = os.Stat(marker) {
		if time.Now().After(deadline) {
			t.Fatal("the hook never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	for _, tg := range targets {
		if len(fingerprints(t, tg)) != 2 {
			t.Fatalf("%s was not changed before the kill", tg)
		}
	}

	// The next run is not blocked, and first rolls the killed run back: with
	// --dry-run it only warns.
	r = s.run("--dry-run", "--cron")
	if r.code != 0 || !strings.Contains(r.stderr, `job "browsers" was interrupted`) {
		t.Errorf("dry run after a killed run: %v", r)
	}
	// Replace the slow hook, so the real run finishes.
	cfg, _ := os.ReadFile(s.path("config.yaml"))
	writeFile(t, s.path("config.yaml"), strings.Replace(string(cfg), "exec sleep 30", "true", 1))
	start := time.Now()
	r = s.run("--cron", "--lock-wait", "1s")
	if r.code != 0 {
		t.Fatalf("run after a killed run: %v", r)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("the run after a killed run took %s: blocked by a stale lock?", time.Since(start))
	}
	for _, tg := range targets {
		if !strings.Contains(r.stderr, `rootsync: job "browsers": rolled back `+tg+`, left half-done by an interrupted run`) {
			t.Errorf("stderr does not report rolling back %s:\n%v", tg, r)
		}
		if !strings.Contains(r.stdout, tg+": added 2") {
			t.Errorf("the run after recovery did not re-apply %s:\n%v", tg, r)
		}
	}
}
