// Package debroot gives tests throwaway Debian root filesystems: hosts for the
// package and fleet tests that must not touch the machine running them.
//
// One base tree per machine is made with debootstrap (Debian 12, minbase,
// with python3 and ca-certificates) and kept in the cache folder, so a test
// run builds it at most once, and later runs on the same machine not at all;
// each test then gets a copy of its own. Building needs root and Debian's
// package mirror. The package never changes the base once it is built.
package debroot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/stores/storetest"
)

// Recipe is what the base holds; the cache is rebuilt when it changes.
var Recipe = struct {
	Suite, Mirror string
	Include       []string
}{
	Suite:   "bookworm",
	Mirror:  "http://deb.debian.org/debian",
	Include: []string{"python3", "ca-certificates"},
}

// CacheDir is where the base tree is kept: $ROOTSYNC_TEST_CACHE, else
// /var/cache/rootsync-test.
func CacheDir() string {
	if d := os.Getenv("ROOTSYNC_TEST_CACHE"); d != "" {
		return d
	}
	return "/var/cache/rootsync-test"
}

func stamp() string {
	return fmt.Sprintf("%s %s minbase %s\n", Recipe.Suite, Recipe.Mirror, strings.Join(Recipe.Include, ","))
}

// Base returns the path of the base tree, building it first if the cache
// lacks it. Several test processes may call it at once: one builds, the
// others wait. Outside CI a machine without debootstrap, or a user who is
// not root, skips the test; in CI both fail it.
func Base(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("debroot: building a Debian root needs root")
		}
		t.Skip("debroot: building a Debian root needs root")
	}
	debootstrap := storetest.Tool(t, "debootstrap")
	cache := CacheDir()
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	lf, err := os.OpenFile(filepath.Join(cache, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := waitLock(lf); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(cache, Recipe.Suite+"-base")
	if b, err := os.ReadFile(filepath.Join(base, ".debroot-stamp")); err == nil && string(b) == stamp() {
		return base
	}
	t.Logf("debroot: building %s with debootstrap (once per machine)", base)
	tmp := base + ".new"
	os.RemoveAll(tmp)
	cmd := exec.Command(debootstrap, "--variant=minbase", "--include="+strings.Join(Recipe.Include, ","),
		Recipe.Suite, tmp, Recipe.Mirror)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		tail := out
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		t.Fatalf("debootstrap %s: %v\n%s", Recipe.Suite, err, tail)
	}
	// Keep the base small and the copies quick.
	os.RemoveAll(filepath.Join(tmp, "var/cache/apt/archives"))
	if err := os.WriteFile(filepath.Join(tmp, ".debroot-stamp"), []byte(stamp()), 0o644); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(base)
	if err := os.Rename(tmp, base); err != nil {
		t.Fatal(err)
	}
	return base
}

// Copy returns a fresh copy of the base in a folder of the test's own,
// removed when the test ends.
func Copy(t testing.TB) string {
	t.Helper()
	base := Base(t)
	dir := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command("cp", "-a", base, dir).CombinedOutput(); err != nil {
		t.Fatalf("copying %s: %v\n%s", base, err, out)
	}
	return dir
}

// Chroot runs argv inside root (as root) and returns its combined output;
// a failure fails the test.
func Chroot(t testing.TB, root string, argv ...string) string {
	t.Helper()
	out, err := ChrootErr(root, argv...)
	if err != nil {
		t.Fatalf("chroot %s %s: %v\n%s", root, strings.Join(argv, " "), err, out)
	}
	return out
}

// ChrootErr is Chroot returning the error instead of failing.
func ChrootErr(root string, argv ...string) (string, error) {
	cmd := exec.Command("chroot", append([]string{root}, argv...)...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", "HOME=/root"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
