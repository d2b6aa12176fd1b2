package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rootsync/rootsync/internal/journal"
	"github.com/rootsync/rootsync/internal/testpki"
)

// TestKillAtFlushPoints kills a sync into a CA folder that does not exist
// yet at each step of its commit, with strace's fault injection (SIGKILL on
// entry to the named system call, the first time one with those paths is
// made): the building of the staged folder, the flush of the staged folder
// with the journal, the journal's rename, the flush of the state folder,
// the rename of the built folder into place, the flush of its parent, the
// journal's removal, and the exit. Right
// after each kill the journal and the folder are as the order promises (the
// folder never in place without the journal); after the next rootsync
// process the folder is wholly absent or wholly new (every file with its
// link, as openssl verify reads them); a sync after that builds it whole and
// leaves no staged folder or journal behind.
func TestKillAtFlushPoints(t *testing.T) {
	strace := need(t, "strace")
	openssl := need(t, "openssl")
	certs := roots("Kill points", 6)
	points := []struct {
		name string
		args []string // strace's filter and injection
		// right after the kill: the journal there, the folder in place
		journal, folder bool
	}{
		{"the building of the folder (its first link)", []string{"inject=symlink,symlinkat:signal=KILL:when=1"}, false, false},
		{"the flush of the staged folder and journal", []string{"inject=syncfs:signal=KILL:when=1"}, false, false},
		{"the journal's rename", []string{"-P", "STATE/journal.json", "inject=rename,renameat,renameat2:signal=KILL:when=1"}, false, false},
		{"the state folder's flush", []string{"-P", "STATE", "inject=fsync:signal=KILL:when=1"}, true, false},
		{"the folder's rename into place", []string{"-P", "CA", "inject=renameat2:signal=KILL:when=1"}, true, false},
		{"the flush of the folder's parent", []string{"-P", "DIR", "inject=fsync:signal=KILL:when=1"}, true, true},
		{"the journal's removal", []string{"-P", "STATE/journal.json", "inject=unlink,unlinkat:signal=KILL:when=1"}, true, true},
		{"the exit", []string{"inject=exit_group:signal=KILL:when=1"}, false, true},
	}
	for _, p := range points {
		t.Run(p.name, func(t *testing.T) {
			dir := t.TempDir()
			state, ca := filepath.Join(dir, "state"), filepath.Join(dir, "ca")
			src := filepath.Join(dir, "src.pem")
			fill(t, "pem:"+src, certs)
			env := append(baseEnv(filepath.Join(dir, "home")), "ROOTSYNC_STATE_DIR="+state)
			args := []string{"-f", "-qq", "-o", "/dev/null"}
			for _, a := range p.args {
				a = strings.NewReplacer("STATE", state, "CA", ca, "DIR", dir).Replace(a)
				if calls, ok := strings.CutPrefix(a, "inject="); ok {
					// Only the calls traced are injected into.
					calls, _, _ = strings.Cut(calls, ":")
					args = append(args, "-e", "trace="+calls, "-e")
				}
				args = append(args, a)
			}
			args = append(args, bin, "sync", "pem:"+src, "--to", "capath:"+ca)
			cmd := exec.Command(strace, args...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			// strace ends as its tracee did: killed.
			if ee, ok := err.(*exec.ExitError); !ok || !killedBySIGKILL(ee) {
				t.Fatalf("strace %v: %v, want the sync killed\n%s", args, err, out)
			}
			_, jerr := os.Lstat(filepath.Join(state, journal.FileName))
			_, ferr := os.Lstat(ca)
			if (jerr == nil) != p.journal || (ferr == nil) != p.folder {
				t.Errorf("right after the kill: journal there %v, folder in place %v; want %v, %v", jerr == nil, ferr == nil, p.journal, p.folder)
			}

			// The next process rolls back what the killed one left.
			empty := writeFile(t, filepath.Join(dir, "empty.pem"), "")
			if r := rootsync(t, env, "sync", "pem:"+empty, "--to", "pem:"+filepath.Join(dir, "unrelated.pem")); r.code != 0 {
				t.Fatalf("the next process: %v", r)
			}
			if _, err := os.Lstat(ca); err == nil {
				if got := fingerprints(t, "capath:"+ca); !equal(got, fps(certs...)) {
					t.Errorf("after the next process the folder holds %d certificates, want none or all %d", len(got), len(certs))
				}
				verifyAll(t, openssl, ca, certs)
			}
			if p, _ := journal.Pending(state); p != nil {
				t.Errorf("the journal is still there after the next process")
			}

			// A sync after that builds the folder whole.
			if r := rootsync(t, env, "sync", "pem:"+src, "--to", "capath:"+ca); r.code != 0 {
				t.Fatalf("the sync after: %v", r)
			}
			verifyAll(t, openssl, ca, certs)
			if left, _ := filepath.Glob(filepath.Join(dir, ".ca.rootsync-new-*")); len(left) > 0 {
				t.Errorf("staged folders left behind: %v", left)
			}
			if left, _ := filepath.Glob(filepath.Join(state, ".journal.json.rootsync-*")); len(left) > 0 {
				t.Errorf("staged journals left behind: %v", left)
			}
		})
	}
}

// verifyAll checks that openssl verify finds every one of certs (self-signed
// roots) through the hashed folder ca.
func verifyAll(t *testing.T, openssl, ca string, certs []*testpki.Cert) {
	t.Helper()
	for i, c := range certs {
		p := writeFile(t, filepath.Join(t.TempDir(), "c.pem"), string(c.PEM()))
		if out, err := exec.Command(openssl, "verify", "-CApath", ca, "-no-CAfile", "-no-CAstore", p).CombinedOutput(); err != nil {
			t.Errorf("openssl verify -CApath %s of certificate %d: %v\n%s", ca, i, err, out)
		}
	}
}

func killedBySIGKILL(ee *exec.ExitError) bool {
	if ee.ExitCode() == 128+int(syscall.SIGKILL) {
		return true
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
