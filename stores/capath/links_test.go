package capath

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
)

// TestLinkTargetsAsFilepathReadsThem: scan resolves every HASH.N link as
// filepath makes of its target (joined to the folder, cleaned, then split
// into folder and name), also where it takes the plain sibling name
// without filepath: names in the folder, missing ones, ones that leave the
// folder and come back, and ones outside.
func TestLinkTargetsAsFilepathReadsThem(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "certs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "a.pem"), nil)
	writeFile(t, filepath.Join(dir, "b c.pem"), nil)
	writeFile(t, filepath.Join(base, "out.pem"), nil)
	targets := []string{"a.pem", "b c.pem", "./a.pem", "gone.pem", "../certs/a.pem", "../out.pem", "sub/../a.pem",
		"a.pem/", ".", "..", filepath.Join(dir, "a.pem"), filepath.Join(base, "out.pem"), "..a.pem", "a.pem.", "-",
		"0000000a.1", "zz-last.pem"}
	for i, target := range targets {
		if err := os.Symlink(target, filepath.Join(dir, fmt.Sprintf("0000000b.%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	f, err := open(t, dir).(*Store).scan()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, e := range f.entries {
		if !e.link {
			continue
		}
		n++
		target, err := os.Readlink(filepath.Join(dir, e.name))
		if err != nil {
			t.Fatal(err)
		}
		abs := target
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(dir, target)
		}
		abs = filepath.Clean(abs)
		want, wantTarget := int32(refOutside), filepath.Base(abs)
		if filepath.Dir(abs) == dir {
			if want = f.index(wantTarget); want >= 0 {
				wantTarget = ""
			} else {
				want = refMissing
			}
		}
		if e.ref != want || f.targets[int32(i)] != wantTarget {
			t.Errorf("%s -> %q: ref %d, target %q; want %d, %q", e.name, target, e.ref, f.targets[int32(i)], want, wantTarget)
		}
	}
	if n != len(targets) {
		t.Fatalf("%d links read, want %d", n, len(targets))
	}
}

// TestLoadAllocationsPerCertificate: loading a folder whose certificates
// are in use (a target read after its source) costs a few small
// allocations per certificate (its file's path, the system calls' names,
// its place in the set), not a decoder and a copy of the file's text each.
func TestLoadAllocationsPerCertificate(t *testing.T) {
	var certs []*testpki.Cert
	for i := range 80 {
		certs = append(certs, testpki.Root(fmt.Sprintf("Load Allocations Root %d", i)))
	}
	held := adds(certs...) // the Certificates stay in use through held
	per := func(n int) float64 {
		dir := t.TempDir()
		s := open(t, dir)
		apply(t, s, held[:n])
		return testing.AllocsPerRun(5, func() { load(t, s) })
	}
	small, large := per(40), per(80)
	if d := (large - small) / 40; d > 8 && !raceEnabled {
		t.Errorf("%.1f allocations per certificate loaded (%v for 40, %v for 80), want at most 8", d, small, large)
	}
	runtime.KeepAlive(held)
}
