package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/test/debroot"
)

// TestDebianPackage builds the .deb with packaging/build-deb.sh, checks it
// with lintian (every override carries its reason in the overrides file),
// installs it with dpkg inside a throwaway Debian root, runs
// `rootsync run --dry-run` there, and purges it: afterwards no file of the
// package, and nothing rootsync made, is left.
func TestDebianPackage(t *testing.T) {
	lintian := need(t, "lintian")
	need(t, "dpkg-deb")
	root := debroot.Copy(t)

	out := t.TempDir()
	build := exec.Command(filepath.Join(repoRoot, "packaging", "build-deb.sh"), out)
	build.Dir = repoRoot
	b, err := build.Output()
	if err != nil {
		t.Fatalf("build-deb.sh: %v\n%s", err, exitStderr(err))
	}
	deb := strings.TrimSpace(string(b))
	lint, err := exec.Command(lintian, "--tag-display-limit", "0", deb).CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(lint)), "\n") {
		if line != "" && !strings.Contains(line, "running with root privileges") {
			t.Errorf("lintian: %s", line)
		}
	}
	if err != nil {
		t.Errorf("lintian: %v", err)
	}

	before := tree(t, root)
	if err := copyFile(deb, filepath.Join(root, "tmp", "rootsync.deb")); err != nil {
		t.Fatal(err)
	}
	debroot.Chroot(t, root, "dpkg", "-i", "/tmp/rootsync.deb")
	files := strings.Fields(debroot.Chroot(t, root, "dpkg-query", "-L", "rootsync"))
	for _, want := range []string{"/usr/bin/rootsync", "/usr/share/man/man1/rootsync.1.gz",
		"/usr/share/bash-completion/completions/rootsync", "/usr/share/zsh/vendor-completions/_rootsync",
		"/usr/share/fish/vendor_completions.d/rootsync.fish", "/lib/systemd/system/rootsync.service",
		"/lib/systemd/system/rootsync.timer", "/etc/cron.d/rootsync", "/etc/ca-certificates/update.d/rootsync",
		"/usr/share/doc/rootsync/examples/config.yaml"} {
		if !contains(files, want) {
			t.Errorf("the package lacks %s", want)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/systemd/system/timers.target.wants/rootsync.timer")); err != nil {
		t.Errorf("the timer is not enabled after installation: %v", err)
	}
	if v := debroot.Chroot(t, root, "rootsync", "--version"); !strings.HasPrefix(v, "rootsync 0") {
		t.Errorf("rootsync --version in the installed package = %q, want the package version", v)
	}

	// A configuration of the administrator's, and a dry run: the target
	// lacks every root of the system store, so it reports differences.
	if err := os.MkdirAll(filepath.Join(root, "etc/rootsync"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "srv/app"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "etc/rootsync/config.yaml"),
		"jobs:\n  app:\n    sources: [system]\n    targets: [\"pem:/srv/app/ca.pem\"]\n")
	dry, err := debroot.ChrootErr(root, "rootsync", "run", "--dry-run")
	if code := exitCode(err); code != 3 || !strings.Contains(dry, "pem:/srv/app/ca.pem") {
		t.Errorf("rootsync run --dry-run in the installed package: exit %d, want 3 naming the target\n%s", code, dry)
	}
	if _, err := os.Stat(filepath.Join(root, "srv/app/ca.pem")); err == nil {
		t.Errorf("a dry run wrote its target")
	}
	// A real run leaves state behind that the purge must take away.
	debroot.Chroot(t, root, "rootsync", "run", "--cron")

	debroot.Chroot(t, root, "dpkg", "--purge", "rootsync")
	os.Remove(filepath.Join(root, "tmp", "rootsync.deb"))
	os.RemoveAll(filepath.Join(root, "srv/app"))
	after := tree(t, root)
	for _, p := range diffTrees(before, after) {
		t.Errorf("left after purge: %s", p)
	}
}

// tree lists the paths below root, leaving out dpkg's and apt's own
// bookkeeping, which an installation and a purge change by design.
func tree(t *testing.T, root string) map[string]bool {
	t.Helper()
	skip := []string{"var/lib/dpkg/", "var/log/", "var/cache/", "var/lib/systemd/deb-systemd-helper-"}
	out := map[string]bool{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for _, s := range skip {
			if strings.HasPrefix(rel+"/", s) || strings.HasPrefix(rel, s) {
				return nil
			}
		}
		out[rel] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffTrees(before, after map[string]bool) []string {
	var out []string
	for p := range after {
		if !before[p] {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
