package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
)

// TestCapathWriteCalls counts, with strace, the write system calls of a sync
// into a new CA directory: one per certificate file, plus a few that do not
// grow with the number of certificates (the journal, the lock's pid, the
// buffered plan on standard output). Two sizes tell the two apart. The Go
// runtime's own wake-ups (8-byte writes to its eventfd, as many as the
// scheduler happens to need) are not rootsync's writes and are not counted:
// strace -y names each call's file, so they can be told apart.
func TestCapathWriteCalls(t *testing.T) {
	strace := need(t, "strace")
	count := func(n int) int {
		return writeCalls(straceNewCAFolder(t, strace, roots("Write calls", n), "-y", "-e", "trace=write,pwrite64,writev"))
	}
	small, large := count(40), count(120)
	t.Logf("write calls: %d for 40 certificates, %d for 120", small, large)
	// Exactly one more call per file.
	if extra := large - small; extra != 80 {
		t.Errorf("%.2f write calls per certificate file, want 1 (%d for 40 certificates, %d for 120)", float64(extra)/80, small, large)
	}
	if fixed := small - 40; fixed < 0 || fixed > 16 {
		t.Errorf("%d write calls besides the certificate files, want at most 16", fixed)
	}
}

// straceNewCAFolder syncs a bundle of certs into a new CA directory under
// strace -f -qq with the given options and returns what strace wrote.
func straceNewCAFolder(t *testing.T, strace string, certs []*testpki.Cert, opts ...string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.pem")
	fill(t, "pem:"+src, certs)
	out := filepath.Join(dir, "strace.txt")
	args := append([]string{"-f", "-qq", "-o", out}, opts...)
	args = append(args, bin, "sync", "pem:"+src, "--to", "capath:"+filepath.Join(dir, "capath"))
	cmd := exec.Command(strace, args...)
	cmd.Env = append(baseEnv(filepath.Join(dir, "home")), "ROOTSYNC_STATE_DIR="+filepath.Join(dir, "state"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("strace rootsync sync: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeStart is the start of a traced write call (strace -f -y: the process
// id, the call, its file descriptor and the file); a call another process
// interrupted goes on in a "resumed" line, which this does not match.
var writeStart = regexp.MustCompile(`(?m)^\d+\s+(?:write|pwrite64|writev)\(\d+<([^>]*)>`)

// writeCalls counts the write calls in strace's output but those to the Go
// runtime's eventfd.
func writeCalls(trace string) int {
	n := 0
	for _, m := range writeStart.FindAllStringSubmatch(trace, -1) {
		if m[1] != "anon_inode:[eventfd]" {
			n++
		}
	}
	return n
}

func TestWriteCallsCount(t *testing.T) {
	trace := `123 write(5<anon_inode:[eventfd]>, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8
123 write(9</tmp/x/capath/rootsync-0011223344556677.pem>, "-----BEGIN"..., 700 <unfinished ...>
124 write(5<anon_inode:[eventfd]>, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8
123 <... write resumed>) = 700
124 write(1<pipe:[4711]>, "capath:..."..., 120) = 120
`
	if n := writeCalls(trace); n != 2 {
		t.Errorf("%d write calls counted, want 2", n)
	}
}

// TestCapathSyscallsPerFile counts, with strace, the file system calls of a
// sync into a new CA directory at two sizes: each certificate costs exactly
// one open, one close and one link (and one write, TestCapathWriteCalls),
// nothing else (no chmod, no stat, no flush of its own), and the whole sync
// makes four flushes whatever its size: the backup, journal and new folder
// together (syncfs), the journal's name, the folder's name, the journal's
// removal.
func TestCapathSyscallsPerFile(t *testing.T) {
	strace := need(t, "strace")
	calls := []string{"open", "openat", "close", "symlink", "symlinkat", "fchmod", "fchmodat", "chmod",
		"fstat", "newfstatat", "statx", "lstat", "stat", "fsync", "fdatasync", "syncfs",
		"rename", "renameat", "renameat2", "unlink", "unlinkat", "mkdir", "mkdirat", "getxattr", "fgetxattr", "lgetxattr"}
	count := func(n int) map[string]int {
		summary := straceNewCAFolder(t, strace, roots("Syscalls", n), "-c", "-e", "trace="+strings.Join(calls, ","))
		got := map[string]int{}
		for _, line := range strings.Split(summary, "\n") {
			f := strings.Fields(line)
			if len(f) < 5 || f[0] == "%" || strings.HasPrefix(f[0], "-") {
				continue
			}
			if n, err := strconv.Atoi(f[3]); err == nil {
				got[f[len(f)-1]] += n
			}
		}
		return got
	}
	small, large := count(40), count(120)
	per := map[string]int{}
	for _, c := range calls {
		if d := large[c] - small[c]; d != 0 {
			per[c] = d
		}
	}
	want := map[string]int{}
	for _, c := range []string{"open", "openat", "close", "symlink", "symlinkat"} {
		if d := large[c] - small[c]; d != 0 {
			want[c] = 80
		}
	}
	if per["openat"]+per["open"] != 80 || per["close"] != 80 || per["symlinkat"]+per["symlink"] != 80 || fmt.Sprint(per) != fmt.Sprint(want) {
		t.Errorf("system calls per 80 more certificates: %v, want one open, one close and one link per file and nothing else", per)
	}
	for name, got := range map[string]map[string]int{"40": small, "120": large} {
		if n := got["fsync"] + got["fdatasync"] + got["syncfs"]; n != 4 || got["syncfs"] != 1 {
			t.Errorf("%s certificates: %d flushes (%d syncfs), want 4 (1 syncfs)", name, n, got["syncfs"])
		}
	}
}
