//go:build linux

// An external test package: storetest, whose helpers these tests use,
// imports atomicfile (through internal/backup).
package atomicfile_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/internal/securefs"
	"github.com/rootsync/rootsync/stores/storetest"
)

// dressed makes a file owned by nobody, mode 0640, with an ACL entry, a user
// attribute and (as root) a trusted attribute, as an administrator might.
func dressed(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(p, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		storetest.RunTool(t, "setfattr", "-n", "trusted.rootsync-test", "-v", "kept", p)
	}
	storetest.RunTool(t, "setfacl", "-m", "u:65534:rw,g:0:r", p)
	storetest.RunTool(t, "setfattr", "-n", "user.origin", "-v", "alice", p)
	return p
}

func TestWriteKeepsMetadata(t *testing.T) {
	dir := storetest.XattrDir(t)
	p := dressed(t, dir)
	before := storetest.Metadata(t, p)
	if !strings.Contains(before, "user:nobody:rw-") || !strings.Contains(before, "user.origin") {
		t.Fatalf("setup did not take:\n%s", before)
	}
	if err := atomicfile.Write(p, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new\n" {
		t.Fatalf("content %q", b)
	}
	if after := storetest.Metadata(t, p); after != before {
		t.Errorf("metadata changed by Write:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}

func TestWriteMetaRestoresAndDropsCapability(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file away needs root")
	}
	dir := storetest.XattrDir(t)
	p := dressed(t, dir)
	want := storetest.Metadata(t, p)
	_, m, err := atomicfile.ReadMeta(p)
	if err != nil {
		t.Fatal(err)
	}
	// A manifest might carry a capability and a setuid bit: neither is set.
	m.Mode |= 0o4000
	m.Xattrs = append(m.Xattrs, atomicfile.Xattr{Name: "security.capability", Value: capability()})
	// Lose everything, as a careless tool would.
	os.Remove(p)
	os.WriteFile(p, []byte("other"), 0o666)
	if err := atomicfile.WriteMeta(p, []byte("old\n"), m); err != nil {
		t.Fatal(err)
	}
	if got := storetest.Metadata(t, p); got != want {
		t.Errorf("restored metadata:\n%s\nwant:\n%s", got, want)
	}
	if _, err := unix.Getxattr(p, "security.capability", make([]byte, 64)); !errors.Is(err, unix.ENODATA) {
		t.Errorf("security.capability was set (%v)", err)
	}
}

// capability is a valid security.capability value (version 2, CAP_CHOWN
// permitted and effective).
func capability() []byte {
	var b bytes.Buffer
	for _, v := range []uint32{0x02000001, 1, 0, 0, 0} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

func TestWriteDoesNotCopyCapability(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	p := filepath.Join(storetest.XattrDir(t), "f")
	os.WriteFile(p, []byte("a"), 0o644)
	if err := unix.Setxattr(p, "security.capability", capability(), 0); err != nil {
		t.Skipf("cannot set a capability here: %v", err)
	}
	if err := atomicfile.Write(p, []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Getxattr(p, "security.capability", make([]byte, 64)); !errors.Is(err, unix.ENODATA) {
		t.Errorf("security.capability carried over (%v)", err)
	}
}

func TestWriteFollowsOnlyTrustedLinks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the rule applies to root")
	}
	d := t.TempDir()
	bundle := filepath.Join(d, "system.pem")
	os.WriteFile(bundle, []byte("system"), 0o644)
	admin := filepath.Join(d, "admin.pem")
	os.Symlink(bundle, admin)
	if err := atomicfile.Write(admin, []byte("via admin link"), 0o644); err != nil {
		t.Fatalf("an administrator's link: %v", err)
	}
	if b, _ := os.ReadFile(bundle); string(b) != "via admin link" {
		t.Fatalf("the link's target was not written: %q", b)
	}
	home := filepath.Join(d, "alice")
	os.Mkdir(home, 0o755)
	os.Chown(home, 65534, 65534)
	alice := filepath.Join(home, "ca.pem")
	os.Symlink(bundle, alice)
	err := atomicfile.Write(alice, []byte("alice's choice"), 0o644)
	if !errors.Is(err, securefs.ErrUnsafe) || !strings.Contains(err.Error(), alice) {
		t.Fatalf("want a refusal naming %s, got %v", alice, err)
	}
	if b, _ := os.ReadFile(bundle); string(b) != "via admin link" {
		t.Fatalf("the system bundle changed: %q", b)
	}
}

func TestWriteNoFollowReplacesLink(t *testing.T) {
	d := t.TempDir()
	victim := filepath.Join(d, "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	j := filepath.Join(d, "journal.json")
	os.Symlink(victim, j)
	if err := atomicfile.WriteNoFollow(j, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("followed the link: %q", b)
	}
	if fi, err := os.Lstat(j); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Errorf("journal is %v, %v", fi, err)
	}
}

func TestKeepXattr(t *testing.T) {
	for _, c := range []struct {
		name       string
		root, user bool
	}{
		{"user.origin", true, true},
		{"system.posix_acl_access", true, true},
		{"system.posix_acl_default", true, true},
		{"security.selinux", true, false},
		{"trusted.x", true, false},
		{"security.capability", false, false},
		{"system.nfs4_acl", false, false},
	} {
		if got := atomicfile.KeepXattr(c.name, true); got != c.root {
			t.Errorf("atomicfile.KeepXattr(%q, root) = %v", c.name, got)
		}
		if got := atomicfile.KeepXattr(c.name, false); got != c.user {
			t.Errorf("atomicfile.KeepXattr(%q, user) = %v", c.name, got)
		}
	}
}
