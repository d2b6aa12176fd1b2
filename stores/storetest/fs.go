package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Snapshot records every byte, mode, link target and modification time of the
// given files and of the direct contents of the given folders.
func Snapshot(t testing.TB, paths []string) map[string]string {
	t.Helper()
	out, err := TakeSnapshot(paths)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TakeSnapshot is Snapshot for callers without a testing.TB (script commands).
func TakeSnapshot(paths []string) (map[string]string, error) {
	out := map[string]string{}
	var firstErr error
	fail := func(format string, args ...any) {
		if firstErr == nil {
			firstErr = fmt.Errorf(format, args...)
		}
	}
	var add func(p string, descend bool)
	add = func(p string, descend bool) {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			out[p] = "missing"
			return
		}
		if err != nil {
			fail("snapshot %s: %v", p, err)
			return
		}
		desc := fmt.Sprintf("%v %d", fi.Mode(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			desc += " -> " + l
		case fi.IsDir():
			if descend {
				ents, err := os.ReadDir(p)
				if err != nil {
					fail("snapshot %s: %v", p, err)
					return
				}
				for _, e := range ents {
					add(filepath.Join(p, e.Name()), false)
				}
			}
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				fail("snapshot %s: %v", p, err)
				return
			}
			h := sha256.Sum256(b)
			desc += " " + hex.EncodeToString(h[:])
		}
		// A named pipe, device or socket is described by its mode alone:
		// opening it could block or read forever.
		out[p] = desc
	}
	for _, p := range paths {
		add(p, true)
	}
	return out, firstErr
}

// Compare fails the test if two snapshots differ, listing every difference.
func Compare(t testing.TB, before, after map[string]string) {
	t.Helper()
	for _, d := range Diff(before, after) {
		t.Error(d)
	}
}

// Diff lists the differences between two snapshots.
func Diff(before, after map[string]string) []string {
	var out []string
	var keys []string
	for k := range before {
		keys = append(keys, k)
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if before[k] != after[k] {
			out = append(out, fmt.Sprintf("%s changed:\n  before: %s\n  after:  %s", k, orNone(before[k]), orNone(after[k])))
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(absent)"
	}
	return s
}

func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	if inCI() {
		t.Fatalf("%s: %v (CI runs as root and must be able to)", what, err)
	}
	t.Skipf("%s: %v (needs root)", what, err)
}

// Tool returns the path of a program the test needs, looked up in PATH and
// then in /usr/sbin and /sbin (where nginx lives, outside a user's PATH). A
// missing program skips the test, except in CI (CI=true), where
// scripts/test.sh installs every tool and a missing one fails the test.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if fi, serr := os.Stat(filepath.Join(dir, name)); serr == nil && fi.Mode()&0o111 != 0 {
			return filepath.Join(dir, name)
		}
	}
	unavailable(t, name+" is not installed (scripts/test.sh installs it)", err)
	return ""
}

// RunTool runs a program the test needs (found with Tool) and fails the test
// when it fails.
func RunTool(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(Tool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
