package nss

import (
	"context"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// checkRefused requires Load (when wantLoad is set) and Apply to fail with
// sentinel, name a database file, and change nothing.
func checkRefused(t *testing.T, s stores.Store, sentinel error, loadFails bool) {
	t.Helper()
	before := storetest.Snapshot(t, s.Paths())
	var errs []error
	if loadFails {
		_, err := s.Load(context.Background())
		errs = append(errs, err)
	}
	errs = append(errs, s.Apply(context.Background(), []stores.Change{addChange(testpki.Root("Refused Root"), stores.TrustAll())}))
	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d succeeded", i)
		}
		var se *stores.Error
		if !errors.As(err, &se) || !errors.Is(err, sentinel) {
			t.Errorf("call %d: error %v (%T), want a *stores.Error wrapping %v", i, err, err, sentinel)
			continue
		}
		if !strings.Contains(err.Error(), s.(*Store).Dir()) || stores.HintOf(err) == "" {
			t.Errorf("call %d: error %q does not name the database or has no hint", i, err)
		}
	}
	storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		name      string
		make      func(t *testing.T, dir string)
		sentinel  error
		loadFails bool
	}{
		{"cert9.db is text", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, certFile), "not a database\n")
		}, stores.ErrCorrupt, true},
		{"sqlite file without nssPublic", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, certFile))
			sqlExec(t, filepath.Join(dir, certFile), "CREATE TABLE other (x)")
		}, stores.ErrCorrupt, true},
		{"key4.db is text", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, keyFile), strings.Repeat("garbage ", 1000))
		}, stores.ErrCorrupt, true},
		{"key4.db without metaData", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, keyFile))
			sqlExec(t, filepath.Join(dir, keyFile), "CREATE TABLE nssPrivate (id)")
		}, stores.ErrCorrupt, true},
		{"unknown layout without trust columns", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, certFile))
			sqlExec(t, filepath.Join(dir, certFile), "CREATE TABLE nssPublic (id PRIMARY KEY, a0, a3, a11, a81, a82, a101)")
		}, stores.ErrUnsupported, false},
		{"password check in RC2", func(t *testing.T, dir string) {
			// pbeWithSHAAnd40BitRC2-CBC, which NSS never used for the check.
			check := mustMarshal(t, struct {
				Alg  algorithmIdentifier
				Data []byte
			}{algorithmIdentifier{Algorithm: append(oidPKCS12[:len(oidPKCS12):len(oidPKCS12)], 6),
				Parameters: asn1.RawValue{FullBytes: mustMarshal(t, legacyParams{Salt: make([]byte, 20), Iterations: 1})}},
				make([]byte, 16)})
			sqlExec(t, filepath.Join(dir, keyFile), "UPDATE metaData SET item2 = ? WHERE id = 'password'", check)
		}, stores.ErrUnsupported, true},
		{"legacy cert8.db", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, certFile))
			os.Remove(filepath.Join(dir, keyFile))
			writeFile(t, filepath.Join(dir, "cert8.db"), "berkeley db")
		}, stores.ErrUnsupported, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := newCertutilDB(t)
			certutilAdd(t, dir, "Existing", "C,,", testpki.Root("Bad Input Existing"))
			c.make(t, dir)
			checkRefused(t, openDir(t, dir), c.sentinel, c.loadFails)
		})
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestLocked holds an exclusive lock on cert9.db (or key4.db) for longer than
// the busy timeout: Load and Apply fail with ErrLocked and change nothing.
func TestLocked(t *testing.T) {
	old := BusyTimeout
	BusyTimeout = 200 * time.Millisecond
	defer func() { BusyTimeout = old }()
	for _, f := range []string{certFile, keyFile} {
		t.Run(f, func(t *testing.T) {
			dir := newCertutilDB(t)
			certutilAdd(t, dir, "Existing", "C,,", testpki.Root("Locked Existing"))
			s := openDir(t, dir)
			before := storetest.Snapshot(t, s.Paths())
			holder, err := openConn(context.Background(), filepath.Join(dir, f), true)
			if err != nil {
				t.Fatal(err)
			}
			if err := holder.exec(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
				t.Fatal(err)
			}
			_, lerr := s.Load(context.Background())
			aerr := s.Apply(context.Background(), []stores.Change{addChange(testpki.Root("Locked Root"), stores.TrustAll())})
			_ = holder.exec(context.Background(), "ROLLBACK")
			holder.close()
			for i, err := range []error{lerr, aerr} {
				if !errors.Is(err, stores.ErrLocked) || !strings.Contains(err.Error(), dir) {
					t.Errorf("call %d: %v, want ErrLocked naming %s", i, err, dir)
				}
			}
			storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
			// Once the lock is gone the same Apply works.
			mustApply(t, s, addChange(testpki.Root("Locked Root"), stores.TrustAll()))
		})
	}
}

// TestNewerSchema: a database with columns NSS 3.87 does not create (as a
// newer NSS adds) still reads and writes; the new rows leave them NULL, and
// PKCS#11 3.2 trust objects are read and updated in place.
func TestNewerSchema(t *testing.T) {
	dir := newCertutilDB(t)
	certutilAdd(t, dir, "Existing", "C,,", testpki.Root("Newer Existing"))
	for _, col := range []string{"a62c", "a62d", "a62e", "a62f", "a635", "a8c", "afuture"} {
		sqlExec(t, filepath.Join(dir, certFile), "ALTER TABLE nssPublic ADD COLUMN "+col)
	}
	s := openDir(t, dir)
	// A certificate whose only trust is a PKCS#11 3.2 object, as NSS 3.114
	// writes it, signed with the database key.
	p11 := testpki.Root("Newer P11 Trust")
	pc := stores.MustParse(p11.DER)
	st, err := s.(*Store).read(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := login(st, "", stores.Secret{})
	if err != nil {
		t.Fatal(err)
	}
	sg, _ := newSigner(a.pk, a.iterations)
	sha := stores.FingerprintOf(p11.DER)
	vals := map[uint32][]byte{
		attrP11TrustServer: ulongBytes(2), attrP11TrustClient: ulongBytes(3),
		attrP11TrustEmail: ulongBytes(4), attrP11TrustCode: ulongBytes(0),
		attrHashOfCert: sha[:], attrNameHashAlg: ulongBytes(0x250),
	}
	certutilAdd(t, dir, "P11 Only", ",,", p11)
	sqlExec(t, filepath.Join(dir, certFile), "INSERT INTO nssPublic (id, a0, a1, a2, a3, a170, a81, a82, a62c, a62d, a62e, a62f, a635, a8c) VALUES (4242, ?, X'01', X'00', X'A5005A', X'01', ?, ?, ?, ?, ?, ?, ?, ?)",
		ulongBytes(ckoTrust), pc.RawIssuer, pc.RawSerial, vals[attrP11TrustServer], vals[attrP11TrustClient], vals[attrP11TrustEmail], vals[attrP11TrustCode], vals[attrHashOfCert], vals[attrNameHashAlg])
	for attr, v := range vals {
		if attr == attrP11TrustCode {
			continue // unknown: exempt, like NSS
		}
		sqlExec(t, filepath.Join(dir, keyFile), "INSERT INTO metaData (id, item1) VALUES (?, ?)", sigKey{4242, attr}.metaID(), sg.sign(4242, attr, v))
	}
	e := load1(t, s, p11)
	want := stores.Trust{}.With(stores.ServerAuth, stores.Trusted).With(stores.ClientAuth, stores.Distrusted)
	if e.Trust != want || len(e.Notes) != 0 || TrustFlags(e) != "pC,," {
		t.Errorf("PKCS#11 3.2 trust read as %v %q notes %v, want %v", e.Trust, TrustFlags(e), e.Notes, want)
	}
	// Change it: the PKCS#11 object is updated in place and a classic one added.
	e2 := *e
	e2.Trust = stores.TrustAll()
	mustApply(t, s, stores.Change{Action: stores.SetTrust, Entry: &e2, From: e.Trust}, addChange(testpki.Root("Newer Added"), stores.TrustAll()))
	got := normalise(certutilList(t, dir))
	wantList := map[string]string{"Existing": "C,,", "P11 Only": "CT,C,C", "rootsync - Newer Added": "CT,C,C"}
	if !sameMap(got, wantList) {
		t.Errorf("certutil -L: %v, want %v", got, wantList)
	}
	if l := loadList(t, s); !sameMap(l, wantList) {
		t.Errorf("Load: %v, want %v", l, wantList)
	}
	st, err = s.(*Store).read(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range st.trusts {
		if tr.id == 4242 {
			if v, _ := ulong(tr.attrs.get(attrP11TrustEmail)); v != 2 {
				t.Errorf("PKCS#11 email trust after update = %d, want 2", v)
			}
		}
	}
	c, _ := openConn(context.Background(), filepath.Join(dir, certFile), false)
	defer c.close()
	var n int
	if err := c.c.QueryRowContext(context.Background(), "SELECT count(*) FROM nssPublic WHERE afuture IS NOT NULL").Scan(&n); err != nil || n != 0 {
		t.Errorf("unknown column written: %d rows (%v)", n, err)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
