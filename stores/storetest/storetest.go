// Package storetest is the conformance suite every store adapter runs (Run),
// a write-then-read round trip for fuzzing adapters (RoundTrip), and the
// helpers the suite and adapter tests share: file snapshots, a read-only
// folder, a full disk, file metadata as getfacl and getfattr print it, and
// finding the real programs a test needs (Tool). It is imported only by tests.
// Its API takes certificates as *stores.Certificate or DER and names no
// internal type, so adapters in other modules can run it (see
// docs/library.md).
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// Harness tells the suite how to work with one kind of store.
type Harness struct {
	// New returns a store whose location is inside dir, an empty folder the
	// suite owns. The store's file or folder must not exist yet.
	New func(t *testing.T, dir string) stores.Store
	// AddForeign puts c into the store the way another program would (an
	// administrator, a package, certutil, keytool), trusted for every purpose
	// the store can express, without rootsync's ownership mark. c.DER is the
	// certificate; stores.EncodeCertificatePEM gives its PEM form.
	AddForeign func(t *testing.T, s stores.Store, c *stores.Certificate)
	// Corrupt damages the store so that Load must fail (it exists after
	// AddForeign has been called once). Nil skips that test, for stores
	// whose system API offers no way to damage them (crypt32 leaves out an
	// unreadable registry entry).
	Corrupt func(t *testing.T, s stores.Store)
	// NoDir: the store is no file (stores.StateSaver) and New ignores its
	// folder, so the suite makes none and passes "".
	NoDir bool
	// SkipReadOnly leaves out the read-only folder test, for stores whose files
	// do not live in a folder the suite can make read-only.
	SkipReadOnly bool
}

// The suite's certificates: deterministic self-signed roots.
var (
	rootA = root("Conformance Root A")
	rootB = root("Conformance Root B")
	rootC = root("Conformance Root C")
	rootF = root("Conformance Foreign Root")
)

func root(cn string) *stores.Certificate { return stores.MustParse(testpki.Root(cn).DER) }

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	t.Run("MissingStore", func(t *testing.T) { testEmpty(t, h) })
	t.Run("AddRemoveRoundTrip", func(t *testing.T) { testRoundTrip(t, h) })
	t.Run("EmptyPlanChangesNothing", func(t *testing.T) { testEmptyPlan(t, h) })
	t.Run("IdempotentApply", func(t *testing.T) { testIdempotent(t, h) })
	t.Run("ForeignEntriesPreserved", func(t *testing.T) { testForeign(t, h) })
	t.Run("CorruptInputClearErrorNoWrite", func(t *testing.T) { testCorrupt(t, h) })
	if !h.SkipReadOnly {
		t.Run("ReadOnlyFolderNoWrite", func(t *testing.T) { testReadOnly(t, h) })
	}
	t.Run("DistrustOrLossless", func(t *testing.T) { testTrustChange(t, h) })
	t.Run("BackupApplyRestore", func(t *testing.T) { testBackupRestore(t, h) })
}

// desiredTrust is what the suite asks a store to hold for c: mixed per-purpose
// trust when the store can express it, all purposes otherwise.
func desiredTrust(s stores.Store, i int) stores.Trust {
	if !s.Capabilities().PerPurpose {
		return stores.TrustAll()
	}
	switch i % 3 {
	case 0:
		return stores.TrustAll()
	case 1:
		return stores.Trust{}.With(stores.ClientAuth, stores.Trusted)
	}
	return stores.Trust{}.With(stores.ServerAuth, stores.Trusted).With(stores.Email, stores.Trusted)
}

func adds(s stores.Store, certs ...*stores.Certificate) []stores.Change {
	var out []stores.Change
	for i, c := range certs {
		out = append(out, stores.Change{
			Action: stores.Add,
			Entry:  &stores.Entry{Cert: c, Trust: desiredTrust(s, i)},
			Reason: "conformance",
		})
	}
	return out
}

func load(t *testing.T, s stores.Store) *stores.Set {
	t.Helper()
	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load(%s): %v", s.Spec(), err)
	}
	return set
}

func apply(t *testing.T, s stores.Store, ch []stores.Change) {
	t.Helper()
	if err := s.Apply(context.Background(), ch); err != nil {
		t.Fatalf("Apply(%s): %v", s.Spec(), err)
	}
}

// testEmpty: a store that does not exist is stores.ErrNotExist for Load
// (naming the place), never an empty set; LoadTarget reads it as empty.
func testEmpty(t *testing.T, h Harness) {
	s := newStore(t, h)
	_, err := s.Load(context.Background())
	if !errors.Is(err, stores.ErrNotExist) {
		t.Fatalf("Load of a store that does not exist: %v, want stores.ErrNotExist", err)
	}
	checkNamesPlace(t, s, err)
	set, err := stores.LoadTarget(context.Background(), s)
	if err != nil {
		t.Fatalf("LoadTarget of a store that does not exist: %v", err)
	}
	if n := set.Len(); n != 0 {
		t.Fatalf("new store holds %d entries, want 0", n)
	}
	if _, ok := s.(stores.StateSaver); !ok && len(s.Paths()) == 0 {
		t.Fatal("Paths() is empty: nothing could be backed up")
	}
}

func testRoundTrip(t *testing.T, h Harness) {
	s := newStore(t, h)
	ch := adds(s, rootA, rootB, rootC)
	apply(t, s, ch)
	set := load(t, s)
	if set.Len() != 3 {
		t.Fatalf("after adding 3 roots Load gives %d entries", set.Len())
	}
	for _, c := range ch {
		e := set.Get(c.Entry.Cert.Fingerprint)
		if e == nil {
			t.Fatalf("%s missing after Add", c.Entry.Cert.Subject)
		}
		if e.Trust != c.Entry.Trust {
			t.Errorf("%s: trust = %v, want %v", c.Entry.Cert.Subject, e.Trust, c.Entry.Trust)
		}
		if s.Capabilities().Ownership && !e.Owned {
			t.Errorf("%s: added by rootsync but not marked as owned", c.Entry.Cert.Subject)
		}
	}
	b := set.Get(rootB.Fingerprint)
	apply(t, s, []stores.Change{{Action: stores.Remove, Entry: b, Reason: "conformance"}})
	set = load(t, s)
	if set.Len() != 2 || set.Get(b.Cert.Fingerprint) != nil {
		t.Fatalf("after removing one of 3: %d entries, removed one present: %v", set.Len(), set.Get(b.Cert.Fingerprint) != nil)
	}
	for _, c := range []*stores.Certificate{rootA, rootC} {
		if set.Get(c.Fingerprint) == nil {
			t.Errorf("removing Root B also removed %s", c.Subject)
		}
	}
}

func testEmptyPlan(t *testing.T, h Harness) {
	s := newStore(t, h)
	// On a store that does not exist yet: nothing may be created.
	apply(t, s, nil)
	before := Snapshot(t, s.Paths())
	for p, v := range before {
		if v != "missing" {
			t.Fatalf("empty Apply on a new store created %s", p)
		}
	}
	if _, err := s.Load(context.Background()); !errors.Is(err, stores.ErrNotExist) {
		t.Fatalf("after an empty Apply on a new store, Load: %v, want stores.ErrNotExist", err)
	}
	h.AddForeign(t, s, rootF)
	apply(t, s, adds(s, rootA))
	before = snapshot(t, s)
	apply(t, s, nil)
	apply(t, s, []stores.Change{})
	Compare(t, before, snapshot(t, s))
}

func testIdempotent(t *testing.T, h Harness) {
	s := newStore(t, h)
	ch := adds(s, rootA, rootB)
	apply(t, s, ch)
	before := snapshot(t, s)
	// What a planner would compute now: nothing, since every entry is present
	// with the wanted trust. Recompute it from Load to prove it.
	set := load(t, s)
	var again []stores.Change
	for _, c := range ch {
		if e := set.Get(c.Entry.Cert.Fingerprint); e == nil || e.Trust != c.Entry.Trust {
			again = append(again, c)
		}
	}
	if len(again) != 0 {
		t.Fatalf("after Apply, %d of %d changes still needed", len(again), len(ch))
	}
	apply(t, s, again)
	Compare(t, before, snapshot(t, s))
}

func testForeign(t *testing.T, h Harness) {
	s := newStore(t, h)
	h.AddForeign(t, s, rootF)
	set := load(t, s)
	f := set.Get(rootF.Fingerprint)
	if f == nil {
		t.Fatal("AddForeign's certificate is not in Load's result")
	}
	if f.Owned {
		t.Fatal("a foreign entry is reported as owned by rootsync")
	}
	apply(t, s, adds(s, rootA, rootB))
	a := load(t, s).Get(rootA.Fingerprint)
	apply(t, s, []stores.Change{{Action: stores.Remove, Entry: a, Reason: "conformance"}})
	set = load(t, s)
	g := set.Get(rootF.Fingerprint)
	if g == nil {
		t.Fatal("foreign entry lost after adds and a removal")
	}
	if g.Owned || g.Trust != f.Trust || g.Label != f.Label {
		t.Errorf("foreign entry changed: owned=%v trust=%v label=%q, was trust=%v label=%q", g.Owned, g.Trust, g.Label, f.Trust, f.Label)
	}
}

func testCorrupt(t *testing.T, h Harness) {
	if h.Corrupt == nil {
		t.Skip("the harness has no way to damage this kind of store")
	}
	s := newStore(t, h)
	h.AddForeign(t, s, rootF)
	h.Corrupt(t, s)
	before := snapshot(t, s)
	_, err := s.Load(context.Background())
	if err == nil {
		t.Fatal("Load of a corrupt store succeeded")
	}
	checkNamesPlace(t, s, err)
	if err := s.Apply(context.Background(), adds(s, rootA)); err == nil {
		t.Fatal("Apply to a corrupt store succeeded")
	}
	Compare(t, before, snapshot(t, s))
}

func testReadOnly(t *testing.T, h Harness) {
	dir := t.TempDir()
	s := h.New(t, dir)
	h.AddForeign(t, s, rootF)
	before := snapshot(t, s)
	ReadOnly(t, dir)
	err := s.Apply(context.Background(), adds(s, rootA))
	if err == nil {
		t.Fatal("Apply into a read-only folder succeeded")
	}
	checkNamesPlace(t, s, err)
	Compare(t, before, snapshot(t, s))
	if set := load(t, s); set.Get(rootA.Fingerprint) != nil {
		t.Fatal("entry present after a failed Apply")
	}
}

func testTrustChange(t *testing.T, h Harness) {
	s := newStore(t, h)
	apply(t, s, adds(s, rootA))
	e := load(t, s).Get(rootA.Fingerprint)
	if !s.Capabilities().Distrust {
		return
	}
	want := *e
	want.Trust = stores.DistrustAll()
	apply(t, s, []stores.Change{{Action: stores.SetTrust, Entry: &want, From: e.Trust, Reason: "conformance"}})
	got := load(t, s).Get(rootA.Fingerprint)
	if got == nil || got.Trust != stores.DistrustAll() {
		t.Fatalf("after SetTrust to distrusted: %+v", got)
	}
}

// checkNamesPlace requires an error to name one of the store's paths.
func checkNamesPlace(t *testing.T, s stores.Store, err error) {
	t.Helper()
	msg := err.Error()
	for _, p := range s.Paths() {
		if strings.Contains(msg, p) {
			return
		}
	}
	var se *stores.Error
	if errors.As(err, &se) && se.Path != "" {
		return
	}
	t.Errorf("error does not name the store's file: %q (paths %v)", msg, s.Paths())
}

// inCI reports whether the tests run under CI, where nothing may be skipped.
func inCI() bool { return os.Getenv("CI") == "true" }

// testBackupRestore: what a rollback or `rootsync restore` does — back the
// store's Paths up, apply a change, put the files back and let the store
// restore its state (stores.RestoreState) — leaves a store that Load reads
// exactly as before the change.
func testBackupRestore(t *testing.T, h Harness) {
	s := newStore(t, h)
	h.AddForeign(t, s, rootF)
	apply(t, s, adds(s, rootA))
	before := load(t, s)
	if before.Len() != 2 {
		t.Fatalf("store holds %d entries before the backup, want 2", before.Len())
	}
	restore := backupOf(t, s)
	a := before.Get(rootA.Fingerprint)
	ch := append(adds(s, rootB, rootC), stores.Change{Action: stores.Remove, Entry: a, Reason: "conformance"})
	apply(t, s, ch)
	if mid := load(t, s); mid.Len() != 3 || mid.Get(a.Cert.Fingerprint) != nil {
		t.Fatalf("after the change Load gives %d entries (root A there: %v), want 3 without root A", mid.Len(), mid.Get(a.Cert.Fingerprint) != nil)
	}
	if err := restore(); err != nil {
		t.Fatalf("restoring %s from its backup: %v", s.Spec(), err)
	}
	if err := stores.RestoreState(context.Background(), s); err != nil {
		t.Fatalf("RestoreState(%s): %v", s.Spec(), err)
	}
	after := load(t, s)
	for _, d := range diffSets(before, after) {
		t.Error(d)
	}
}

// diffSets lists how two sets differ in certificates, trust and ownership.
func diffSets(before, after *stores.Set) []string {
	var out []string
	for _, e := range before.Entries() {
		g := after.Get(e.Cert.Fingerprint)
		switch {
		case g == nil:
			out = append(out, fmt.Sprintf("%s: in the store before the change, missing after the restore", e.Cert.Subject))
		case g.Trust != e.Trust:
			out = append(out, fmt.Sprintf("%s: trust %v after the restore, want %v", e.Cert.Subject, g.Trust, e.Trust))
		case g.Owned != e.Owned:
			out = append(out, fmt.Sprintf("%s: owned %v after the restore, want %v", e.Cert.Subject, g.Owned, e.Owned))
		}
	}
	for _, e := range after.Entries() {
		if before.Get(e.Cert.Fingerprint) == nil {
			out = append(out, fmt.Sprintf("%s: added by the change and still there after the restore", e.Cert.Subject))
		}
	}
	return out
}

// snapshot is Snapshot of the store's Paths, or for a stores.StateSaver
// (whose Paths is empty) the SHA-256 of its saved state.
func snapshot(t *testing.T, s stores.Store) map[string]string {
	t.Helper()
	ss, ok := s.(stores.StateSaver)
	if !ok {
		return Snapshot(t, s.Paths())
	}
	state, err := ss.SaveState(context.Background())
	if err != nil {
		t.Fatalf("SaveState(%s): %v", s.Spec(), err)
	}
	h := sha256.Sum256(state)
	return map[string]string{s.Spec().String(): hex.EncodeToString(h[:])}
}

// backupOf backs the store up as a transaction does (its Paths, or its
// saved state for a stores.StateSaver) and returns the function that puts
// the backup back.
func backupOf(t *testing.T, s stores.Store) func() error {
	t.Helper()
	if ss, ok := s.(stores.StateSaver); ok {
		state, err := ss.SaveState(context.Background())
		if err != nil {
			t.Fatalf("SaveState(%s): %v", s.Spec(), err)
		}
		return func() error { return ss.RestoreSavedState(context.Background(), state) }
	}
	b, err := backup.Take(t.TempDir(), s.Spec().String(), s.Paths(), time.Now())
	if err != nil {
		t.Fatalf("backup of %s: %v", s.Spec(), err)
	}
	return b.Restore
}

// newStore is h.New with a new folder (none for a Harness with NoDir).
func newStore(t *testing.T, h Harness) stores.Store {
	t.Helper()
	if h.NoDir {
		return h.New(t, "")
	}
	return h.New(t, t.TempDir())
}
