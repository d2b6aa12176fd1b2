package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/internal/journal"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores/storetest"
)

// The attacks below are made by user nobody (uid 65534): CI runs as root,
// so the test plays the attacker by writing files as root and giving them to
// nobody, as if nobody had written them.
const attacker = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("these checks are made when rootsync runs as root (as CI does)")
	}
}

// tree records every file, folder and link under root (mode, owner,
// content hash, link target), to prove that no byte changed.
func tree(t *testing.T, root string, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, s := range skip {
			if p == s && d.IsDir() {
				return filepath.SkipDir
			}
			if p == s {
				return nil
			}
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		var desc string
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			desc = fi.Mode().String() + " -> " + l
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			desc = fmt.Sprintf("%v %s", fi.Mode(), hex.EncodeToString(h[:]))
		default:
			desc = fi.Mode().String()
		}
		out[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, b := range before {
		if a, ok := after[p]; !ok || a != b {
			t.Errorf("%s changed: %q -> %q", p, b, a)
		}
	}
	for p, a := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s appeared: %q", p, a)
		}
	}
}

// giveAway makes path look written by the attacker.
func giveAway(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Lchown(p, attacker, attacker); err != nil {
			t.Fatal(err)
		}
	}
}

type attackSetup struct {
	base, src, target string
}

func newAttack(t *testing.T) attackSetup {
	t.Helper()
	base := t.TempDir()
	s := attackSetup{base: base, src: filepath.Join(base, "src.pem"), target: filepath.Join(base, "target.pem")}
	if err := os.WriteFile(s.src, testpki.Root("Attack Test Root").PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.target, testpki.Root("Existing Root").PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s attackSetup) sync(state string, to string) (int, string, string) {
	if to == "" {
		to = s.target
	}
	return runMain("sync", "pem:"+s.src, "--to", "pem:"+to, "--state-dir", state, "--lock-wait", "0s")
}

func refused(t *testing.T, code int, stderr, path string) {
	t.Helper()
	t.Logf("stderr:\n%s", stderr)
	if code != ExitError {
		t.Errorf("exit status %d, want %d", code, ExitError)
	}
	if !strings.Contains(stderr, path) {
		t.Errorf("message does not name %s:\n%s", path, stderr)
	}
	if !strings.Contains(stderr, "hint:") {
		t.Errorf("no hint:\n%s", stderr)
	}
}

func TestAttackLockSymlinkTruncatesNothing(t *testing.T) {
	needRoot(t)
	s := newAttack(t)
	victim := filepath.Join(s.base, "shadow")
	os.WriteFile(victim, []byte("root:secret:1:0:99999:7:::\n"), 0o600)

	// The attacker's own state folder (say, one an administrator pointed
	// --state-dir at in a shared place), with lock -> victim.
	state := filepath.Join(s.base, "state")
	os.Mkdir(state, 0o755)
	os.Symlink(victim, filepath.Join(state, "lock"))
	giveAway(t, state, filepath.Join(state, "lock"))
	before := tree(t, s.base)
	code, _, stderr := s.sync(state, "")
	refused(t, code, stderr, state)
	sameTree(t, before, tree(t, s.base))

	// The same link left in root's own state folder is not followed either.
	state2 := filepath.Join(s.base, "state2")
	os.Mkdir(state2, 0o700)
	os.Symlink(victim, filepath.Join(state2, "lock"))
	before = tree(t, s.base)
	code, _, stderr = s.sync(state2, "")
	refused(t, code, stderr, filepath.Join(state2, "lock"))
	sameTree(t, before, tree(t, s.base))
}

// plant writes a journal naming target and a backup whose manifest creates
// a setuid program, as the attacker would.
func plant(t *testing.T, state, backupDir, store, evil string) {
	t.Helper()
	os.MkdirAll(filepath.Join(backupDir, "data", "0"), 0o755)
	os.WriteFile(filepath.Join(backupDir, "data", "0", "file"), []byte("#!/bin/sh\nexec /bin/sh -p\n"), 0o755)
	m, _ := json.Marshal(map[string]any{
		"store": store, "created": time.Now(),
		"items": []map[string]any{{"path": evil, "kind": "file", "mode": 0o4755, "owner": map[string]int{"uid": 0, "gid": 0}}},
	})
	os.WriteFile(filepath.Join(backupDir, "manifest.json"), m, 0o644)
	j, _ := json.Marshal(journal.Record{Job: "sync", PID: 1, Started: time.Now(),
		Targets: []journal.Target{{Store: store, Backup: backupDir}}})
	os.WriteFile(filepath.Join(state, journal.FileName), j, 0o644)
	filepath.WalkDir(backupDir, func(p string, d fs.DirEntry, err error) error { return os.Lchown(p, attacker, attacker) })
	giveAway(t, filepath.Join(state, journal.FileName))
}

func TestAttackPlantedJournalCreatesNoSetuidFile(t *testing.T) {
	needRoot(t)
	s := newAttack(t)
	bin := filepath.Join(s.base, "bin")
	os.Mkdir(bin, 0o755)
	evil := filepath.Join(bin, "rootshell")
	store := "pem:" + s.target

	t.Run("attacker's state folder", func(t *testing.T) {
		state := filepath.Join(s.base, "state-a")
		os.MkdirAll(filepath.Join(state, "backups"), 0o755)
		plant(t, state, filepath.Join(state, "backups", "20260101T000000.000000000Z-pem-x"), store, evil)
		giveAway(t, state, filepath.Join(state, "backups"))
		before := tree(t, s.base)
		code, _, stderr := s.sync(state, "")
		refused(t, code, stderr, state)
		sameTree(t, before, tree(t, s.base))
	})
	t.Run("journal pointing outside root's state folder", func(t *testing.T) {
		state := filepath.Join(s.base, "state-b")
		os.Mkdir(state, 0o700)
		home := filepath.Join(s.base, "home")
		os.Mkdir(home, 0o755)
		giveAway(t, home)
		planted := filepath.Join(home, "bk")
		plant(t, state, planted, store, evil)
		os.Chown(filepath.Join(state, journal.FileName), 0, 0) // even if root's
		before := tree(t, s.base, filepath.Join(state, "lock"))
		code, _, stderr := s.sync(state, "")
		refused(t, code, stderr, planted)
		sameTree(t, before, tree(t, s.base, filepath.Join(state, "lock")))
	})
	t.Run("setuid manifest inside root's state folder", func(t *testing.T) {
		state := filepath.Join(s.base, "state-c")
		os.MkdirAll(filepath.Join(state, "backups"), 0o700)
		bk := filepath.Join(state, "backups", "20260101T000000.000000000Z-pem-x")
		plant(t, state, bk, store, evil)
		filepath.WalkDir(state, func(p string, d fs.DirEntry, err error) error { return os.Lchown(p, 0, 0) })
		before := tree(t, s.base, filepath.Join(state, "lock"))
		code, _, stderr := s.sync(state, "")
		refused(t, code, stderr, bk)
		sameTree(t, before, tree(t, s.base, filepath.Join(state, "lock")))
	})
	if _, err := os.Lstat(evil); err == nil {
		t.Fatalf("%s was created", evil)
	}
}

func TestAttackWritableStateFolder(t *testing.T) {
	needRoot(t)
	for _, mode := range []fs.FileMode{0o770, 0o777, 0o707} {
		t.Run(mode.String(), func(t *testing.T) {
			s := newAttack(t)
			state := filepath.Join(s.base, "state")
			os.Mkdir(state, 0o700)
			os.Chmod(state, mode)
			before := tree(t, s.base)
			code, _, stderr := s.sync(state, "")
			refused(t, code, stderr, state)
			if !strings.Contains(stderr, "writable by") {
				t.Errorf("message does not say what is wrong:\n%s", stderr)
			}
			sameTree(t, before, tree(t, s.base))
		})
	}
}

func TestStateFolderUnderStickyTmpWorks(t *testing.T) {
	needRoot(t)
	s := newAttack(t)
	tmp := filepath.Join(s.base, "tmp")
	os.Mkdir(tmp, 0o700)
	os.Chmod(tmp, fs.ModeSticky|0o777)
	state := filepath.Join(tmp, "rootsync-state")
	code, out, stderr := s.sync(state, "")
	if code != ExitOK {
		t.Fatalf("exit %d:\n%s%s", code, out, stderr)
	}
	if b, _ := os.ReadFile(s.target); !strings.Contains(string(b), string(testpki.Root("Attack Test Root").PEM())) {
		t.Error("the target did not get the root")
	}
	if code, _, stderr := runMain("restore", "--state-dir", state); code != ExitOK {
		t.Errorf("restore list: %d %s", code, stderr)
	}
}

func TestAttackUserSymlinkToSystemBundle(t *testing.T) {
	needRoot(t)
	s := newAttack(t)
	etc := filepath.Join(s.base, "etc", "ssl", "certs")
	os.MkdirAll(etc, 0o755)
	system := filepath.Join(etc, "ca-certificates.crt")
	os.WriteFile(system, testpki.Root("System Root").PEM(), 0o644)
	app := filepath.Join(s.base, "home", "alice", "app")
	os.MkdirAll(app, 0o755)
	giveAway(t, filepath.Join(s.base, "home", "alice"), app)
	link := filepath.Join(app, "ca.pem")
	os.Symlink(system, link)
	giveAway(t, link)
	state := filepath.Join(s.base, "state")
	before := tree(t, s.base, state)
	code, _, stderr := s.sync(state, link)
	refused(t, code, stderr, link)
	sameTree(t, before, tree(t, s.base, state))
	// restore of a backup naming the link is refused as well.
}

func TestAdminSymlinkInRootFolderWorks(t *testing.T) {
	needRoot(t)
	s := newAttack(t)
	certs := filepath.Join(s.base, "etc", "ssl", "certs")
	os.MkdirAll(certs, 0o755)
	bundle := filepath.Join(s.base, "etc", "ssl", "bundle.pem")
	os.WriteFile(bundle, testpki.Root("System Root").PEM(), 0o644)
	link := filepath.Join(certs, "ca-certificates.crt")
	os.Symlink("../bundle.pem", link)
	state := filepath.Join(s.base, "state")
	code, out, stderr := s.sync(state, link)
	if code != ExitOK {
		t.Fatalf("exit %d:\n%s%s", code, out, stderr)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(bundle); !strings.Contains(string(b), string(testpki.Root("Attack Test Root").PEM())) {
		t.Error("the bundle behind the link did not get the root")
	}
}

// TestSyncAndRestoreKeepMetadata: a file another user owns, with an ACL and
// extended attributes, keeps them through a sync and comes back with them
// (not as root:root) from a restore.
func TestSyncAndRestoreKeepMetadata(t *testing.T) {
	needRoot(t)
	dir := storetest.XattrDir(t)
	src := filepath.Join(dir, "src.pem")
	os.WriteFile(src, testpki.Root("Metadata Root").PEM(), 0o644)
	target := filepath.Join(dir, "app.pem")
	os.WriteFile(target, testpki.Root("Existing Root").PEM(), 0o640)
	giveAway(t, target)
	storetest.RunTool(t, "setfacl", "-m", "u:65534:rw,g:0:r", target)
	storetest.RunTool(t, "setfattr", "-n", "user.origin", "-v", "alice", target)
	want := storetest.Metadata(t, target)
	state := filepath.Join(t.TempDir(), "state")
	if code, out, errs := runMain("sync", "pem:"+src, "--to", "pem:"+target, "--state-dir", state); code != ExitOK {
		t.Fatalf("sync: %d\n%s%s", code, out, errs)
	}
	if got := storetest.Metadata(t, target); got != want {
		t.Errorf("after sync:\n%s\nwant:\n%s", got, want)
	}
	all, err := backup.List(state)
	if err != nil || len(all) != 1 {
		t.Fatalf("backups: %v %v", all, err)
	}
	os.Remove(target)
	os.WriteFile(target, nil, 0o600)
	if code, out, errs := runMain("restore", all[0].ID, "--state-dir", state); code != ExitOK {
		t.Fatalf("restore: %d\n%s%s", code, out, errs)
	}
	if got := storetest.Metadata(t, target); got != want {
		t.Errorf("after restore:\n%s\nwant:\n%s", got, want)
	}
}

// writeConfig writes a configuration with one job from src to target whose
// hook is argv.
func writeConfig(t *testing.T, path, src, target string, hook string) {
	t.Helper()
	cfg := fmt.Sprintf("jobs:\n  app:\n    sources:\n      - pem:%s\n    targets:\n      - store: pem:%s\n", src, target)
	if hook != "" {
		cfg += fmt.Sprintf("        hooks:\n          - [%q]\n", hook)
	}
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAttackForeignConfigurationAndHook(t *testing.T) {
	needRoot(t)
	s := newAttack(t)
	state := filepath.Join(s.base, "state")
	os.Mkdir(state, 0o700)

	t.Run("configuration owned by another user", func(t *testing.T) {
		cfg := filepath.Join(s.base, "foreign.yaml")
		writeConfig(t, cfg, s.src, s.target, "")
		giveAway(t, cfg)
		before := tree(t, s.base)
		code, _, stderr := runMain("run", "-c", cfg, "--state-dir", state)
		refused(t, code, stderr, cfg)
		sameTree(t, before, tree(t, s.base))
	})
	t.Run("configuration writable by others", func(t *testing.T) {
		cfg := filepath.Join(s.base, "writable.yaml")
		writeConfig(t, cfg, s.src, s.target, "")
		os.Chmod(cfg, 0o666)
		before := tree(t, s.base)
		code, _, stderr := runMain("run", "-c", cfg, "--state-dir", state)
		refused(t, code, stderr, cfg)
		sameTree(t, before, tree(t, s.base))
	})
	t.Run("hook program in another user's folder", func(t *testing.T) {
		bin := filepath.Join(s.base, "alice-bin")
		os.Mkdir(bin, 0o755)
		hook := filepath.Join(bin, "reload")
		os.WriteFile(hook, []byte("#!/bin/sh\nexit 0\n"), 0o755)
		giveAway(t, bin)
		cfg := filepath.Join(s.base, "hook.yaml")
		writeConfig(t, cfg, s.src, s.target, hook)
		before := tree(t, s.base)
		code, _, stderr := runMain("run", "-c", cfg, "--state-dir", state)
		if code != ExitError || !strings.Contains(stderr, bin) || !strings.Contains(stderr, "hook program") {
			t.Errorf("exit %d, want %d and a message naming %s:\n%s", code, ExitError, bin, stderr)
		}
		sameTree(t, before, tree(t, s.base))
	})
	t.Run("root's own configuration and hook work", func(t *testing.T) {
		cfg := filepath.Join(s.base, "good.yaml")
		writeConfig(t, cfg, s.src, s.target, storetest.Tool(t, "true"))
		if code, out, stderr := runMain("run", "-c", cfg, "--state-dir", state); code != ExitOK {
			t.Fatalf("exit %d:\n%s%s", code, out, stderr)
		}
	})
}

// TestRestoreOnlyIntoItsStore: a manifest (written by whoever could) that
// names a path of another store is refused, and so is a restore through a
// user's link to the system bundle.
func TestRestoreOnlyIntoItsStore(t *testing.T) {
	needRoot(t)
	s := newAttack(t)
	state := filepath.Join(s.base, "state")
	if code, out, errs := s.sync(state, ""); code != ExitOK {
		t.Fatalf("sync: %d\n%s%s", code, out, errs)
	}
	all, err := backup.List(state)
	if err != nil || len(all) != 1 {
		t.Fatalf("backups: %v %v", all, err)
	}
	b := all[0]
	other := filepath.Join(s.base, "other.pem")
	os.WriteFile(other, []byte("another store\n"), 0o644)
	// Point the backup's item at another file, keeping the store it names.
	m, _ := os.ReadFile(filepath.Join(b.Dir, "manifest.json"))
	forged := strings.ReplaceAll(string(m), `"path": "`+s.target+`"`, `"path": "`+other+`"`)
	if forged == string(m) {
		t.Fatalf("manifest has no item for %s:\n%s", s.target, m)
	}
	os.WriteFile(filepath.Join(b.Dir, "manifest.json"), []byte(forged), 0o600)
	before := tree(t, s.base, state)
	code, _, stderr := runMain("restore", b.ID, "--state-dir", state)
	refused(t, code, stderr, other)
	sameTree(t, before, tree(t, s.base, state))
}
