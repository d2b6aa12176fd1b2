package nss

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// needTool finds a command the test runs; outside CI a missing tool skips the
// test, in CI it fails it.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI must have it): %v", name, err)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// run runs a command with no stdin and returns its combined output, failing
// the test on error.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := runErr(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = nil
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

// newCertutilDB makes an empty-password database with certutil in a fresh
// folder (never on an existing one: certutil -N would spin forever).
func newCertutilDB(t testing.TB) string {
	t.Helper()
	needTool(t, "certutil")
	dir := filepath.Join(t.TempDir(), "nssdb")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	run(t, "certutil", "-N", "--empty-password", "-d", "sql:"+dir)
	return dir
}

// certutilAdd adds c with certutil -A.
func certutilAdd(t testing.TB, dir, nick, trust string, c *testpki.Cert, extra ...string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "c.pem")
	if err := os.WriteFile(f, c.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-A", "-d", "sql:" + dir, "-n", nick, "-t", trust, "-i", f}, extra...)
	run(t, "certutil", args...)
}

var listLine = regexp.MustCompile(`^(.*\S)\s+(\S*,\S*,\S*)\s*$`)

// certutilList parses certutil -L: nickname -> trust string.
func certutilList(t testing.TB, dir string, extra ...string) map[string]string {
	t.Helper()
	out := run(t, "certutil", append([]string{"-L", "-d", "sql:" + dir}, extra...)...)
	return parseList(out)
}

func parseList(out string) map[string]string {
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Certificate Nickname") || strings.Contains(line, "SSL,S/MIME,JAR/XPI") {
			continue
		}
		if m := listLine.FindStringSubmatch(line); m != nil {
			got[m[1]] = m[2]
		}
	}
	return got
}

// loadList is what Load says, in certutil -L's form.
func loadList(t testing.TB, s stores.Store) map[string]string {
	t.Helper()
	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := map[string]string{}
	for _, e := range set.Entries() {
		got[e.Label] = TrustFlags(e)
	}
	return got
}

func openDir(t testing.TB, dir string, opts ...string) stores.Store {
	t.Helper()
	spec := stores.Spec{Kind: "nss", Location: dir}
	if len(opts) > 0 {
		spec.Options = map[string]string{}
		for i := 0; i+1 < len(opts); i += 2 {
			spec.Options[opts[i]] = opts[i+1]
		}
	}
	s, err := Open(spec, stores.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func addChange(c *testpki.Cert, tr stores.Trust) stores.Change {
	return stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: stores.MustParse(c.DER), Trust: tr}, Reason: "test"}
}

func mustApply(t testing.TB, s stores.Store, ch ...stores.Change) {
	t.Helper()
	if err := s.Apply(context.Background(), ch); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func writeFileBytes(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }
