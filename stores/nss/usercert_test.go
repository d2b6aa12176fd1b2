package nss

import (
	"context"
	"crypto/rand"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rsplan "github.com/rootsync/rootsync/internal/plan"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// newUserCertDB makes a database holding two user certificates (private key
// in key4.db) and an ordinary root: one self-signed with certutil -S and
// trusted as a CA (CTu,Cu,Cu), one imported with its key by pk12util
// (u,u,u).
func newUserCertDB(t *testing.T) (dir string, root *testpki.Cert) {
	t.Helper()
	dir = newCertutilDB(t)
	noise := filepath.Join(t.TempDir(), "noise")
	b := make([]byte, 2048)
	rand.Read(b)
	if err := writeFileBytes(noise, b); err != nil {
		t.Fatal(err)
	}
	run(t, "certutil", "-S", "-d", "sql:"+dir, "-n", "Self Signed User", "-s", "CN=Self Signed User", "-x",
		"-t", "CTu,Cu,Cu", "-k", "ec", "-q", "nistp256", "-z", noise, "-v", "12")

	openssl := storetest.Tool(t, "openssl")
	storetest.Tool(t, "pk12util")
	work := t.TempDir()
	key, cert, p12 := filepath.Join(work, "k.pem"), filepath.Join(work, "c.pem"), filepath.Join(work, "u.p12")
	for _, args := range [][]string{
		{"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
			"-subj", "/CN=Imported User", "-days", "30"},
		{"pkcs12", "-export", "-inkey", key, "-in", cert, "-name", "Imported User", "-out", p12, "-passout", "pass:p12pass"},
	} {
		if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	p12pw := filepath.Join(work, "p12pw")
	writeFile(t, p12pw, "p12pass\n")
	run(t, "pk12util", "-i", p12, "-d", "sql:"+dir, "-w", p12pw)

	root = testpki.Root("Ordinary Root Beside Users")
	certutilAdd(t, dir, "Ordinary Root", "C,,", root)
	return dir, root
}

func TestUserCertificates(t *testing.T) {
	dir, root := newUserCertDB(t)
	want := map[string]string{"Self Signed User": "CTu,Cu,Cu", "Imported User": "u,u,u", "Ordinary Root": "C,,"}
	if got := normalise(certutilList(t, dir)); !sameMap(got, want) {
		t.Fatalf("certutil -L: %v, want %v", got, want)
	}
	s := openDir(t, dir)
	if got := loadList(t, s); !sameMap(got, want) {
		t.Errorf("Load: %v, certutil -L %v", got, want)
	}
	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]*stores.Entry{}
	for _, e := range set.Entries() {
		if e.PrivateKey != (e.Label != "Ordinary Root") {
			t.Errorf("%s: PrivateKey %v", e.Label, e.PrivateKey)
		}
		if e.PrivateKey {
			users[e.Label] = e
		}
	}
	selfSigned := users["Self Signed User"]
	if selfSigned == nil || selfSigned.Trust != stores.TrustAll() {
		t.Fatalf("self-signed user certificate: %+v", selfSigned)
	}

	opts := rsplan.Options{Mode: rsplan.Mirror, Now: time.Now()}
	caps := s.Capabilities()
	t.Run("never copied as a root", func(t *testing.T) {
		// Merge consumes its sources: the database read again, so that set
		// stays the target the next cases plan against.
		src, err := s.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		d := rsplan.Merge([]rsplan.Source{{Name: "nss:" + dir, Set: src}}, opts)
		if d.Set.Get(selfSigned.Cert.Fingerprint) != nil {
			t.Error("the trusted user certificate is in the desired state")
		}
		if d.Set.Get(stores.FingerprintOf(root.DER)) == nil {
			t.Error("the ordinary root is not in the desired state")
		}
		if !hasWarning(d.Warnings, rsplan.CodeUserCert, selfSigned.Cert.Fingerprint) {
			t.Errorf("no user-cert warning: %+v", d.Warnings)
		}
	})
	t.Run("never removed or re-trusted", func(t *testing.T) {
		// The sources distrust the self-signed user certificate and hold
		// nothing else: mirror mode would remove or distrust everything.
		src := stores.NewSet()
		src.Add(&stores.Entry{Cert: selfSigned.Cert, Trust: stores.DistrustAll()})
		d := rsplan.Merge([]rsplan.Source{{Name: "pem:src", Set: src}}, opts)
		p := rsplan.For("nss:"+dir, d, set, caps, opts)
		for _, c := range p.Changes {
			if c.Entry.PrivateKey || users[c.Entry.Label] != nil {
				t.Errorf("planned %v of user certificate %s", c.Action, c.Entry.Label)
			}
		}
		if p.Count(stores.Remove) != 1 {
			t.Errorf("changes %+v, want only the ordinary root removed", p.Changes)
		}
		if !hasWarning(p.Warnings, rsplan.CodeUserCert, selfSigned.Cert.Fingerprint) {
			t.Errorf("no user-cert warning: %+v", p.Warnings)
		}
		mustApply(t, s, p.Changes...)
		delete(want, "Ordinary Root")
		if got := normalise(certutilList(t, dir)); !sameMap(got, want) {
			t.Errorf("certutil -L after a mirror sync: %v, want %v", got, want)
		}
	})
	t.Run("Apply refuses to change one", func(t *testing.T) {
		before := storetest.Snapshot(t, s.Paths())
		for _, ch := range []stores.Change{
			{Action: stores.Remove, Entry: selfSigned},
			{Action: stores.SetTrust, Entry: &stores.Entry{Cert: selfSigned.Cert, Trust: stores.DistrustAll()}, From: selfSigned.Trust},
		} {
			err := s.Apply(context.Background(), []stores.Change{ch})
			if !errors.Is(err, stores.ErrUnsupported) || !strings.Contains(err.Error(), "user certificate") || stores.HintOf(err) == "" {
				t.Errorf("%v: %v", ch.Action, err)
			}
		}
		storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
	})
}

func hasWarning(ws []rsplan.Warning, code rsplan.Code, fp stores.Fingerprint) bool {
	for _, w := range ws {
		if w.Code != code {
			continue
		}
		for _, c := range w.Certs {
			if c.Fingerprint == fp {
				return true
			}
		}
	}
	return false
}
