package toystore_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"example.com/rootsync-apimodule"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// harness is the conformance harness for the toy store with the given fault.
func harness(fault toystore.Fault) storetest.Harness {
	return storetest.Harness{
		New: func(t *testing.T, dir string) stores.Store {
			return toystore.Open(filepath.Join(dir, "trust.json"), fault)
		},
		AddForeign: func(t *testing.T, s stores.Store, c *stores.Certificate) {
			if err := toystore.AddForeign(s.Paths()[0], c); err != nil {
				t.Fatal(err)
			}
		},
		Corrupt: func(t *testing.T, s stores.Store) {
			if err := os.WriteFile(s.Paths()[0], []byte("{\"entries\": [{\"der\": \"!!\""), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// TestConformance: the correct toy store passes the whole suite.
func TestConformance(t *testing.T) { storetest.Run(t, harness("")) }

// faultEnv selects the broken variant TestBrokenVariant runs.
const faultEnv = "TOYSTORE_FAULT"

// TestBrokenVariant runs the suite against the broken variant named in
// faultEnv; it is expected to fail, and runs only as TestBrokenStores's child.
func TestBrokenVariant(t *testing.T) {
	fault := os.Getenv(faultEnv)
	if fault == "" {
		t.Skip("run by TestBrokenStores")
	}
	storetest.Run(t, harness(toystore.Fault(fault)))
}

// TestBrokenStores: the suite fails each broken variant, in the case that
// checks the broken behaviour, saying what is wrong, while the cases that
// do not touch the defect still pass.
func TestBrokenStores(t *testing.T) {
	for _, tc := range []struct {
		fault   toystore.Fault
		failing []string // cases that must fail
		message string   // what the suite must say
		passing []string // cases that must pass
	}{
		{toystore.DropsEntry, []string{"AddRemoveRoundTrip", "ForeignEntriesPreserved"},
			"after adding 3 roots Load gives 2 entries", []string{"MissingStore", "EmptyPlanChangesNothing"}},
		{toystore.RewritesOnEmptyPlan, []string{"EmptyPlanChangesNothing"},
			"empty Apply on a new store created", []string{"AddRemoveRoundTrip", "ForeignEntriesPreserved"}},
		{toystore.IgnoresOwnership, []string{"ForeignEntriesPreserved"},
			"a foreign entry is reported as owned by rootsync", []string{"AddRemoveRoundTrip", "EmptyPlanChangesNothing"}},
	} {
		t.Run(string(tc.fault), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenVariant$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), faultEnv+"="+string(tc.fault))
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the conformance suite passed a store that is broken (%s):\n%s", tc.fault, out)
			}
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("running the suite: %v", err)
			}
			for _, c := range tc.failing {
				if !strings.Contains(string(out), "--- FAIL: TestBrokenVariant/"+c+" ") {
					t.Errorf("case %s did not fail for %s:\n%s", c, tc.fault, out)
				}
			}
			for _, c := range tc.passing {
				if !strings.Contains(string(out), "--- PASS: TestBrokenVariant/"+c+" ") {
					t.Errorf("case %s did not pass for %s:\n%s", c, tc.fault, out)
				}
			}
			if !strings.Contains(string(out), tc.message) {
				t.Errorf("the suite's output does not say %q:\n%s", tc.message, out)
			}
		})
	}
}
