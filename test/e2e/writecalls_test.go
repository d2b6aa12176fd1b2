package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestCapathWriteCalls counts, with strace, the write system calls of a sync
// into a new CA directory: one per certificate file, plus a few that do not
// grow with the number of certificates (the journal, the lock's pid, the
// buffered plan on standard output, the Go runtime's wake-ups). Two sizes
// tell the two apart.
func TestCapathWriteCalls(t *testing.T) {
	strace := need(t, "strace")
	count := func(n int) int {
		dir := t.TempDir()
		src := filepath.Join(dir, "src.pem")
		fill(t, "pem:"+src, roots("Write calls", n))
		out := filepath.Join(dir, "strace.txt")
		cmd := exec.Command(strace, "-f", "-qq", "-c", "-e", "trace=write,pwrite64,writev", "-o", out,
			bin, "sync", "pem:"+src, "--to", "capath:"+filepath.Join(dir, "capath"))
		cmd.Env = append(baseEnv(filepath.Join(dir, "home")), "ROOTSYNC_STATE_DIR="+filepath.Join(dir, "state"))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("strace rootsync sync: %v\n%s", err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^\s*100\.00\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?total$`).FindSubmatch(b)
		if m == nil {
			// One system call traced: strace prints no total line.
			m = regexp.MustCompile(`(?m)^\s*\S+\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?\w+$`).FindSubmatch(b)
		}
		if m == nil {
			t.Fatalf("no call count in strace's summary:\n%s", b)
		}
		calls, _ := strconv.Atoi(string(m[1]))
		return calls
	}
	small, large := count(40), count(120)
	t.Logf("write calls: %d for 40 certificates, %d for 120", small, large)
	// Exactly one more call per file, give or take the Go runtime's own
	// wake-ups (an 8-byte write to its eventfd now and then).
	if extra := large - small; extra < 80 || extra > 84 {
		t.Errorf("%.2f write calls per certificate file, want 1 (%d for 40 certificates, %d for 120)", float64(extra)/80, small, large)
	}
	if fixed := small - 40; fixed < 0 || fixed > 16 {
		t.Errorf("%d write calls besides the certificate files, want at most 16", fixed)
	}
}
