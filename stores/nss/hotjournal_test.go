package nss

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// TestLoadAfterKilledWriter: a writer killed mid-transaction leaves a hot
// journal beside cert9.db. Load must roll it back (as NSS does on open) and
// read the state before that transaction, not fail.
func TestLoadAfterKilledWriter(t *testing.T) {
	if dir := os.Getenv("NSS_HOT_JOURNAL_WRITER"); dir != "" {
		// The child: start a write transaction, change a row, report, wait to be killed.
		c, err := openConn(context.Background(), filepath.Join(dir, "cert9.db"), true)
		if err != nil {
			os.Exit(2)
		}
		ctx := context.Background()
		// A one-page cache makes SQLite spill changed pages into cert9.db
		// before the commit: the journal is then hot, as after a crash in the
		// middle of a large write.
		if err := c.exec(ctx, "PRAGMA cache_size=1"); err != nil {
			os.Exit(3)
		}
		if err := c.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
			os.Exit(3)
		}
		if err := c.exec(ctx, "UPDATE nssPublic SET a3 = ?", []byte("half-written")); err != nil {
			os.Exit(4)
		}
		os.Stdout.WriteString("in transaction\n")
		select {}
	}

	dir := t.TempDir()
	s := openDir(t, dir)
	root := testpki.Root("Hot Journal Root")
	changes := []stores.Change{{Action: stores.Add, Entry: &stores.Entry{Cert: stores.MustParse(root.DER), Trust: stores.TrustAll()}}}
	for i := 0; i < 40; i++ { // enough rows to span many pages
		c := testpki.Root(fmt.Sprintf("Hot Journal Filler %d", i))
		changes = append(changes, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: stores.MustParse(c.DER), Trust: stores.TrustAll()}})
	}
	if err := s.Apply(context.Background(), changes); err != nil {
		t.Fatal(err)
	}
	before, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadAfterKilledWriter$")
	cmd.Env = append(os.Environ(), "NSS_HOT_JOURNAL_WRITER="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "in transaction\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("writer did not start its transaction: %q, %v", line, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if fi, err := os.Stat(filepath.Join(dir, "cert9.db-journal")); err != nil || fi.Size() == 0 {
		t.Fatalf("no hot journal after the kill (%v); the test proves nothing", err)
	}

	after, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load after a killed writer: %v", err)
	}
	e := after.Get(stores.FingerprintOf(root.DER))
	if e == nil || after.Len() != before.Len() || e.Label != before.Get(e.Cert.Fingerprint).Label {
		t.Fatalf("after rollback: %d entries, entry %+v; want the state before the killed transaction", after.Len(), e)
	}
	if fi, err := os.Stat(filepath.Join(dir, "cert9.db-journal")); err == nil && fi.Size() > 0 {
		t.Error("the hot journal is still there after Load")
	}
}
