package cli

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/rootsync/rootsync/internal/testpki"
)

var updateScripts = flag.Bool("update", false, "rewrite the expected output in testdata/script from what rootsync prints now")

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
			"pki": cmdPKI,
		},
	})
}

// cmdPKI writes deterministic certificates for scripts:
//
//	pki root NAME FILE            a self-signed CA
//	pki expired NAME FILE         a CA that expired in 2020
//	pki leaf ROOTNAME CN FILE     a leaf issued by ROOTNAME (FILE.key gets its key)
//	pki cat FILE...               concatenate into the last FILE
func cmdPKI(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: pki root|expired|leaf|cat ...")
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
