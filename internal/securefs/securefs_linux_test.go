//go:build linux

package securefs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const nobody = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the checks are made only as root")
	}
}

// mkdir makes a folder with mode and owner, ignoring the umask.
func mkdir(t *testing.T, p string, mode os.FileMode, uid int) string {
	t.Helper()
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(p, uid, uid); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantRefusal(t *testing.T, err error, path string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrUnsafe) {
		t.Fatalf("want a refusal naming %s, got %v", path, err)
	}
	if e.Path != path || !strings.Contains(err.Error(), path) {
		t.Fatalf("refusal names %q (%v), want %s", e.Path, err, path)
	}
	if e.HintText() == "" {
		t.Errorf("refusal without a hint: %v", err)
	}
}

func TestCheckStateDir(t *testing.T) {
	needRoot(t)
	base := t.TempDir()
	cases := []struct {
		name  string
		setup func(dir string) (state, bad string)
	}{
		{"root 0700", func(d string) (string, string) { return mkdir(t, d+"/s", 0o700, 0), "" }},
		{"root 0755", func(d string) (string, string) { return mkdir(t, d+"/s", 0o755, 0), "" }},
		{"group writable", func(d string) (string, string) { s := mkdir(t, d+"/s", 0o770, 0); return s, s }},
		{"others writable", func(d string) (string, string) { s := mkdir(t, d+"/s", 0o757, 0); return s, s }},
		{"owned by nobody", func(d string) (string, string) { s := mkdir(t, d+"/s", 0o700, nobody); return s, s }},
		{"parent owned by nobody", func(d string) (string, string) {
			p := mkdir(t, d+"/p", 0o755, nobody)
			return mkdir(t, p+"/s", 0o700, 0), p
		}},
		{"parent writable, not sticky", func(d string) (string, string) {
			p := mkdir(t, d+"/p", 0o777, 0)
			return mkdir(t, p+"/s", 0o700, 0), p
		}},
		{"parent sticky like /tmp", func(d string) (string, string) {
			p := mkdir(t, d+"/p", os.ModeSticky|0o777, 0)
			return mkdir(t, p+"/s", 0o700, 0), ""
		}},
		{"root's link in a root folder", func(d string) (string, string) {
			real := mkdir(t, d+"/real", 0o700, 0)
			os.Symlink(real, d+"/link")
			return d + "/link", ""
		}},
		{"nobody's link in a sticky folder", func(d string) (string, string) {
			p := mkdir(t, d+"/p", os.ModeSticky|0o777, 0)
			real := mkdir(t, d+"/real", 0o700, 0)
			os.Symlink(real, p+"/link")
			os.Lchown(p+"/link", nobody, nobody)
			return p + "/link", p + "/link"
		}},
		{"link to a folder nobody owns", func(d string) (string, string) {
			real := mkdir(t, d+"/real", 0o700, nobody)
			os.Symlink(real, d+"/link")
			return d + "/link", real
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := mkdir(t, filepath.Join(base, string(rune('a'+i))), 0o755, 0)
			state, bad := c.setup(d)
			err := CheckStateDir(state)
			if bad == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantRefusal(t, err, bad)
		})
	}
}

func TestMkdirStateJudgesBeforeCreating(t *testing.T) {
	needRoot(t)
	p := mkdir(t, filepath.Join(t.TempDir(), "p"), 0o777, 0)
	state := filepath.Join(p, "a", "state")
	wantRefusal(t, MkdirState(state), p)
	if _, err := os.Lstat(filepath.Join(p, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("created a folder under a refused parent: %v", err)
	}
	ok := filepath.Join(mkdir(t, filepath.Join(t.TempDir(), "sticky"), os.ModeSticky|0o777, 0), "x", "state")
	if err := MkdirState(ok); err != nil {
		t.Fatalf("state folder under a sticky folder: %v", err)
	}
	if fi, err := os.Stat(ok); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state folder not made 0700: %v %v", fi, err)
	}
}

func TestCheckFile(t *testing.T) {
	needRoot(t)
	d := t.TempDir()
	good := filepath.Join(d, "good")
	os.WriteFile(good, []byte("x"), 0o600)
	if err := CheckFile(good, "password file"); err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(filepath.Join(d, "missing"), "password file"); err != nil {
		t.Fatalf("a missing file is the opener's concern: %v", err)
	}
	foreign := filepath.Join(d, "foreign")
	os.WriteFile(foreign, []byte("x"), 0o600)
	os.Chown(foreign, nobody, nobody)
	wantRefusal(t, CheckFile(foreign, "password file"), foreign)
	writable := filepath.Join(d, "writable")
	os.WriteFile(writable, []byte("x"), 0o600)
	os.Chmod(writable, 0o666)
	wantRefusal(t, CheckFile(writable, "configuration file"), writable)
	if err := CheckFile(writable, "configuration file"); !strings.Contains(err.Error(), "configuration file") {
		t.Errorf("message does not say what the file is: %v", err)
	}
	p := mkdir(t, filepath.Join(d, "p"), 0o755, nobody)
	inside := filepath.Join(p, "hook")
	os.WriteFile(inside, []byte("x"), 0o755)
	wantRefusal(t, CheckFile(inside, "hook program"), p)
}

func TestCheckLinks(t *testing.T) {
	needRoot(t)
	d := t.TempDir()
	sys := mkdir(t, filepath.Join(d, "etc"), 0o755, 0)
	bundle := filepath.Join(sys, "bundle.pem")
	os.WriteFile(bundle, []byte("x"), 0o644)
	admin := filepath.Join(sys, "link.pem")
	os.Symlink(bundle, admin)
	if err := CheckLinks(admin); err != nil {
		t.Fatalf("an administrator's link in a root folder: %v", err)
	}
	home := mkdir(t, filepath.Join(d, "alice"), 0o755, nobody)
	alice := filepath.Join(home, "ca.pem")
	os.Symlink(bundle, alice)
	wantRefusal(t, CheckLinks(alice), alice)
	// A link to alice's folder on the way is refused too, naming it.
	os.Symlink(sys, filepath.Join(home, "certs"))
	via := filepath.Join(home, "certs", "bundle.pem")
	wantRefusal(t, CheckLinks(via), filepath.Join(home, "certs"))
	// A plain file in alice's folder is fine, and so is a missing one.
	os.WriteFile(filepath.Join(home, "plain.pem"), nil, 0o644)
	for _, p := range []string{filepath.Join(home, "plain.pem"), filepath.Join(home, "new", "x.pem")} {
		if err := CheckLinks(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestOpenFileRefuses(t *testing.T) {
	needRoot(t)
	d := t.TempDir()
	victim := filepath.Join(d, "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	link := filepath.Join(d, "lock")
	os.Symlink(victim, link)
	fifo := filepath.Join(d, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(d, "foreign")
	os.WriteFile(foreign, nil, 0o600)
	os.Chown(foreign, nobody, nobody)
	hard := filepath.Join(d, "hard")
	os.Link(victim, hard)
	for _, p := range []string{link, fifo, foreign, hard} {
		done := make(chan error, 1)
		go func() {
			f, err := OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
			if err == nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			wantRefusal(t, err, p)
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: open blocked", p)
		}
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Errorf("victim changed: %q", b)
	}
	f, err := OpenFile(filepath.Join(d, "new"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestReadFileInStaysBeneath(t *testing.T) {
	needRoot(t)
	d := t.TempDir()
	root := mkdir(t, filepath.Join(d, "backup"), 0o700, 0)
	os.WriteFile(filepath.Join(root, "manifest.json"), []byte("{}"), 0o600)
	if b, err := ReadFileIn(root, "manifest.json", 10); err != nil || string(b) != "{}" {
		t.Fatalf("got %q, %v", b, err)
	}
	if _, err := ReadFileIn(root, "manifest.json", 1); err == nil {
		t.Error("a file over the limit was read")
	}
	outside := mkdir(t, filepath.Join(d, "outside"), 0o700, 0)
	os.WriteFile(filepath.Join(outside, "file"), []byte("secret"), 0o600)
	os.Symlink(outside, filepath.Join(root, "data"))
	if _, err := ReadFileIn(root, "data/file", 0); err == nil {
		t.Error("followed a link beneath the backup")
	}
	if _, err := ReadFileIn(root, "../outside/file", 0); err == nil {
		t.Error("left the backup with ..")
	}
	os.Symlink(root, filepath.Join(d, "via"))
	if _, err := ReadFileIn(filepath.Join(d, "via"), "manifest.json", 0); err == nil {
		t.Error("followed a link as the backup folder")
	}
	// The fallback walk refuses the same.
	rfd, _ := syscall.Open(root, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	defer syscall.Close(rfd)
	if fd, err := walkBeneath(rfd, "data/file", syscall.O_RDONLY|syscall.O_NOFOLLOW); err == nil {
		syscall.Close(fd)
		t.Error("the O_NOFOLLOW walk followed a link")
	}
	if fd, err := walkBeneath(rfd, "manifest.json", syscall.O_RDONLY|syscall.O_NOFOLLOW); err != nil {
		t.Errorf("the O_NOFOLLOW walk: %v", err)
	} else {
		syscall.Close(fd)
	}
}
