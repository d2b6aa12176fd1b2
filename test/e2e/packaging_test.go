package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/config"
	"github.com/rootsync/rootsync/internal/testpki"
)

func packaging(name string) string { return filepath.Join(repoRoot, "packaging", name) }

// TestSystemdUnits checks the service and timer with systemd-analyze verify,
// pointing a copy of the service at the rootsync binary built for the test.
// Any complaint (an unknown key is only a warning to systemd) fails the test.
func TestSystemdUnits(t *testing.T) {
	analyze := need(t, "systemd-analyze")
	svc, err := os.ReadFile(packaging("rootsync.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svc, []byte("ExecStart=/usr/local/bin/rootsync run --cron\n")) || !bytes.Contains(svc, []byte("Type=oneshot\n")) {
		t.Errorf("rootsync.service: want Type=oneshot and ExecStart=/usr/local/bin/rootsync run --cron")
	}
	timer, err := os.ReadFile(packaging("rootsync.timer"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Persistent=true\n", "RandomizedDelaySec=", "OnCalendar=", "WantedBy=timers.target\n"} {
		if !bytes.Contains(timer, []byte(want)) {
			t.Errorf("rootsync.timer lacks %q", want)
		}
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rootsync.service"), strings.ReplaceAll(string(svc), "/usr/local/bin/rootsync", bin))
	writeFile(t, filepath.Join(dir, "rootsync.timer"), string(timer))
	cmd := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, "rootsync.service"), filepath.Join(dir, "rootsync.timer"))
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	// The credential drop-in packaging/README.md documents, written from the
	// unit's own commented example line, verifies too.
	var example string
	for _, line := range strings.Split(string(svc), "\n") {
		if l := strings.TrimSpace(strings.TrimPrefix(line, "#")); strings.HasPrefix(l, "LoadCredential=") {
			example = l
		} else if strings.HasPrefix(line, "LoadCredential") {
			t.Errorf("rootsync.service has an active %q: a missing credential file stops the unit", line)
		}
	}
	if example == "" {
		t.Fatal("rootsync.service does not document LoadCredential=")
	}
	writeFile(t, filepath.Join(dir, "rootsync.service.d", "credentials.conf"), "[Service]\n"+example+"\n")
	out, err = exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, "rootsync.service")).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify with the drop-in %q: %v\n%s", example, err, out)
	}
	// A misspelt key in a drop-in must be noticed, or the check above
	// proves nothing.
	writeFile(t, filepath.Join(dir, "rootsync.service.d", "credentials.conf"), "[Service]\nLoadCredentiall=x:/y\n")
	if out, _ := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, "rootsync.service")).CombinedOutput(); !bytes.Contains(out, []byte("LoadCredentiall")) {
		t.Errorf("systemd-analyze verify does not read the drop-in (no complaint about a misspelt key):\n%s", out)
	}
}

func TestCronExample(t *testing.T) {
	b, err := os.ReadFile(packaging("rootsync.cron"))
	if err != nil {
		t.Fatal(err)
	}
	jobs := 0
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.Contains(strings.Fields(line)[0], "=") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 7 || f[5] != "root" {
			t.Errorf("cron line %q: want minute hour day month weekday user command", line)
			continue
		}
		jobs++
		cmd := strings.Join(f[6:], " ")
		if !strings.Contains(cmd, "rootsync run --cron") {
			t.Errorf("cron command %q does not run 'rootsync run --cron'", cmd)
		}
		if out, err := exec.Command("sh", "-n", "-c", cmd).CombinedOutput(); err != nil {
			t.Errorf("cron command %q: sh -n: %v %s", cmd, err, out)
		}
	}
	if jobs != 1 {
		t.Errorf("rootsync.cron has %d jobs, want 1", jobs)
	}
}

func TestCAHookSyntax(t *testing.T) {
	hook := packaging("ca-certificates-hook")
	fi, err := os.Stat(hook)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s is not executable (mode %v)", hook, fi.Mode())
	}
	for _, sh := range []string{"sh", "dash", "bash"} {
		if p, err := exec.LookPath(sh); err == nil {
			if out, err := exec.Command(p, "-n", hook).CombinedOutput(); err != nil {
				t.Errorf("%s -n %s: %v\n%s", sh, hook, err, out)
			}
		}
	}
}

// TestCAHook runs the hook as update-ca-certificates does (the changes on
// stdin) with a fake rootsync first in PATH: the hook must call
// `rootsync run --cron` and exit 0 whatever rootsync's exit status.
func TestCAHook(t *testing.T) {
	hook := packaging("ca-certificates-hook")
	tests := []struct {
		name       string
		fake       string // exit status of the fake rootsync; "" = none in PATH
		noConfig   bool
		wantCalled bool
		wantStderr string
		systemd    string // exit status of a fake systemctl on a systemd machine; "" = no systemd
		wantUnit   bool   // systemctl start --no-block rootsync.service was called
	}{
		{"in sync", "0", false, true, "", "", false},
		{"failed", "1", false, true, "failed with exit status 1", "", false},
		{"busy", "5", false, true, "another rootsync run holds the lock", "", false},
		{"not installed", "", false, false, "", "", false},
		{"no configuration", "0", true, false, "", "", false},
		{"systemd starts the service", "0", false, false, "", "0", true},
		{"systemd refuses, run directly", "0", false, true, "rootsync.service' failed; running rootsync directly", "1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			calls := filepath.Join(dir, "calls")
			binDir := filepath.Join(dir, "bin")
			if err := os.MkdirAll(binDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.fake != "" {
				script := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %s\nexit %s\n", calls, tt.fake)
				if err := os.WriteFile(filepath.Join(binDir, "rootsync"), []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			systemdDir := filepath.Join(dir, "run-systemd-system")
			unitCalls := filepath.Join(dir, "systemctl-calls")
			if tt.systemd != "" {
				if err := os.Mkdir(systemdDir, 0o755); err != nil {
					t.Fatal(err)
				}
				script := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %s\nexit %s\n", unitCalls, tt.systemd)
				if err := os.WriteFile(filepath.Join(binDir, "systemctl"), []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cfg := filepath.Join(dir, "config.yaml")
			if !tt.noConfig {
				writeFile(t, cfg, "jobs: {}\n")
			}
			cmd := exec.Command(hook)
			cmd.Env = []string{"PATH=" + binDir + ":/usr/bin:/bin", "ROOTSYNC_CONFIG=" + cfg, "ROOTSYNC_HOOK_SYSTEMD_DIR=" + systemdDir}
			cmd.Stdin = strings.NewReader("+local/private-root.crt\n-mozilla/Old_Root.crt\n")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Errorf("hook: %v (it must never fail update-ca-certificates)\n%s", err, stderr.String())
			}
			got, _ := os.ReadFile(calls)
			want := ""
			if tt.wantCalled {
				want = "run --cron --config " + cfg + " --lock-wait 5s\n"
			}
			if string(got) != want {
				t.Errorf("rootsync called with %q, want %q", got, want)
			}
			gotUnit, _ := os.ReadFile(unitCalls)
			wantUnit := ""
			if tt.wantUnit {
				wantUnit = "start --no-block rootsync.service\n"
			}
			if string(gotUnit) != wantUnit {
				t.Errorf("systemctl called with %q, want %q", gotUnit, wantUnit)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) || (tt.wantStderr == "" && stderr.Len() > 0) {
				t.Errorf("hook stderr = %q, want %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

// TestCAHookRealRun runs the hook with the real rootsync first in PATH: the
// job of its configuration is carried out.
func TestCAHookRealRun(t *testing.T) {
	s, targets := nssPair(t, "[]")
	binDir := filepath.Join(s.dir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(binDir, "rootsync")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(packaging("ca-certificates-hook"))
	cmd.Env = append(s.env, "PATH="+binDir+":/usr/bin:/bin", "ROOTSYNC_CONFIG="+s.path("config.yaml"),
		"ROOTSYNC_HOOK_SYSTEMD_DIR="+s.path("no-systemd-here"))
	cmd.Stdin = strings.NewReader("+x.crt\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hook: %v\n%s", err, out)
	}
	for _, tg := range targets {
		if !strings.Contains(string(out), tg+": added 2") || len(fingerprints(t, tg)) != 2 {
			t.Errorf("the hook's run did not change %s:\n%s", tg, out)
		}
	}
}

// TestConfigExample: the example in packaging/ parses, and docs/config.md
// carries the same example.
func TestConfigExample(t *testing.T) {
	ex := packaging("config.example.yaml")
	if _, err := config.Load(ex); err != nil {
		t.Fatalf("%v", err)
	}
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(ex)
	if !bytes.Contains(doc, b) {
		t.Errorf("docs/config.md does not include packaging/config.example.yaml verbatim")
	}
}

// TestVersion: --version names the VCS revision the binary was built from,
// as the build information records it.
func TestVersion(t *testing.T) {
	git := need(t, "git")
	if fi, err := os.Stat(filepath.Join(repoRoot, ".git")); err != nil || !fi.IsDir() {
		// The go command stamps VCS information only in a checkout whose
		// .git is a folder (not in a linked worktree or an export).
		t.Skip("not a plain git checkout: the binary carries no revision")
	}
	head, err := exec.Command(git, "-C", repoRoot, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("rootsync --version: %v\n%s", err, out)
	}
	want := "(revision " + strings.TrimSpace(string(head))[:12]
	if !strings.HasPrefix(string(out), "rootsync ") || !strings.Contains(string(out), want) {
		t.Errorf("rootsync --version = %q, want the revision %q", out, want)
	}
}

// TestPasswordCredential: a store's password-credential is read from
// $CREDENTIALS_DIRECTORY, set here by hand as systemd sets it for a unit with
// LoadCredential= (this test machine's PID 1 is not systemd); openssl opens
// the PKCS#12 file rootsync wrote with that password; hooks do not see the
// variable. Without it, the run fails naming the credential and how to pass
// it, and writes nothing.
func TestPasswordCredential(t *testing.T) {
	openssl := need(t, "openssl")
	dir := t.TempDir()
	root := testpki.Root("Credential Root")
	src := writeFile(t, filepath.Join(dir, "src.pem"), string(root.PEM()))
	creds := filepath.Join(dir, "credentials")
	cred := writeFile(t, filepath.Join(creds, "truststore"), "from-a-credential\n")
	if err := os.Chmod(cred, 0o400); err != nil {
		t.Fatal(err)
	}
	p12 := filepath.Join(dir, "trust.p12")
	envFile := filepath.Join(dir, "hook.env")
	cfg := writeFile(t, filepath.Join(dir, "config.yaml"), fmt.Sprintf(`state-dir: %s
jobs:
  app:
    sources: [pem:%s]
    targets:
      - store: p12:%s
        password-credential: truststore
        hooks:
          - ["sh", "-c", "env > %s"]
`, filepath.Join(dir, "state"), src, p12, envFile))

	env := baseEnv(dir)
	r := rootsync(t, env, "run", "--config", cfg)
	if r.code != 1 || !strings.Contains(r.stderr, `password credential "truststore": $CREDENTIALS_DIRECTORY is not set`) ||
		!strings.Contains(r.stderr, "hint: a systemd credential is passed by the unit that starts rootsync: add LoadCredential=truststore:") {
		t.Fatalf("run without CREDENTIALS_DIRECTORY: want exit 1 naming the credential, with the LoadCredential= hint: %s", r)
	}
	if _, err := os.Stat(p12); !os.IsNotExist(err) {
		t.Fatalf("%s was written without its password: %v", p12, err)
	}

	r = rootsync(t, append(env, "CREDENTIALS_DIRECTORY="+creds), "run", "--config", cfg)
	if r.code != 0 {
		t.Fatalf("run with CREDENTIALS_DIRECTORY: %s", r)
	}
	out, err := exec.Command(openssl, "pkcs12", "-in", p12, "-passin", "file:"+cred, "-nokeys").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Credential Root") {
		t.Fatalf("openssl pkcs12 with the credential's password: %v\n%s", err, out)
	}
	if out, err := exec.Command(openssl, "pkcs12", "-in", p12, "-passin", "pass:wrong", "-nokeys").CombinedOutput(); err == nil {
		t.Fatalf("openssl opened the file with a wrong password, so the check above proves nothing:\n%s", out)
	}
	hookEnv, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatalf("the hook did not run: %v", err)
	}
	if strings.Contains(string(hookEnv), "CREDENTIALS_DIRECTORY") {
		t.Errorf("the hook saw CREDENTIALS_DIRECTORY")
	}
}
