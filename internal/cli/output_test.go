package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// invoke runs rootsync in this process and returns its exit status and
// output.
func invoke(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(args, &o, &e)
	return code, o.String(), e.String()
}

// pemFixture writes two bundles with a root each, and the state folder.
func pemFixture(t *testing.T) (dir, a, b string) {
	t.Helper()
	dir = t.TempDir()
	t.Setenv("ROOTSYNC_STATE_DIR", filepath.Join(dir, "state"))
	a, b = filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.pem")
	os.WriteFile(a, testpki.Root("Output Root A").PEM(), 0o644)
	os.WriteFile(b, testpki.Root("Output Root B").PEM(), 0o644)
	return dir, a, b
}

// forceTerminal makes rootsync take stdout for a terminal (or not) until the
// test ends.
func forceTerminal(t *testing.T, on bool) {
	old := isTerminal
	isTerminal = func(io.Writer) bool { return on }
	t.Cleanup(func() { isTerminal = old })
}

// TestColorOnlyOnTerminal: diff's + and - lines and check's verdict are
// coloured on a terminal, never when stdout is not one or NO_COLOR is set.
func TestColorOnlyOnTerminal(t *testing.T) {
	dir, a, b := pemFixture(t)
	target := filepath.Join(dir, "t.pem")
	os.WriteFile(target, testpki.Root("Output Root B").PEM(), 0o644)
	leaf := filepath.Join(dir, "leaf.pem")
	os.WriteFile(leaf, testpki.Root("Output Root A").Leaf("client").PEM(), 0o644)
	diff := []string{"diff", "pem:" + a, "--to", "pem:" + target, "--mode", "mirror", "--max-removals", "1"}
	chk := []string{"check", leaf, "--store", "pem:" + b, "--no-discover"}
	for _, c := range []struct {
		name     string
		terminal bool
		noColor  string
		want     bool
	}{
		{"not a terminal", false, "", false},
		{"terminal", true, "", true},
		{"terminal, NO_COLOR=1", true, "1", false},
		{"not a terminal, NO_COLOR=1", false, "1", false},
	} {
		forceTerminal(t, c.terminal)
		t.Setenv("NO_COLOR", c.noColor)
		code, out, errOut := invoke(diff...)
		if code != ExitDrift {
			t.Fatalf("%s: diff: exit %d\n%s%s", c.name, code, out, errOut)
		}
		if got := strings.Contains(out, "\x1b["); got != c.want {
			t.Errorf("%s: diff output has escape codes: %v, want %v\n%q", c.name, got, c.want, out)
		}
		if c.want && (!strings.Contains(out, "\x1b[32m  + add ") || !strings.Contains(out, "\x1b[31m  - remove ")) {
			t.Errorf("%s: + and - lines not green and red:\n%q", c.name, out)
		}
		code, out, _ = invoke(chk...)
		if code != ExitRejected {
			t.Fatalf("%s: check: exit %d", c.name, code)
		}
		if got := strings.HasPrefix(out, "\x1b[31mrejected\x1b[0m: "); got != c.want {
			t.Errorf("%s: check verdict coloured: %v, want %v\n%q", c.name, got, c.want, out)
		}
		if !c.want && strings.Contains(out, "\x1b[") {
			t.Errorf("%s: check output has escape codes:\n%q", c.name, out)
		}
		// JSON is never coloured.
		_, out, _ = invoke(append(diff, "-o", "json")...)
		if strings.Contains(out, "\x1b[") {
			t.Errorf("%s: JSON has escape codes", c.name)
		}
	}
}

// TestListSeveralStoresOneDocument: list -o json of two stores prints one
// rootsync.list/v2 document with both, in order.
func TestListSeveralStoresOneDocument(t *testing.T) {
	_, a, b := pemFixture(t)
	code, out, errOut := invoke("list", "-o", "json", "pem:"+a, "pem:"+b)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	var doc struct {
		Schema string `json:"schema"`
		Stores []struct {
			Store        string `json:"store"`
			Certificates []struct {
				Subject string `json:"subject"`
			} `json:"certificates"`
		} `json:"stores"`
	}
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if dec.More() {
		t.Errorf("more than one JSON document:\n%s", out)
	}
	if doc.Schema != "rootsync.list/v2" || len(doc.Stores) != 2 || doc.Stores[0].Store != "pem:"+a || doc.Stores[1].Store != "pem:"+b ||
		len(doc.Stores[1].Certificates) != 1 || !strings.Contains(doc.Stores[1].Certificates[0].Subject, "Output Root B") {
		t.Errorf("list of two stores = %+v", doc)
	}
}

// TestRestoreJSON: restore -o json lists the backups as rootsync.backups/v1
// and reports a restore as rootsync.restore/v1.
func TestRestoreJSON(t *testing.T) {
	dir, a, b := pemFixture(t)
	if code, out, errOut := invoke("sync", "pem:"+a, "--to", "pem:"+b); code != ExitOK {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := invoke("restore", "-o", "json")
	var list struct {
		Schema   string `json:"schema"`
		StateDir string `json:"state_dir"`
		Backups  []struct {
			ID      string    `json:"id"`
			Created time.Time `json:"created"`
			Store   string    `json:"store"`
			Dir     string    `json:"dir"`
		} `json:"backups"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != ExitOK {
		t.Fatalf("restore -o json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if list.Schema != "rootsync.backups/v1" || list.StateDir != filepath.Join(dir, "state") || len(list.Backups) != 1 ||
		list.Backups[0].Store != "pem:"+b || list.Backups[0].Created.IsZero() || !strings.HasPrefix(list.Backups[0].Dir, list.StateDir) {
		t.Fatalf("restore -o json = %+v", list)
	}
	code, out, errOut = invoke("restore", "-o", "json", list.Backups[0].ID)
	var done struct {
		Schema, Store, From, Undo string
	}
	if err := json.Unmarshal([]byte(out), &done); err != nil || code != ExitOK {
		t.Fatalf("restore -o json ID: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	if done.Schema != "rootsync.restore/v1" || done.Store != "pem:"+b || done.From != list.Backups[0].ID || done.Undo == "" || done.Undo == done.From {
		t.Errorf("restore -o json ID = %+v", done)
	}
}

// TestJSONLogTimes: --log-format json stamps each line with an RFC 3339
// time.
func TestJSONLogTimes(t *testing.T) {
	dir, a, _ := pemFixture(t)
	code, _, errOut := invoke("diff", "-v", "--log-format", "json", "pem:"+a, "--to", "pem:"+filepath.Join(dir, "new.pem"))
	if code != ExitDrift {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	n, planned := 0, 0
	sc := bufio.NewScanner(strings.NewReader(errOut))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		ts, _ := m["ts"].(string)
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("ts %v is not RFC 3339: %v", m["ts"], err)
		}
		if m["msg"] == "planned target" {
			planned++
			what, _ := m["what"].([]any)
			if len(what) != 1 || !strings.Contains(fmt.Sprint(what[0]), "+ Output Root A (") {
				t.Errorf("planned target does not name the change: %v", m)
			}
		}
		n++
	}
	if n == 0 || planned != 1 {
		t.Errorf("-v --log-format json logged %d lines, %d of them planned target, want one", n, planned)
	}
}

// failingHook fails while the target it is given holds anything: after the
// change, not after the rollback.
const failingHook = `if [ -s "$0" ]; then echo reload failed >&2; exit 1; fi`

// runFixture writes a configuration with one job whose second target's hook
// fails, so that the job rolls both targets back.
func runFixture(t *testing.T) (cfg string, targets []string) {
	dir, a, _ := pemFixture(t)
	targets = []string{filepath.Join(dir, "t1.pem"), filepath.Join(dir, "t2.pem")}
	for _, tg := range targets {
		os.WriteFile(tg, nil, 0o644)
	}
	cfg = filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, `jobs:
  apps:
    sources: [pem:%s]
    targets:
      - pem:%s
      - store: pem:%s
        hooks: [["sh", "-c", %q, %q]]
`, a, targets[0], targets[1], failingHook, targets[1]), 0o644)
	return cfg, targets
}

// TestRunFailureThroughExitPath: a job that fails is part of run's result
// (text and JSON on stdout); the error and its hint reach stderr once,
// through the exit path, and --cron prints nothing on stdout for it.
func TestRunFailureThroughExitPath(t *testing.T) {
	cfg, targets := runFixture(t)
	wantErr := []string{
		fmt.Sprintf(`rootsync: job "apps": target pem:%s: hook %q failed: exit status 1: reload failed`, targets[1], "sh -c "+failingHook+" "+targets[1]),
		`rootsync: job "apps": rolled back pem:` + targets[0] + `, pem:` + targets[1],
		`hint: the job's targets are as they were before the run; fix what the hook reports (or the hook in the configuration) and run again`,
	}
	for _, c := range []struct {
		args    []string
		stdout  func(string) error
		summary string
	}{
		{nil, func(out string) error {
			if !strings.Contains(out, "job apps:\n") || !strings.Contains(out, "; rolled back\n") || !strings.Contains(out, "  failed: hook ") {
				return fmt.Errorf("text does not show the failure")
			}
			return nil
		}, "text"},
		{[]string{"--cron"}, func(out string) error {
			if out != "" {
				return fmt.Errorf("--cron printed something for a rolled-back job")
			}
			return nil
		}, "cron"},
		{[]string{"-o", "json"}, func(out string) error {
			var doc struct {
				Schema string `json:"schema"`
				Jobs   []struct {
					OK    bool   `json:"ok"`
					Error string `json:"error"`
					Plan  struct {
						Schema  string `json:"schema"`
						Targets []struct {
							RolledBack bool   `json:"rolled_back"`
							Error      string `json:"error"`
						} `json:"targets"`
					} `json:"plan"`
				} `json:"jobs"`
			}
			dec := json.NewDecoder(strings.NewReader(out))
			if err := dec.Decode(&doc); err != nil || dec.More() {
				return fmt.Errorf("not one JSON document: %v", err)
			}
			if doc.Schema != "rootsync.run/v1" || len(doc.Jobs) != 1 || doc.Jobs[0].OK || doc.Jobs[0].Error == "" || doc.Jobs[0].Plan.Schema != "rootsync.plan/v1" ||
				len(doc.Jobs[0].Plan.Targets) != 2 || !doc.Jobs[0].Plan.Targets[0].RolledBack || !strings.Contains(doc.Jobs[0].Plan.Targets[1].Error, "reload failed") {
				return fmt.Errorf("wrong document: %+v", doc)
			}
			return nil
		}, "json"},
	} {
		code, out, errOut := invoke(append([]string{"run", "--config", cfg}, c.args...)...)
		if code != ExitError {
			t.Errorf("%s: exit %d, want %d", c.summary, code, ExitError)
		}
		if err := c.stdout(out); err != nil {
			t.Errorf("%s: %v:\n%s", c.summary, err, out)
		}
		if got := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(wantErr, "\n") {
			t.Errorf("%s: stderr\n%s\nwant\n%s", c.summary, errOut, strings.Join(wantErr, "\n"))
		}
		for _, tg := range targets {
			if b, _ := os.ReadFile(tg); len(b) != 0 {
				t.Errorf("%s: %s not rolled back", c.summary, tg)
			}
		}
	}
}

// TestRunCronNamesChanges: --cron prints one line per changed target,
// naming each certificate by subject and short fingerprint.
func TestRunCronNamesChanges(t *testing.T) {
	dir, a, _ := pemFixture(t)
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, "jobs:\n  apps:\n    sources: [pem:%s]\n    targets: [pem:%s/t1.pem, pem:%s/t2.pem]\n", a, dir, dir), 0o644)
	short := stores.MustParse(testpki.Root("Output Root A").DER).Fingerprint.Short()
	code, out, errOut := invoke("run", "--config", cfg, "--cron")
	if code != ExitOK || errOut != "" {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per target:\n%s", out)
	}
	for i, l := range lines {
		want := fmt.Sprintf("job apps: pem:%s/t%d.pem: added 1, removed 0, changed trust of 0: + Output Root A (%s)", dir, i+1, short)
		if l != want {
			t.Errorf("line %q, want %q", l, want)
		}
	}
	if code, out, _ := invoke("run", "--config", cfg, "--cron"); code != ExitOK || out != "" {
		t.Errorf("in sync: exit %d, %q", code, out)
	}
}
