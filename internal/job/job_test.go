package job

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/internal/plan"
	"github.com/rootsync/rootsync/internal/report"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// fileStore is a test double: one hex DER per line in a file, all trusted.
type fileStore struct {
	path string
	fail bool
}

func (f *fileStore) Spec() stores.Spec { return stores.Spec{Kind: "test", Location: f.path} }
func (f *fileStore) Capabilities() stores.Capabilities {
	return stores.Capabilities{Ownership: true}
}
func (f *fileStore) Paths() []string { return []string{f.path} }

func (f *fileStore) Load(context.Context) (*stores.Set, error) {
	s := stores.NewSet()
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	for _, line := range strings.Fields(string(b)) {
		der, _ := hex.DecodeString(line)
		s.Add(&stores.Entry{Cert: stores.MustParse(der), Trust: stores.TrustAll(), Owned: true})
	}
	return s, err
}

func (f *fileStore) Apply(ctx context.Context, ch []stores.Change) error {
	if len(ch) == 0 {
		return nil
	}
	if f.fail {
		return errors.New("injected failure")
	}
	set, _ := f.Load(ctx)
	for _, c := range ch {
		switch c.Action {
		case stores.Add:
			set.Add(c.Entry)
		case stores.Remove:
			next := stores.NewSet()
			for _, e := range set.Entries() {
				if e.Cert.Fingerprint != c.Entry.Cert.Fingerprint {
					next.Add(e)
				}
			}
			set = next
		}
	}
	var lines []string
	for _, e := range set.Entries() {
		lines = append(lines, hex.EncodeToString(e.Cert.DER))
	}
	return atomicfile.Write(f.path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

func fixture(t *testing.T) (dir string, src *fileStore) {
	dir = t.TempDir()
	src = &fileStore{path: filepath.Join(dir, "source")}
	if err := src.Apply(context.Background(), []stores.Change{
		{Action: stores.Add, Entry: &stores.Entry{Cert: stores.MustParse(testpki.Root("Job Root A").DER), Trust: stores.TrustAll()}},
		{Action: stores.Add, Entry: &stores.Entry{Cert: stores.MustParse(testpki.Root("Job Root B").DER), Trust: stores.TrustAll()}},
	}); err != nil {
		t.Fatal(err)
	}
	return dir, src
}

func newJob(dir string, src stores.Store, targets ...Target) *Job {
	return &Job{Name: "test", Sources: []stores.Store{src}, Targets: targets,
		Options: plan.Options{Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}}
}

// newTx is a transaction with its state folder in dir.
func newTx(dir string) *Tx {
	return &Tx{StateDir: filepath.Join(dir, "state"), LockWait: time.Second}
}

// runJob carries j out in a transaction with its state folder in dir.
func runJob(dir string, j *Job) (*report.Run, error) {
	return runTx(newTx(dir), j)
}

func runTx(tx *Tx, j *Job) (*report.Run, error) {
	out, err := tx.Do(context.Background(), j)
	if err != nil {
		return nil, err
	}
	return out.Results[0].Run, out.Results[0].Err
}

func TestFailureRollsBackEveryChangedTarget(t *testing.T) {
	dir, src := fixture(t)
	a := &fileStore{path: filepath.Join(dir, "a")}
	os.WriteFile(a.path, []byte(hex.EncodeToString(testpki.Root("Job Existing").DER)+"\n"), 0o600)
	b := &fileStore{path: filepath.Join(dir, "b"), fail: true}
	paths := []string{a.path, b.path}
	before := storetest.Snapshot(t, paths)

	r, err := runJob(dir, newJob(dir, src, Target{Store: a}, Target{Store: b}))
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("Run: %v, want ErrFailed", err)
	}
	storetest.Compare(t, before, storetest.Snapshot(t, paths))
	if !r.Targets[0].RolledBack || r.Targets[0].Applied || r.Targets[1].Err == nil {
		t.Errorf("report: a rolled back=%v applied=%v, b err=%v", r.Targets[0].RolledBack, r.Targets[0].Applied, r.Targets[1].Err)
	}
}

func TestFailingHookRollsBack(t *testing.T) {
	dir, src := fixture(t)
	a := &fileStore{path: filepath.Join(dir, "a")}
	marker := filepath.Join(dir, "hook-ran")
	hooks := []Hook{{Argv: []string{"touch", marker}}, {Argv: []string{"sh", "-c", "echo config test failed >&2; exit 1"}}}
	_, err := runJob(dir, newJob(dir, src, Target{Store: a, Hooks: hooks}))
	var he *HookError
	if !errors.As(err, &he) || !strings.Contains(he.Error(), "config test failed") {
		t.Fatalf("Run: %v, want a HookError with the hook's output", err)
	}
	if _, err := os.Stat(a.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("target created by the failed run still exists: %v", err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("first hook did not run: %v", err)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	dir, src := fixture(t)
	a := &fileStore{path: filepath.Join(dir, "a")}
	tx := newTx(dir)
	tx.DryRun = true
	r, err := runTx(tx, newJob(dir, src, Target{Store: a}))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Changed() || r.Targets[0].Plan.Count(stores.Add) != 2 {
		t.Fatalf("dry run plan: %+v", r.Targets[0].Plan)
	}
	for _, p := range []string{a.path, tx.StateDir} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dry run created %s", p)
		}
	}
}

func TestSuccessThenNoOp(t *testing.T) {
	dir, src := fixture(t)
	a := &fileStore{path: filepath.Join(dir, "a")}
	r, err := runJob(dir, newJob(dir, src, Target{Store: a}))
	if err != nil || !r.Targets[0].Applied || r.Targets[0].Backup == "" {
		t.Fatalf("first run: err=%v applied=%v backup=%q", err, r.Targets[0].Applied, r.Targets[0].Backup)
	}
	before := storetest.Snapshot(t, []string{a.path, filepath.Join(dir, "state", "backups")})
	r, err = runJob(dir, newJob(dir, src, Target{Store: a}))
	if err != nil || r.Changed() {
		t.Fatalf("second run: err=%v changed=%v", err, r.Changed())
	}
	storetest.Compare(t, before, storetest.Snapshot(t, []string{a.path, filepath.Join(dir, "state", "backups")}))
}

// Changing is called once before a unit changes stores: not in a dry run,
// not when nothing changes, and before the first write.
func TestChangingBeforeTheWrites(t *testing.T) {
	dir, src := fixture(t)
	a := &fileStore{path: filepath.Join(dir, "a")}
	tx := newTx(dir)
	calls, existed := 0, false
	tx.Changing = func() {
		calls++
		_, err := os.Stat(a.path)
		existed = err == nil
	}
	tx.DryRun = true
	if _, err := runTx(tx, newJob(dir, src, Target{Store: a})); err != nil || calls != 0 {
		t.Fatalf("dry run: err=%v, Changing called %d times", err, calls)
	}
	tx.DryRun = false
	if _, err := runTx(tx, newJob(dir, src, Target{Store: a})); err != nil || calls != 1 || existed {
		t.Fatalf("first run: err=%v, Changing called %d times, target already written: %v", err, calls, existed)
	}
	if _, err := runTx(tx, newJob(dir, src, Target{Store: a})); err != nil || calls != 1 {
		t.Fatalf("run with nothing to change: err=%v, Changing called %d times in all", err, calls)
	}
}
