//go:build windows

package windows_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/windows/registry"

	"github.com/rootsync/rootsync/internal/cli"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

func rootsync(t *testing.T, want int, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := cli.Main(args, &out, &errb); code != want {
		t.Fatalf("rootsync %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out.String(), errb.String())
	}
	return out.String() + errb.String()
}

// TestIiscaStory: the job Iisca.exe did, through the command line. A root
// goes from a PEM file into CurrentUser\Root, from there (alone: --only)
// into LocalMachine\Root, and `rootsync restore` of the backup the second
// sync took takes it out of LocalMachine\Root again; then the root goes
// from CurrentUser\Root into a PEM file. Only the test root is
// touched, and no count is asserted.
func TestIiscaStory(t *testing.T) {
	dir := tempDir(t)
	state := filepath.Join(dir, "state")
	t.Setenv("ROOTSYNC_STATE_DIR", state)
	root := testpki.Root("rootsync Iisca Story Root")
	fp := stores.FingerprintOf(root.DER).String()
	pemFile := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(pemFile, root.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var out, errb bytes.Buffer
		for _, s := range []string{"windows:CurrentUser/Root", "windows:LocalMachine/Root"} {
			cli.Main([]string{"sync", "pem:" + filepath.Join(dir, "empty.pem"), "--to", s, "--mode", "prune", "--only", fp[:16]}, &out, &errb)
		}
	})
	os.WriteFile(filepath.Join(dir, "empty.pem"), nil, 0o600)

	rootsync(t, 0, "sync", "pem:"+pemFile, "--to", "windows:CurrentUser/Root")
	if out := rootsync(t, 0, "list", "windows:CurrentUser/Root"); !strings.Contains(out, "rootsync - rootsync Iisca Story Root") {
		t.Fatalf("CurrentUser\\Root after the sync:\n%s", out)
	}
	out := rootsync(t, 0, "sync", "windows:CurrentUser/Root", "--to", "windows:LocalMachine/Root", "--only", fp[:12])
	if !strings.Contains(out, "added 1,") {
		t.Fatalf("sync into LocalMachine\\Root:\n%s", out)
	}
	m := regexp.MustCompile(`backup: \S*[\\/](\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no backup named:\n%s", out)
	}
	if out := rootsync(t, 0, "list", "windows:LocalMachine/Root"); !strings.Contains(out, fp[:16]) {
		t.Fatalf("LocalMachine\\Root after the sync:\n%s", out)
	}
	rootsync(t, 0, "restore", m[1])
	if out := rootsync(t, 0, "list", "windows:LocalMachine/Root"); strings.Contains(out, fp[:16]) {
		t.Fatalf("LocalMachine\\Root still holds the root after the restore:\n%s", out)
	}
	if out := rootsync(t, 0, "list", "windows:CurrentUser/Root"); !strings.Contains(out, fp[:16]) {
		t.Fatalf("restoring LocalMachine\\Root changed CurrentUser\\Root:\n%s", out)
	}
	// Back out of the Windows store into a file: the file-based stores'
	// folder lock (a lock file on Windows) and atomic write work here too.
	outFile := filepath.Join(dir, "out.pem")
	rootsync(t, 0, "sync", "windows:CurrentUser/Root", "--to", "pem:"+outFile, "--only", fp[:12])
	if b, err := os.ReadFile(outFile); err != nil || !bytes.Contains(b, root.PEM()) {
		t.Fatalf("%s holds %q (%v), want the root's PEM", outFile, b, err)
	}
}

// tempDir is t.TempDir without os.RemoveAll, which fails under Wine 8
// ("Invalid function": Go's RemoveAll uses calls Wine lacks): the folder
// is emptied file by file.
func tempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "rootsync-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var paths []string
		filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			paths = append(paths, p)
			return nil
		})
		for i := len(paths) - 1; i >= 0; i-- {
			os.Remove(paths[i])
		}
	})
	return dir
}

// TestFromNSSDatabase: a root goes from a PEM file into a new NSS database
// (as Firefox keeps one per profile) and from there into a Windows store of
// the test's own (the NSS adapter's SQLite files open by Windows paths);
// then rootsync distrust and rootsync remove act on it there.
func TestFromNSSDatabase(t *testing.T) {
	dir := tempDir(t)
	t.Setenv("ROOTSYNC_STATE_DIR", filepath.Join(dir, "state"))
	root := testpki.Root("rootsync NSS to Windows Root")
	pemFile := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(pemFile, root.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "profile")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	rootsync(t, 0, "sync", "pem:"+pemFile, "--to", "nss:"+db, "--origin", "all")
	name := "rootsync-test-nss-" + strings.ToLower(stores.FingerprintOf(root.DER).Short())
	t.Cleanup(func() { deleteStoreKey(t, name); deleteStoreKey(t, name+"-D") })
	target := "windows:CurrentUser/" + name + "?disallowed=" + name + "-D"
	rootsync(t, 0, "sync", "nss:"+db, "--to", target, "--origin", "all")
	if out := rootsync(t, 0, "list", target); !strings.Contains(out, "rootsync - rootsync NSS to Windows Root") {
		t.Fatalf("%s after the sync:\n%s", target, out)
	}
	// distrust moves it into the store's Disallowed store; remove takes it
	// out of both.
	fp := stores.FingerprintOf(root.DER).String()[:16]
	rootsync(t, 0, "distrust", fp, "--in", target)
	if out := rootsync(t, 0, "list", target, "-o", "json"); !strings.Contains(out, `"server-auth": "distrusted"`) {
		t.Fatalf("%s after distrust:\n%s", target, out)
	}
	rootsync(t, 0, "remove", fp, "--from", target)
	if out := rootsync(t, 0, "list", target); strings.Contains(out, "NSS to Windows Root") {
		t.Fatalf("%s after remove:\n%s", target, out)
	}
}

// deleteStoreKey removes CurrentUser\NAME's registry key and its subkeys.
func deleteStoreKey(t *testing.T, name string) {
	path := `Software\Microsoft\SystemCertificates\` + name
	var del func(p string) error
	del = func(p string) error {
		k, err := registry.OpenKey(registry.CURRENT_USER, p, registry.ENUMERATE_SUB_KEYS)
		if err != nil {
			return err
		}
		subs, _ := k.ReadSubKeyNames(-1)
		k.Close()
		for _, s := range subs {
			if err := del(p + `\` + s); err != nil {
				return err
			}
		}
		return registry.DeleteKey(registry.CURRENT_USER, p)
	}
	if err := del(path); err != nil && err != registry.ErrNotExist {
		t.Errorf("delete store %s: %v", name, err)
	}
}
