package nss

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

const testPassword = "s3cret pass"

// newPasswordDB makes a database protected by testPassword with certutil,
// holding one root with C,, added by certutil. It returns the folder and a
// password file.
func newPasswordDB(t *testing.T) (dir, pwFile string) {
	t.Helper()
	needTool(t, "certutil")
	dir = filepath.Join(t.TempDir(), "nssdb")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	pwFile = filepath.Join(t.TempDir(), "pw")
	writeFile(t, pwFile, testPassword+"\n")
	run(t, "certutil", "-N", "-d", "sql:"+dir, "-f", pwFile)
	certutilAdd(t, dir, "Protected Existing", "C,,", testpki.Root("Protected Existing"), "-f", pwFile)
	return dir, pwFile
}

func TestPasswordProtected(t *testing.T) {
	dir, pwFile := newPasswordDB(t)
	existing := testpki.Root("Protected Existing")
	serverOnly := stores.Trust{}.With(stores.ServerAuth, stores.Trusted)

	t.Run("no password: read unverified", func(t *testing.T) {
		e := load1(t, openDir(t, dir), existing)
		if e.Trust != serverOnly || !strings.Contains(strings.Join(e.Notes, ";"), "not verified") {
			t.Errorf("trust %v notes %v, want %v with an unverified note", e.Trust, e.Notes, serverOnly)
		}
	})
	t.Run("password file: verified", func(t *testing.T) {
		e := load1(t, openDir(t, dir, "password-file", pwFile), existing)
		if e.Trust != serverOnly || len(e.Notes) != 0 {
			t.Errorf("trust %v notes %v, want %v without notes", e.Trust, e.Notes, serverOnly)
		}
	})
	t.Run("password from OpenOptions env", func(t *testing.T) {
		t.Setenv("NSS_TEST_PW", testPassword)
		s, err := Open(stores.Spec{Kind: "nss", Location: dir}, stores.OpenOptions{Password: stores.Secret{Env: "NSS_TEST_PW"}})
		if err != nil {
			t.Fatal(err)
		}
		if e := load1(t, s, existing); len(e.Notes) != 0 {
			t.Errorf("notes %v", e.Notes)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Setenv("NSS_TEST_PW", "wrong")
		checkRefused(t, openDir(t, dir, "password-env", "NSS_TEST_PW"), stores.ErrBadPassword, true)
	})
	t.Run("no password: write refused", func(t *testing.T) {
		s := openDir(t, dir)
		before := storetest.Snapshot(t, s.Paths())
		err := s.Apply(context.Background(), []stores.Change{addChange(testpki.Root("Protected New"), stores.TrustAll())})
		if !errors.Is(err, stores.ErrBadPassword) || stores.HintOf(err) == "" {
			t.Errorf("Apply without password: %v", err)
		}
		storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
	})
	t.Run("write with password", func(t *testing.T) {
		t.Setenv("NSS_TEST_PW", testPassword)
		s := openDir(t, dir, "password-env", "NSS_TEST_PW")
		added := testpki.Root("Protected New")
		mustApply(t, s, addChange(added, stores.TrustAll()))
		e := load1(t, s, existing)
		d := *e
		d.Trust = stores.DistrustAll()
		mustApply(t, s, stores.Change{Action: stores.SetTrust, Entry: &d, From: e.Trust})
		want := map[string]string{"Protected Existing": "p,p,p", "rootsync - Protected New": "CT,C,C"}
		if got := normalise(certutilList(t, dir, "-f", pwFile)); !sameMap(got, want) {
			t.Errorf("certutil -L: %v, want %v", got, want)
		}
		// Load with the password verifies every signature written.
		for _, c := range []*testpki.Cert{added, existing} {
			if e := load1(t, s, c); len(e.Notes) != 0 {
				t.Errorf("%s: notes %v", e.Label, e.Notes)
			}
		}
		// And a leaf of the new root validates with the password given.
		needTool(t, "vfychain")
		leaf := filepath.Join(t.TempDir(), "leaf.pem")
		writeFile(t, leaf, string(added.Leaf("localhost").PEM()))
		run(t, "vfychain", "-d", "sql:"+dir, "-W", pwFile, "-u", "1", "-pp", "-a", leaf)
	})
}

// TestNewDatabaseGetsPassword: a database rootsync creates for a store with a
// password gets that password, as certutil -N -f would give it.
func TestNewDatabaseGetsPassword(t *testing.T) {
	needTool(t, "certutil")
	dir := filepath.Join(t.TempDir(), "new nssdb")
	pwFile := filepath.Join(t.TempDir(), "pw")
	writeFile(t, pwFile, testPassword+"\n")
	wrongFile := filepath.Join(t.TempDir(), "wrong")
	writeFile(t, wrongFile, "not the password\n")
	emptyFile := filepath.Join(t.TempDir(), "empty")
	writeFile(t, emptyFile, "\n")
	s := openDir(t, dir, "password-file", pwFile)
	root := testpki.Root("New Protected Root")
	mustApply(t, s, addChange(root, stores.TrustAll()))

	// NSS: the password logs in, and the trust written verifies after login.
	want := map[string]string{OwnerPrefix + "New Protected Root": "CT,C,C"}
	if got := normalise(certutilList(t, dir, "-f", pwFile)); !sameMap(got, want) {
		t.Errorf("certutil -L -f PWFILE: %v, want %v", got, want)
	}
	// A key operation needs exactly that password.
	for _, c := range []struct {
		file string
		ok   bool
	}{{pwFile, true}, {wrongFile, false}, {emptyFile, false}} {
		out, _ := runErr("certutil", "-K", "-d", "sql:"+dir, "-f", c.file)
		if bad := strings.Contains(out, "SEC_ERROR_BAD_PASSWORD"); bad == c.ok {
			t.Errorf("certutil -K with %s: %s", filepath.Base(c.file), out)
		}
	}

	// rootsync reads it back with the password, every signature verified.
	if e := load1(t, s, root); e.Trust != stores.TrustAll() || len(e.Notes) != 0 {
		t.Errorf("with the password: trust %v notes %v", e.Trust, e.Notes)
	}
	// Without it the trust is unverified and a write is refused.
	s0 := openDir(t, dir)
	if e := load1(t, s0, root); !strings.Contains(strings.Join(e.Notes, ";"), "not verified") {
		t.Errorf("without the password: notes %v, want an unverified note", e.Notes)
	}
	before := storetest.Snapshot(t, s0.Paths())
	err := s0.Apply(context.Background(), []stores.Change{addChange(testpki.Root("Refused Without Password"), stores.TrustAll())})
	if !errors.Is(err, stores.ErrBadPassword) || stores.HintOf(err) == "" {
		t.Errorf("Apply without the password: %v (hint %q)", err, stores.HintOf(err))
	}
	storetest.Compare(t, before, storetest.Snapshot(t, s0.Paths()))
	t.Setenv("NSS_TEST_PW", "not the password")
	checkRefused(t, openDir(t, dir, "password-env", "NSS_TEST_PW"), stores.ErrBadPassword, true)
}

// TestNewDatabaseUnreadablePassword: a password source that cannot be read
// makes nothing.
func TestNewDatabaseUnreadablePassword(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never made")
	s := openDir(t, dir, "password-env", "NSS_TEST_UNSET_PW")
	err := s.Apply(context.Background(), []stores.Change{addChange(testpki.Root("Never Added"), stores.TrustAll())})
	if !errors.Is(err, stores.ErrBadPassword) || !strings.Contains(stores.HintOf(err), "$NSS_TEST_UNSET_PW") {
		t.Errorf("Apply: %v (hint %q)", err, stores.HintOf(err))
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the folder was made: %v", err)
	}
}
