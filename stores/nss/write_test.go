package nss

import (
	"context"
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// TestForeignChangedInPlace: a certificate certutil added under its own
// nickname keeps that nickname and its single certificate and trust objects
// when rootsync changes its trust or "adds" it again.
func TestForeignChangedInPlace(t *testing.T) {
	dir := newCertutilDB(t)
	root := testpki.Root("In Place Root")
	certutilAdd(t, dir, "Admin Root", "C,,", root)
	s := openDir(t, dir)
	e := load1(t, s, root)
	d := *e
	d.Trust = stores.DistrustAll()
	mustApply(t, s, stores.Change{Action: stores.SetTrust, Entry: &d, From: e.Trust})
	if got := normalise(certutilList(t, dir)); !sameMap(got, map[string]string{"Admin Root": "p,p,p"}) {
		t.Errorf("after SetTrust: %v", got)
	}
	mustApply(t, s, addChange(root, stores.TrustAll()))
	if got := normalise(certutilList(t, dir)); !sameMap(got, map[string]string{"Admin Root": "CT,C,C"}) {
		t.Errorf("after Add of the same certificate: %v", got)
	}
	st, err := s.(*Store).read(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.certs) != 1 || len(st.trusts) != 1 || st.sigs.len() != 7 {
		t.Errorf("%d certificates, %d trust objects, %d signatures; want 1, 1, 7", len(st.certs), len(st.trusts), st.sigs.len())
	}
	if e := load1(t, s, root); e.Owned || e.Label != "Admin Root" {
		t.Errorf("foreign entry now label %q owned %v", e.Label, e.Owned)
	}
}

// TestNicknamesPerSubject: two subjects with the same CN get distinct
// nicknames; a second certificate of the same subject shares the nickname,
// as NSS wants.
func TestNicknamesPerSubject(t *testing.T) {
	needTool(t, "certutil")
	dir := filepath.Join(t.TempDir(), "db")
	s := openDir(t, dir)
	a := testpki.Root("Same CN", testpki.Subject(pkix.Name{CommonName: "Same CN", Organization: []string{"One"}}))
	b := testpki.Root("Same CN 2", testpki.Subject(pkix.Name{CommonName: "Same CN", Organization: []string{"Two"}}))
	a2 := testpki.Root("Same CN 3", testpki.Subject(pkix.Name{CommonName: "Same CN", Organization: []string{"One"}}), testpki.Serial(77))
	mustApply(t, s, addChange(a, stores.TrustAll()), addChange(b, stores.TrustAll()))
	mustApply(t, s, addChange(a2, stores.Trust{}.With(stores.ServerAuth, stores.Trusted)))
	labels := map[*testpki.Cert]string{a: "rootsync - Same CN", b: "rootsync - Same CN (2)", a2: "rootsync - Same CN"}
	for c, want := range labels {
		if e := load1(t, s, c); e.Label != want || !e.Owned {
			t.Errorf("%v: label %q owned %v, want %q", c.Cert.Subject, e.Label, e.Owned, want)
		}
	}
	got := normalise(certutilList(t, dir))
	if _, ok := got["rootsync - Same CN (2)"]; !ok || len(got) != 2 {
		t.Errorf("certutil -L: %v", got)
	}
}

// TestFailedCreateLeavesNothing: when the first write into a new folder
// fails, the folder and the database files it made are gone again.
func TestFailedCreateLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "x", "nssdb")
	s := openDir(t, dir)
	good := stores.MustParse(testpki.Root("Create Good").DER)
	bad := *good
	bad.RawIssuer, bad.RawSerial = nil, nil
	err := s.Apply(context.Background(), []stores.Change{
		{Action: stores.Add, Entry: &stores.Entry{Cert: good, Trust: stores.TrustAll()}},
		{Action: stores.Add, Entry: &stores.Entry{Cert: &bad, Trust: stores.TrustAll()}},
	})
	if err == nil {
		t.Fatal("Apply with an unusable certificate succeeded")
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// TestOneWritePlansOnItsOwnRows: the changes of one Apply see the rows the
// same Apply adds: a second certificate of a subject added just before
// shares its nickname, a subject with a common name taken gets " (2)", and
// a change of trust right after the addition is the trust NSS sees, in the
// one trust object certutil finds.
func TestOneWritePlansOnItsOwnRows(t *testing.T) {
	needTool(t, "certutil")
	dir := filepath.Join(t.TempDir(), "db")
	s := openDir(t, dir)
	a := testpki.Root("Own Rows", testpki.Subject(pkix.Name{CommonName: "Own Rows", Organization: []string{"One"}}))
	b := testpki.Root("Own Rows 2", testpki.Subject(pkix.Name{CommonName: "Own Rows", Organization: []string{"Two"}}))
	a2 := testpki.Root("Own Rows 3", testpki.Subject(pkix.Name{CommonName: "Own Rows", Organization: []string{"One"}}), testpki.Serial(78))
	distrust := stores.Entry{Cert: stores.MustParse(b.DER), Trust: stores.DistrustAll()}
	mustApply(t, s, addChange(a, stores.TrustAll()), addChange(b, stores.TrustAll()), addChange(a2, stores.TrustAll()),
		stores.Change{Action: stores.SetTrust, Entry: &distrust, From: stores.TrustAll()})
	labels := map[*testpki.Cert]string{a: "rootsync - Own Rows", b: "rootsync - Own Rows (2)", a2: "rootsync - Own Rows"}
	for c, want := range labels {
		if e := load1(t, s, c); e.Label != want || !e.Owned {
			t.Errorf("%v: label %q owned %v, want %q", c.Cert.Subject, e.Label, e.Owned, want)
		}
	}
	if e := load1(t, s, b); e.Trust != stores.DistrustAll() {
		t.Errorf("trust after the SetTrust in the same Apply: %v, want %v", e.Trust, stores.DistrustAll())
	}
	if e := load1(t, s, a); e.Trust != stores.TrustAll() {
		t.Errorf("trust of a: %v", e.Trust)
	}
	got := normalise(certutilList(t, dir))
	if f := got["rootsync - Own Rows (2)"]; f != "p,p,p" {
		t.Errorf("certutil -L shows %q for the distrusted root, want p,p,p (all: %v)", f, got)
	}
	c, err := openConn(context.Background(), filepath.Join(dir, certFile), false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	var certs, trusts int
	if err := c.c.QueryRowContext(context.Background(), "SELECT count(*) FILTER (WHERE a0 = ?), count(*) FILTER (WHERE a0 = ?) FROM nssPublic",
		valCertificate, valNSSTrust).Scan(&certs, &trusts); err != nil {
		t.Fatal(err)
	}
	if certs != 3 || trusts != 3 {
		t.Errorf("nssPublic holds %d certificates and %d trust objects, want 3 and 3", certs, trusts)
	}
}
