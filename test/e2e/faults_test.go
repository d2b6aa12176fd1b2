package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/rootsync/rootsync/stores/storetest"
)

// faultJob is a job writing three targets of different kinds (pem, capath,
// nss) from a source of many roots, so that writing takes a while.
type faultJob struct {
	*setup
	targets       []string
	nssDir        string
	before, after map[string][]string
}

var (
	faultSource = roots("Fault Source Root", 140)
	faultOld    = roots("Fault Old Root", 5)
)

func newFaultJob(t *testing.T, source string, hooks string) *faultJob {
	s := newSetup(t)
	f := &faultJob{setup: s, nssDir: s.path("nssdb")}
	if source == "" {
		source = "pem:" + s.path("source.pem")
		fill(t, source, faultSource)
	}
	certutilInit(t, f.nssDir)
	f.targets = []string{"pem:" + s.path("bundle.pem"), "capath:" + s.path("capath"), "nss:" + f.nssDir}
	f.before, f.after = map[string][]string{}, map[string][]string{}
	for _, tg := range f.targets {
		fill(t, tg, faultOld)
		f.before[tg] = fingerprints(t, tg)
		f.after[tg] = union(f.before[tg], fps(faultSource...))
	}
	var tl []string
	for _, tg := range f.targets {
		tl = append(tl, fmt.Sprintf("      - store: %s\n        hooks: %s", tg, hooks))
	}
	s.config(fmt.Sprintf("jobs:\n  many:\n    sources: [%s]\n    targets:\n%s\n", source, strings.Join(tl, "\n")))
	return f
}

// states says for each target whether it is wholly "old", wholly "new", or
// "mixed".
func (f *faultJob) states(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, tg := range f.targets {
		got := fingerprints(t, tg)
		switch {
		case equal(got, f.before[tg]):
			out = append(out, "old")
		case equal(got, f.after[tg]):
			out = append(out, "new")
		default:
			t.Logf("%s is neither wholly old nor wholly new: %d certificates (old %d, new %d)", tg, len(got), len(f.before[tg]), len(f.after[tg]))
			out = append(out, "mixed")
		}
	}
	return out
}

// checkNSS runs SQLite's integrity check on both files of the NSS database
// and lists it with certutil.
func (f *faultJob) checkNSS(t *testing.T) {
	t.Helper()
	for _, name := range []string{"cert9.db", "key4.db"} {
		db, err := sql.Open("sqlite", filepath.Join(f.nssDir, name))
		if err != nil {
			t.Fatal(err)
		}
		var res string
		err = db.QueryRow("PRAGMA integrity_check").Scan(&res)
		db.Close()
		if err != nil || res != "ok" {
			t.Errorf("%s: integrity_check = %q, %v", name, res, err)
		}
	}
	if out, err := certutilList(t, f.nssDir); err != nil {
		t.Errorf("certutil -L: %v\n%s", err, out)
	}
}

func uniform(states []string) bool {
	for _, s := range states {
		if s != states[0] {
			return false
		}
	}
	return true
}

// TestReadOnlyTarget: the last target's folder is read-only; the run fails
// naming it and the targets already changed are rolled back.
func TestReadOnlyTarget(t *testing.T) {
	f := newFaultJob(t, "", "[]")
	storetest.ReadOnly(t, f.path("capath"))
	r := f.run("--cron")
	if r.code != 1 || !strings.Contains(r.stderr, `job "many": target capath:`+f.path("capath")) {
		t.Errorf("run with a read-only target: %v\nwant exit 1 naming the capath store", r)
	}
	if st := f.states(t); !uniform(st) || st[0] != "old" {
		t.Errorf("after the failure: %v, want all old", st)
	}
}

// TestFullDisk: the pem target lives on a full file system.
func TestFullDisk(t *testing.T) {
	tiny := storetest.TinyFS(t, 32*1024)
	f := newFaultJob(t, "", "[]")
	// move the pem target onto the tiny file system
	bundle := filepath.Join(tiny, "bundle.pem")
	fill(t, "pem:"+bundle, faultOld)
	cfg, _ := os.ReadFile(f.path("config.yaml"))
	old := "pem:" + f.path("bundle.pem")
	writeFile(t, f.path("config.yaml"), strings.Replace(string(cfg), old, "pem:"+bundle, 1))
	f.before["pem:"+bundle], f.after["pem:"+bundle] = f.before[old], f.after[old]
	f.targets[0] = "pem:" + bundle
	// the pem target is first: move it last, so capath and nss are changed
	// before it fails and must be rolled back
	f.targets = append(f.targets[1:], f.targets[0])
	cfg, _ = os.ReadFile(f.path("config.yaml"))
	lines := strings.Split(string(cfg), "\n")
	var out, pemLines []string
	for i := 0; i < len(lines); i++ {
		if strings.Contains(lines[i], "store: pem:") {
			pemLines = lines[i : i+2]
			i++
			continue
		}
		out = append(out, lines[i])
	}
	out = append(out[:len(out)-1], append(pemLines, "")...)
	writeFile(t, f.path("config.yaml"), strings.Join(out, "\n"))

	r := f.run("--cron")
	if r.code != 1 || !strings.Contains(r.stderr, "target pem:"+bundle) || !strings.Contains(r.stderr, "no space left on device") {
		t.Errorf("run with a full disk: %v\nwant exit 1 naming the pem store and the cause", r)
	}
	if st := f.states(t); !uniform(st) || st[0] != "old" {
		t.Errorf("after the failure: %v, want all old", st)
	}
	ents, _ := os.ReadDir(tiny)
	if len(ents) != 1 {
		t.Errorf("the full file system holds %d files, want only bundle.pem (no temporary files left)", len(ents))
	}
}

// holdLock is the other program: it opens an SQLite database, takes the
// write lock (BEGIN IMMEDIATE), says "locked" and holds it until its stdin
// closes.
func holdLock(path string) int {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(context.Background())
	if err == nil {
		_, err = conn.ExecContext(context.Background(), "BEGIN IMMEDIATE")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
	return 0
}

// TestLockedNSSTarget: another program holds the NSS database's write lock;
// the run fails naming the database, and the targets changed before it are
// rolled back.
func TestLockedNSSTarget(t *testing.T) {
	f := newFaultJob(t, "", "[]")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	holder := exec.Command(self)
	holder.Env = append(os.Environ(), "E2E_HOLD_SQLITE_LOCK="+filepath.Join(f.nssDir, "cert9.db"))
	stdin, _ := holder.StdinPipe()
	stdout, _ := holder.StdoutPipe()
	holder.Stderr = os.Stderr
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = holder.Wait() })
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("lock holder: %q, %v", line, err)
	}
	r := f.run("--cron")
	stdin.Close()
	if r.code != 1 || !strings.Contains(r.stderr, "target nss:"+f.nssDir) || !strings.Contains(r.stderr, "locked") {
		t.Errorf("run with a locked NSS database: %v\nwant exit 1 naming the database", r)
	}
	_ = holder.Wait()
	if st := f.states(t); !uniform(st) || st[0] != "old" {
		t.Errorf("after the failure: %v, want all old", st)
	}
	f.checkNSS(t)
}
