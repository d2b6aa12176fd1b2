package cli

import (
	"encoding/pem"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores/storetest"
)

var updateScripts = flag.Bool("update", false, "rewrite the expected output in testdata/script, and the README's store tables, from what rootsync prints now")

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"rootsync": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the command-line transcripts in testdata/script, one
// behaviour per file.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *updateScripts,
		Setup: func(e *testscript.Env) error {
			e.Setenv("ROOTSYNC_STATE_DIR", filepath.Join(e.WorkDir, "state"))
			e.Setenv("HOME", filepath.Join(e.WorkDir, "home"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"pki":    cmdPKI,
			"status": cmdStatus,
			"snap":   cmdSnap,
		},
	})
}

// cmdPKI writes deterministic certificates for scripts:
//
//	pki root NAME FILE            a self-signed CA
//	pki expired NAME FILE         a CA that expired in 2020
//	pki leaf ROOTNAME CN FILE     a leaf issued by ROOTNAME (FILE.key gets its key)
//	pki badku ROOTNAME CN FILE    a leaf issued by ROOTNAME whose key usage is malformed
//	pki cat FILE...               concatenate into the last FILE
func cmdPKI(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: pki root|expired|leaf|badku|cat ...")
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(ts.MkAbs(name), b, 0o644); err != nil {
			ts.Fatalf("%v", err)
		}
	}
	switch args[0] {
	case "root":
		write(args[2], testpki.Root(args[1]).PEM())
	case "expired":
		old := testpki.Validity(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
		write(args[2], testpki.Root(args[1], old).PEM())
	case "leaf":
		l := testpki.Root(args[1]).Leaf(args[2])
		write(args[3], l.PEM())
		write(args[3]+".key", l.KeyPEM())
	case "badku":
		der := testpki.Root(args[1]).LeafDER(args[2], testpki.MalformedKeyUsage())
		write(args[3], pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	case "cat":
		var all []byte
		for _, f := range args[1 : len(args)-1] {
			b, err := os.ReadFile(ts.MkAbs(f))
			if err != nil {
				ts.Fatalf("%v", err)
			}
			all = append(all, b...)
		}
		write(args[len(args)-1], all)
	default:
		ts.Fatalf("pki: unknown %q", args[0])
	}
}

// cmdStatus runs a program and requires its exact exit status; its output is
// then checked with stdout and stderr as after exec:
//
//	status 3 rootsync diff ...
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE PROGRAM ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("status: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

var (
	snapMu    sync.Mutex
	snapshots = map[string]map[string]string{} // scripts run in parallel
)

// cmdSnap records and compares every byte, mode, link and modification time:
//
//	snap save NAME PATH...   record
//	snap same NAME           fail if anything recorded under NAME changed
//	! snap same NAME         fail if nothing changed
func cmdSnap(ts *testscript.TestScript, neg bool, args []string) {
	if (neg && args[0] != "same") || len(args) < 2 {
		ts.Fatalf("usage: snap save NAME PATH... | snap same NAME")
	}
	key := ts.Getenv("WORK") + "\x00" + args[1]
	switch args[0] {
	case "save":
		var paths []string
		for _, p := range args[2:] {
			paths = append(paths, ts.MkAbs(p))
		}
		s, err := storetest.TakeSnapshot(paths)
		if err != nil {
			ts.Fatalf("%v", err)
		}
		s["\x00paths"] = strings.Join(paths, "\x00")
		snapMu.Lock()
		snapshots[key] = s
		snapMu.Unlock()
	case "same":
		snapMu.Lock()
		before, ok := snapshots[key]
		snapMu.Unlock()
		if !ok {
			ts.Fatalf("no snapshot %q", args[1])
		}
		after, err := storetest.TakeSnapshot(strings.Split(before["\x00paths"], "\x00"))
		if err != nil {
			ts.Fatalf("%v", err)
		}
		after["\x00paths"] = before["\x00paths"]
		d := storetest.Diff(before, after)
		switch {
		case neg && len(d) == 0:
			ts.Fatalf("nothing changed")
		case !neg && len(d) > 0:
			ts.Fatalf("changed:\n%s", strings.Join(d, "\n"))
		}
	default:
		ts.Fatalf("snap: unknown %q", args[0])
	}
}
