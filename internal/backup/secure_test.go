// An external test package: storetest, whose helpers these tests use, imports backup.
package backup_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/stores/storetest"
)

// TestRestoreKeepsMetadata: a foreign file (owned by nobody, with an ACL and
// attributes) comes back exactly as it was, not as root's.
func TestRestoreKeepsMetadata(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving files away needs root")
	}
	work := storetest.XattrDir(t)
	dir := filepath.Join(work, "capath")
	os.Mkdir(dir, 0o755)
	member := filepath.Join(dir, "a.pem")
	file := filepath.Join(work, "bundle.pem")
	for _, p := range []string{member, file} {
		os.WriteFile(p, []byte("A"), 0o640)
		os.Chown(p, 65534, 65534)
		storetest.RunTool(t, "setfacl", "-m", "u:65534:rw,g:0:r", p)
		storetest.RunTool(t, "setfattr", "-n", "user.origin", "-v", "alice", p)
		storetest.RunTool(t, "setfattr", "-n", "trusted.kept", "-v", "1", p)
	}
	want := map[string]string{member: storetest.Metadata(t, member), file: storetest.Metadata(t, file)}
	b, err := backup.Take(t.TempDir(), "capath:"+dir, []string{dir, file}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{member, file} {
		os.Remove(p)
		os.WriteFile(p, []byte("changed by root"), 0o600)
	}
	if err := b.Restore(); err != nil {
		t.Fatal(err)
	}
	for p, w := range want {
		if got := storetest.Metadata(t, p); got != w {
			t.Errorf("%s after restore:\n%s\nwant:\n%s", p, got, w)
		}
	}
}

// forge writes a backup whose manifest says what an attacker wants.
func forge(t *testing.T, root string, mutate func(*backup.Backup)) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "f.pem")
	os.WriteFile(f, []byte("x"), 0o644)
	d := filepath.Join(t.TempDir(), "d")
	os.Mkdir(d, 0o755)
	os.WriteFile(filepath.Join(d, "a.pem"), []byte("a"), 0o644)
	b, err := backup.Take(root, "pem:"+f, []string{f, d}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	mutate(b)
	m, _ := json.Marshal(b)
	if err := os.WriteFile(filepath.Join(b.Dir, "manifest.json"), m, 0o600); err != nil {
		t.Fatal(err)
	}
	return b.Dir
}

func TestOpenRefusesForgedManifests(t *testing.T) {
	root := t.TempDir()
	cases := map[string]func(*backup.Backup){
		"setuid file":     func(b *backup.Backup) { b.Items[0].Mode = 0o4755 },
		"Go's setuid bit": func(b *backup.Backup) { b.Items[0].Mode = uint32(fs.ModeSetuid | 0o755) },
		"setgid member":   func(b *backup.Backup) { b.Items[1].Entries[0].Mode = 0o2755 },
		"sticky":          func(b *backup.Backup) { b.Items[1].Mode = 0o1777 },
		"capability": func(b *backup.Backup) {
			b.Items[0].Xattrs = []atomicfile.Xattr{{Name: "security.capability", Value: []byte{1}}}
		},
		"unknown namespace": func(b *backup.Backup) {
			b.Items[0].Xattrs = []atomicfile.Xattr{{Name: "system.nfs4_acl", Value: []byte{1}}}
		},
		"relative path":        func(b *backup.Backup) { b.Items[0].Path = "etc/passwd" },
		"dot-dot path":         func(b *backup.Backup) { b.Items[0].Path = "/etc/ssl/../passwd" },
		"member leaves folder": func(b *backup.Backup) { b.Items[1].Entries[0].Name = "../../etc/cron.d/x" },
		"member in subfolder":  func(b *backup.Backup) { b.Items[1].Entries[0].Name = "sub/x" },
		"device":               func(b *backup.Backup) { b.Items[0].Kind = "device" },
		"fifo mode bits":       func(b *backup.Backup) { b.Items[0].Mode = 0o10644 },
		"members of a file":    func(b *backup.Backup) { b.Items[0].Entries = []backup.Entry{{Name: "x"}} },
		"no store":             func(b *backup.Backup) { b.Store = "" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			dir := forge(t, root, mutate)
			if _, err := backup.Open(dir); !errors.Is(err, backup.ErrInvalid) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("Open: %v, want backup.ErrInvalid naming %s", err, dir)
			}
		})
	}
}

func TestWithinRefusesPathsOfOtherStores(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f.pem")
	os.WriteFile(f, []byte("x"), 0o644)
	b, err := backup.Take(t.TempDir(), "pem:"+f, []string{f}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Within([]string{f}); err != nil {
		t.Fatal(err)
	}
	if err := b.Within([]string{"/etc/ssl/certs/ca-certificates.crt"}); !errors.Is(err, backup.ErrInvalid) {
		t.Fatalf("Within another store's paths: %v", err)
	}
}

func TestOpenRefusesLinkedManifestAndData(t *testing.T) {
	root := t.TempDir()
	dir := forge(t, root, func(*backup.Backup) {})
	// A manifest that is a link to a file elsewhere is not read.
	elsewhere := filepath.Join(t.TempDir(), "m.json")
	data, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	os.WriteFile(elsewhere, data, 0o600)
	os.Remove(filepath.Join(dir, "manifest.json"))
	os.Symlink(elsewhere, filepath.Join(dir, "manifest.json"))
	if _, err := backup.Open(dir); err == nil {
		t.Fatal("opened a manifest through a link")
	}
	// Saved bytes reached through a link are not restored.
	os.Remove(filepath.Join(dir, "manifest.json"))
	os.WriteFile(filepath.Join(dir, "manifest.json"), data, 0o600)
	b, err := backup.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(t.TempDir(), "data")
	os.Rename(filepath.Join(dir, "data"), planted)
	os.Symlink(planted, filepath.Join(dir, "data"))
	os.WriteFile(b.Items[0].Path, []byte("changed"), 0o644)
	before := storetest.Snapshot(t, []string{b.Items[0].Path})
	if err := b.Restore(); err == nil {
		t.Fatal("restored bytes read through a link")
	}
	storetest.Compare(t, before, storetest.Snapshot(t, []string{b.Items[0].Path}))
}

// TestRestoreDoesNotFollowUsersLink: as root, a restore into a path that
// has since become a user's link to the system bundle is refused, naming
// the link, and the bundle is untouched.
func TestRestoreDoesNotFollowUsersLink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the rule applies to root")
	}
	d := t.TempDir()
	system := filepath.Join(d, "ca-certificates.crt")
	os.WriteFile(system, []byte("system bundle"), 0o644)
	home := filepath.Join(d, "alice")
	os.Mkdir(home, 0o755)
	os.Chown(home, 65534, 65534)
	app := filepath.Join(home, "ca.pem")
	os.WriteFile(app, []byte("alice's bundle"), 0o644)
	b, err := backup.Take(t.TempDir(), "pem:"+app, []string{app}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(app)
	os.Symlink(system, app)
	err = b.Restore()
	if err == nil || !strings.Contains(err.Error(), app) {
		t.Fatalf("Restore through alice's link: %v", err)
	}
	if got, _ := os.ReadFile(system); string(got) != "system bundle" {
		t.Fatalf("system bundle changed: %q", got)
	}
}
