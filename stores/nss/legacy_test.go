package nss

import (
	"context"
	"crypto/rand"
	"encoding/asn1"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// The stages of a database first made in NSS's old Berkeley DB format
// (cert8.db, key3.db), as NSS moves it to the SQL format.

// newDBMDB makes an old-format database with certutil, protected by password
// ("" for none), holding a trusted and a distrusted root and, with withUser,
// a user certificate (certutil -S: its key in key3.db) nicknamed "Legacy
// User". It returns the folder and a password file (one empty line for no
// password).
func newDBMDB(t *testing.T, password string, withUser bool) (dir, pwFile string) {
	t.Helper()
	needTool(t, "certutil")
	dir = filepath.Join(t.TempDir(), "nssdb")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	pwFile = filepath.Join(t.TempDir(), "pw")
	writeFile(t, pwFile, password+"\n")
	if password == "" {
		run(t, "certutil", "-N", "-d", "dbm:"+dir, "--empty-password")
	} else {
		run(t, "certutil", "-N", "-d", "dbm:"+dir, "-f", pwFile)
	}
	for _, r := range []struct{ nick, trust string }{{"Legacy Trusted", "C,,"}, {"Legacy Distrusted", "p,p,p"}} {
		f := filepath.Join(t.TempDir(), "c.pem")
		writeFile(t, f, string(testpki.Root(r.nick).PEM()))
		run(t, "certutil", "-A", "-d", "dbm:"+dir, "-n", r.nick, "-t", r.trust, "-i", f, "-f", pwFile)
	}
	if withUser {
		noise := filepath.Join(t.TempDir(), "noise")
		b := make([]byte, 2048)
		rand.Read(b)
		if err := writeFileBytes(noise, b); err != nil {
			t.Fatal(err)
		}
		run(t, "certutil", "-S", "-d", "dbm:"+dir, "-n", "Legacy User", "-s", "CN=Legacy User", "-x",
			"-t", "u,u,u", "-k", "rsa", "-g", "2048", "-z", noise, "-f", pwFile)
	}
	for _, f := range []string{legacyCertFile, legacyKeyFile} {
		if ok, _ := exists(filepath.Join(dir, f)); !ok {
			t.Fatalf("certutil -d dbm: made no %s", f)
		}
	}
	return dir, pwFile
}

// convert has certutil add a root through sql:, which converts the database.
func convert(t *testing.T, dir, pwFile string) {
	t.Helper()
	certutilAdd(t, dir, "Added After Conversion", "C,,", testpki.Root("Added After Conversion"), "-f", pwFile)
	if ok, _ := exists(filepath.Join(dir, certFile)); !ok {
		t.Fatal("certutil -A -d sql: did not convert the database")
	}
}

// checkAlgorithm requires the password check value of dir to use oid: the
// proof that the test exercises the scheme it claims to.
func checkAlgorithm(t *testing.T, dir string, oid string) {
	t.Helper()
	st, err := openDir(t, dir).(*Store).read(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	var outer struct {
		Alg  algorithmIdentifier
		Data []byte
	}
	if _, err := asn1.Unmarshal(st.check, &outer); err != nil {
		t.Fatal(err)
	}
	if got := outer.Alg.Algorithm.String(); got != oid {
		t.Fatalf("password check algorithm %s, want %s", got, oid)
	}
}

var nssDraft3DES = sub(oidNSSPBE, 3)

func TestLegacyOnlyRefused(t *testing.T) {
	dir, _ := newDBMDB(t, "", false)
	s := openDir(t, dir)
	checkRefused(t, s, stores.ErrUnsupported, true)
	_, err := s.Load(context.Background())
	for _, want := range []string{"cert8.db", "old Berkeley DB format", "only the SQL format"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if h := stores.HintOf(err); !strings.Contains(h, "certutil -W -d sql:"+dir) {
		t.Errorf("hint %q does not say how to convert", h)
	}
	if ok, _ := exists(filepath.Join(dir, certFile)); ok {
		t.Error("a refused write made cert9.db")
	}
}

// TestLegacyConversionUnfinished: certutil -A -d sql: on a password-protected
// old database without the password fails half-way: cert9.db and key4.db
// exist, but NSS still reads cert8.db until someone logs in.
func TestLegacyConversionUnfinished(t *testing.T) {
	dir, pwFile := newDBMDB(t, "legacy pw1", false)
	f := filepath.Join(t.TempDir(), "c.pem")
	writeFile(t, f, string(testpki.Root("Not Added").PEM()))
	if out, err := runErr("certutil", "-A", "-d", "sql:"+dir, "-n", "x", "-t", ",,", "-i", f); err == nil {
		t.Fatalf("certutil -A without the password succeeded:\n%s", out)
	}
	if ok, _ := exists(filepath.Join(dir, keyFile)); !ok {
		t.Skip("this NSS leaves no half-converted database")
	}
	// NSS still shows the old database's certificates.
	if got := normalise(certutilList(t, dir, "-f", pwFile)); got["Legacy Trusted"] != "C,," {
		t.Fatalf("certutil -L: %v", got)
	}
	s := openDir(t, dir)
	checkRefused(t, s, stores.ErrUnsupported, true)
	_, err := s.Load(context.Background())
	if !strings.Contains(err.Error(), "has not finished") || !strings.Contains(stores.HintOf(err), "certutil -W") {
		t.Errorf("error %q hint %q", err, stores.HintOf(err))
	}
	// The hint works: after certutil -W the database reads as NSS reads it.
	run(t, "certutil", "-W", "-d", "sql:"+dir, "-f", pwFile, "-@", pwFile)
	got := loadList(t, openDir(t, dir, "password-file", pwFile))
	if want := normalise(certutilList(t, dir, "-f", pwFile)); !sameMap(got, want) || len(want) != 2 {
		t.Errorf("after certutil -W: Load %v, certutil -L %v", got, want)
	}
}

func TestLegacyConvertedEmptyPassword(t *testing.T) {
	dir, pwFile := newDBMDB(t, "", false)
	convert(t, dir, pwFile)
	checkAlgorithm(t, dir, nssDraft3DES)
	s := openDir(t, dir)
	want := map[string]string{"Legacy Trusted": "C,,", "Legacy Distrusted": "p,p,p", "Added After Conversion": "C,,"}
	if got := normalise(certutilList(t, dir)); !sameMap(got, want) {
		t.Fatalf("certutil -L: %v, want %v", got, want)
	}
	if got := loadList(t, s); !sameMap(got, want) {
		t.Errorf("Load: %v, certutil -L %v", got, want)
	}
	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range set.Entries() {
		if len(e.Notes) != 0 {
			t.Errorf("%s: notes %v (trust must verify with the empty password)", e.Label, e.Notes)
		}
	}
	writeAndVerify(t, dir, s, nil, nil)
}

func TestLegacyConvertedPassword(t *testing.T) {
	const password = "legacy pw1"
	dir, pwFile := newDBMDB(t, password, true)
	convert(t, dir, pwFile)
	checkAlgorithm(t, dir, nssDraft3DES)
	want := map[string]string{"Legacy Trusted": "C,,", "Legacy Distrusted": "p,p,p", "Added After Conversion": "C,,", "Legacy User": "u,u,u"}
	if got := normalise(certutilList(t, dir, "-f", pwFile)); !sameMap(got, want) {
		t.Fatalf("certutil -L: %v, want %v", got, want)
	}
	trusted := testpki.Root("Legacy Trusted")

	t.Run("no password: read, unverified", func(t *testing.T) {
		s := openDir(t, dir)
		if got := loadList(t, s); !sameMap(got, want) {
			t.Errorf("Load: %v, certutil -L %v", got, want)
		}
		if e := load1(t, s, trusted); !strings.Contains(strings.Join(e.Notes, ";"), "not verified") {
			t.Errorf("notes %v, want an unverified note", e.Notes)
		}
	})
	t.Run("wrong password refused", func(t *testing.T) {
		t.Setenv("NSS_LEGACY_PW", password+"x")
		checkRefused(t, openDir(t, dir, "password-env", "NSS_LEGACY_PW"), stores.ErrBadPassword, true)
	})
	t.Run("password: verified", func(t *testing.T) {
		s := openDir(t, dir, "password-file", pwFile)
		set, err := s.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range set.Entries() {
			if len(e.Notes) != 0 {
				t.Errorf("%s: notes %v", e.Label, e.Notes)
			}
			// The key NSS moved from key3.db makes it a user certificate.
			if e.PrivateKey != (e.Label == "Legacy User") {
				t.Errorf("%s: PrivateKey %v", e.Label, e.PrivateKey)
			}
		}
		writeAndVerify(t, dir, s, []string{"-f", pwFile}, map[string]string{"Legacy User": "u,u,u"})
		checkAlgorithm(t, dir, nssDraft3DES) // rootsync never rewrites it
	})
}

// writeAndVerify adds a root and distrusts one through rootsync, then
// requires certutil -L (with the password, when there is one: NSS checks the
// signatures only after login) to show both with the right trust, and
// vfychain to validate a leaf of the new root.
func writeAndVerify(t *testing.T, dir string, s stores.Store, pwArgs []string, others map[string]string) {
	t.Helper()
	added := testpki.Root("Legacy Added By Rootsync")
	mustApply(t, s, addChange(added, stores.TrustAll()))
	e := load1(t, s, testpki.Root("Added After Conversion"))
	d := *e
	d.Trust = stores.DistrustAll()
	mustApply(t, s, stores.Change{Action: stores.SetTrust, Entry: &d, From: e.Trust})
	want := map[string]string{
		"Legacy Trusted": "C,,", "Legacy Distrusted": "p,p,p", "Added After Conversion": "p,p,p",
		OwnerPrefix + "Legacy Added By Rootsync": "CT,C,C",
	}
	for k, v := range others {
		want[k] = v
	}
	if got := normalise(certutilList(t, dir, pwArgs...)); !sameMap(got, want) {
		t.Errorf("certutil -L after rootsync's writes: %v, want %v", got, want)
	}
	if got := loadList(t, s); !sameMap(got, want) {
		t.Errorf("Load after rootsync's writes: %v, want %v", got, want)
	}
	storetest.Tool(t, "vfychain")
	vfychain := func(c *testpki.Cert) (string, error) {
		leaf := filepath.Join(t.TempDir(), "leaf.pem")
		writeFile(t, leaf, string(c.Leaf("localhost").PEM()))
		args := []string{"-d", "sql:" + dir, "-u", "1", "-pp"}
		if len(pwArgs) > 0 {
			args = append(args, "-W", pwArgs[1])
		}
		return runErr("vfychain", append(args, "-a", leaf)...)
	}
	if out, err := vfychain(added); err != nil {
		t.Errorf("vfychain refuses a leaf of the root rootsync added: %v\n%s", err, out)
	}
	// And a leaf of the root rootsync distrusted no longer validates.
	if out, err := vfychain(testpki.Root("Added After Conversion")); err == nil {
		t.Errorf("vfychain accepts a leaf of a distrusted root:\n%s", out)
	}
}
