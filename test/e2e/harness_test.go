package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/storekinds"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// bin is the rootsync binary built for this test run.
var bin string

// repoRoot is the module root.
var repoRoot string

func TestMain(m *testing.M) {
	if db := os.Getenv("E2E_HOLD_SQLITE_LOCK"); db != "" {
		os.Exit(holdLock(db))
	}
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Join(filepath.Dir(file), "..", "..")
	dir, err := os.MkdirTemp("", "rootsync-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "rootsync")
	// -buildvcs=auto: stamp the revision (for --version) also when GOFLAGS
	// turns stamping off.
	build := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, "./cmd/rootsync")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building rootsync: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// need returns the path of a tool the test uses; a missing tool fails the
// test in CI and skips it elsewhere.
func need(t testing.TB, tool string) string { t.Helper(); return storetest.Tool(t, tool) }

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// baseEnv is the environment rootsync runs with: a private HOME, no state
// folder from the caller's environment.
func baseEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ROOTSYNC_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home)
}

// rootsync runs the binary and waits (at most two minutes).
func rootsync(t testing.TB, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	if env == nil {
		env = baseEnv(t.TempDir())
	}
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("rootsync %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func open(t testing.TB, spec string) stores.Store {
	t.Helper()
	sp, err := storekinds.Registry().ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	sts, err := storekinds.Registry().Open(sp, stores.OpenOptions{})
	if err != nil || len(sts) != 1 {
		t.Fatalf("open %s: %d stores, %v", spec, len(sts), err)
	}
	return sts[0]
}

// fill adds certs, trusted for every purpose, to the store spec names.
func fill(t testing.TB, spec string, certs []*testpki.Cert) {
	t.Helper()
	st := open(t, spec)
	var ch []stores.Change
	for _, c := range certs {
		ch = append(ch, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: stores.MustParse(c.DER), Trust: stores.TrustAll()}, Reason: "test"})
	}
	if err := st.Apply(context.Background(), ch); err != nil {
		t.Fatalf("fill %s: %v", spec, err)
	}
}

// fingerprints loads the store spec names (one that does not exist yet holds
// nothing) and returns its certificates' fingerprints, sorted.
func fingerprints(t testing.TB, spec string) []string {
	t.Helper()
	set, err := stores.LoadTarget(context.Background(), open(t, spec))
	if err != nil {
		t.Fatalf("load %s: %v", spec, err)
	}
	var out []string
	for _, e := range set.Entries() {
		out = append(out, e.Cert.Fingerprint.String())
	}
	sort.Strings(out)
	return out
}

func fps(certs ...*testpki.Cert) []string {
	var out []string
	for _, c := range certs {
		out = append(out, stores.FingerprintOf(c.DER).String())
	}
	sort.Strings(out)
	return out
}

func union(a, b []string) []string {
	m := map[string]bool{}
	for _, x := range append(append([]string{}, a...), b...) {
		m[x] = true
	}
	var out []string
	for x := range m {
		out = append(out, x)
	}
	sort.Strings(out)
	return out
}

func equal(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

// roots makes n distinct deterministic roots named PREFIX N.
func roots(prefix string, n int) []*testpki.Cert {
	var out []*testpki.Cert
	for i := 0; i < n; i++ {
		out = append(out, testpki.Root(fmt.Sprintf("%s %03d", prefix, i)))
	}
	return out
}

// certutilInit creates an empty NSS database with certutil, as a browser or
// an administrator would.
func certutilInit(t testing.TB, dir string) {
	t.Helper()
	certutil := need(t, "certutil")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cert9.db")); err == nil {
		return // certutil -N on an existing database loops forever
	}
	out, err := exec.Command(certutil, "-N", "--empty-password", "-d", "sql:"+dir).CombinedOutput()
	if err != nil {
		t.Fatalf("certutil -N: %v\n%s", err, out)
	}
}

// certutilList runs certutil -L on an NSS database.
func certutilList(t testing.TB, dir string) (string, error) {
	t.Helper()
	out, err := exec.Command(need(t, "certutil"), "-L", "-d", "sql:"+dir).CombinedOutput()
	return string(out), err
}
