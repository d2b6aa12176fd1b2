package nss

import (
	"bytes"
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

// TestSignaturesCheckedAsRead: reading for a listing checks the signatures
// of a password-protected database as key4.db is read. Those rootsync wrote
// (one key per write) are checked then, all but the first, which is kept;
// certutil's (a key of 10,000 iterations each) are checked while the read's
// PBKDF2 allowance lasts and the rest kept for afterwards; the entries are
// those certutil lists, with verified trust.
func TestSignaturesCheckedAsRead(t *testing.T) {
	dir, pwFile := newPasswordDB(t)
	s := openDir(t, dir, "password-file", pwFile).(*Store)
	roots := []*testpki.Cert{testpki.Root("As Read One"), testpki.Root("As Read Two"), testpki.Root("As Read Three")}
	var ch []stores.Change
	for _, r := range roots {
		ch = append(ch, addChange(r, stores.TrustAll()))
	}
	mustApply(t, s, ch...)
	st, a, v, err := s.readListing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if a.pk == nil || v == nil {
		t.Fatalf("no key: %s", a.unverified)
	}
	certutils := testpki.Root("Protected Existing").Cert
	ownKept := 0
	for _, tr := range st.trusts {
		need := 0
		for a, val := range tr.attrs.all() {
			if authenticated[a] && !exemptFromCheck(a, val) {
				need++
			}
		}
		kept := 0
		st.sigs.forID(tr.id, func(sigKey, []byte) { kept++ })
		checked := bitsSet(tr.verified)
		if checked+kept != need {
			t.Errorf("trust object %d: %d signatures checked as read and %d kept, want %d in all", tr.id, checked, kept, need)
		}
		if !bytes.Equal(tr.issuer(), certutils.RawIssuer) {
			ownKept += kept
		} else if want := readWork / passwordIterations; checked != want {
			// certutil's: a key of its own per signature.
			t.Errorf("certutil's trust object: %d signatures checked as read, want %d", checked, want)
		}
	}
	// rootsync's write: its one key is derived when a second signature
	// shows it is shared; only the first is kept.
	if ownKept != 1 {
		t.Errorf("%d of rootsync's signatures kept, want 1", ownKept)
	}
	es, bad, err := entries(st, a, v)
	if err != nil || bad != 0 || len(es) != len(roots)+1 {
		t.Fatalf("entries: %d, %d ignored, %v", len(es), bad, err)
	}
	want := normalise(certutilList(t, dir, "-f", pwFile))
	for _, e := range es {
		if len(e.Notes) != 0 || want[e.Label] != TrustFlags(e) {
			t.Errorf("%s: %s, notes %v; certutil -L: %s", e.Label, TrustFlags(e), e.Notes, want[e.Label])
		}
	}
}

func bitsSet(x uint16) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}
