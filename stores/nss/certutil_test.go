package nss

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// tokenPrefix is what certutil -L puts before a nickname that itself holds a
// colon (rootsync avoids colons in its nicknames): the token name.
const tokenPrefix = "NSS Certificate DB:"

func normalise(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[strings.TrimPrefix(k, tokenPrefix)] = v
	}
	return out
}

// damage is a way to break a trust object's integrity protection.
type damage func(t *testing.T, dir string, trustID uint32)

func sqlExec(t *testing.T, path, q string, args ...any) {
	t.Helper()
	if ok, _ := exists(path); !ok {
		writeFile(t, path, "")
	}
	c, err := openConn(context.Background(), path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if err := c.exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func deleteSigs(t *testing.T, dir string, id uint32) {
	sqlExec(t, filepath.Join(dir, keyFile), "DELETE FROM metaData WHERE id LIKE ?", fmt.Sprintf("sig_cert_%08x_%%", id))
}

func deleteServerSig(t *testing.T, dir string, id uint32) {
	sqlExec(t, filepath.Join(dir, keyFile), "DELETE FROM metaData WHERE id = ?", sigKey{id, attrTrustServer}.metaID())
}

func flipSig(t *testing.T, dir string, id uint32) {
	// Change the last byte of the MAC of the client-auth value.
	sqlExec(t, filepath.Join(dir, keyFile),
		"UPDATE metaData SET item1 = substr(item1, 1, length(item1)-1) || X'00' WHERE id = ?", sigKey{id, attrTrustClient}.metaID())
	sqlExec(t, filepath.Join(dir, keyFile),
		"UPDATE metaData SET item1 = substr(item1, 1, length(item1)-1) || X'01' WHERE id = ? AND substr(item1, -1, 1) = X'00'", sigKey{id, attrTrustClient}.metaID())
}

func changeValue(t *testing.T, dir string, id uint32) {
	// Rewrite the server-auth value as distrust without a new signature.
	sqlExec(t, filepath.Join(dir, certFile), "UPDATE nssPublic SET ace536358 = ? WHERE id = ?", ulongBytes(trustNotTrusted), int64(id))
}

func wrongHash(t *testing.T, dir string, id uint32) {
	sqlExec(t, filepath.Join(dir, certFile), "UPDATE nssPublic SET ace5363b4 = zeroblob(20) WHERE id = ?", int64(id))
}

// trustIDOf finds the classic trust object of c in dir.
func trustIDOf(t *testing.T, dir string, c *testpki.Cert) uint32 {
	t.Helper()
	s := openDir(t, dir).(*Store)
	st, err := s.read(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	pc := stores.MustParse(c.DER)
	for _, tr := range st.trusts {
		if string(tr.issuer()) == string(pc.RawIssuer) && string(tr.serial()) == string(pc.RawSerial) {
			return tr.id
		}
	}
	t.Fatalf("no trust object for %s", c.Cert.Subject)
	return 0
}

// TestLoadMatchesCertutil adds certificates with certutil for every trust
// combination of the reference and damages some, then requires Load to
// report the nickname and trust string that certutil -L shows, and the
// trust model rootsync derives from them.
func TestLoadMatchesCertutil(t *testing.T) {
	cases := []struct {
		name     string
		trust    string
		damage   damage
		want     stores.Trust
		wantNote string
	}{
		{name: "C", trust: "C,,", want: stores.Trust{}.With(stores.ServerAuth, stores.Trusted)},
		{name: "CT,C,C", trust: "CT,C,C", want: stores.TrustAll()},
		{name: "T", trust: "T,,", want: stores.Trust{}.With(stores.ClientAuth, stores.Trusted)},
		{name: "c", trust: "c,,"},
		{name: "p,p,p", trust: "p,p,p", want: stores.DistrustAll()},
		{name: "P,c,T", trust: "P,c,T", wantNote: "trusted peer (P) for server-auth, client-auth"},
		{name: "none", trust: ",,"},
		{name: "step-up", trust: "Cg,,", want: stores.Trust{}.With(stores.ServerAuth, stores.Trusted)},
		{name: "C,C,", trust: "C,C,", want: stores.Trust{}.With(stores.ServerAuth, stores.Trusted).With(stores.Email, stores.Trusted)},
		{name: "pT", trust: "pT,,", want: stores.Trust{}.With(stores.ServerAuth, stores.Distrusted).With(stores.ClientAuth, stores.Trusted)},
		{name: "signatures deleted", trust: "CT,C,C", damage: deleteSigs, wantNote: "has no signature"},
		{name: "server signature deleted", trust: "C,,", damage: deleteServerSig, wantNote: "has no signature"},
		{name: "distrust signatures deleted", trust: "p,p,p", damage: deleteSigs, wantNote: "has no signature"},
		{name: "signature wrong", trust: "CT,C,C", damage: flipSig, wantNote: "does not verify"},
		{name: "value changed", trust: "C,,", damage: changeValue, wantNote: "does not verify"},
		{name: "hash wrong", trust: "C,,", damage: wrongHash, wantNote: "hash does not match"},
	}
	dir := newCertutilDB(t)
	for i, c := range cases {
		root := testpki.Root("Certutil Case " + c.name)
		certutilAdd(t, dir, fmt.Sprintf("case %d %s", i, c.name), c.trust, root)
		if c.damage != nil {
			c.damage(t, dir, trustIDOf(t, dir, root))
		}
	}
	want := normalise(certutilList(t, dir))
	s := openDir(t, dir)
	got := loadList(t, s)
	if !sameMap(got, want) {
		t.Errorf("Load and certutil -L differ:\n got %v\nwant %v", got, want)
	}
	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		root := testpki.Root("Certutil Case " + c.name)
		e := set.Get(stores.FingerprintOf(root.DER))
		if e == nil {
			t.Errorf("%s: not loaded", c.name)
			continue
		}
		if wantLabel := fmt.Sprintf("case %d %s", i, c.name); e.Label != wantLabel || e.Owned {
			t.Errorf("%s: label %q owned %v, want %q not owned", c.name, e.Label, e.Owned, wantLabel)
		}
		if e.Trust != c.want {
			t.Errorf("%s: trust %v, want %v (certutil shows %s)", c.name, e.Trust, c.want, want[e.Label])
		}
		notes := strings.Join(e.Notes, "; ")
		if (c.wantNote == "") != (notes == "") || !strings.Contains(notes, c.wantNote) {
			t.Errorf("%s: notes %q, want one containing %q", c.name, notes, c.wantNote)
		}
	}
}

// TestWriteEveryTrustCombination writes all 81 combinations of per-purpose
// trust natively and requires certutil -L to show for each exactly the trust
// string TrustFlags gives, and Load to read back the written trust.
func TestWriteEveryTrustCombination(t *testing.T) {
	needTool(t, "certutil")
	dir := filepath.Join(t.TempDir(), "new db")
	s := openDir(t, dir)
	levels := []stores.Level{stores.Unspecified, stores.Trusted, stores.Distrusted}
	var ch []stores.Change
	for n := 0; n < 81; n++ {
		var tr stores.Trust
		x := n
		for _, p := range stores.Purposes {
			tr = tr.With(p, levels[x%3])
			x /= 3
		}
		ch = append(ch, addChange(testpki.Root(fmt.Sprintf("Combination %02d", n)), tr))
	}
	mustApply(t, s, ch...)
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("new folder: %v, mode %v, want 0700", err, fi.Mode().Perm())
	}
	listed := normalise(certutilList(t, dir))
	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != len(ch) || len(listed) != len(ch) {
		t.Fatalf("Load has %d entries, certutil -L %d, want %d", set.Len(), len(listed), len(ch))
	}
	for _, c := range ch {
		e := set.Get(c.Entry.Cert.Fingerprint)
		if e == nil {
			t.Fatalf("%s missing", c.Entry.Cert.Subject)
		}
		if e.Trust != c.Entry.Trust {
			t.Errorf("%s: read back %v, wrote %v", e.Label, e.Trust, c.Entry.Trust)
		}
		if !e.Owned || e.Label != OwnerPrefix+c.Entry.Cert.CommonName() {
			t.Errorf("label %q owned %v", e.Label, e.Owned)
		}
		if got, want := listed[e.Label], TrustFlags(c.Entry); got != want {
			t.Errorf("%s (%v): certutil -L shows %q, TrustFlags %q", e.Label, c.Entry.Trust, got, want)
		}
		if len(e.Notes) != 0 {
			t.Errorf("%s: notes %v", e.Label, e.Notes)
		}
	}
}

// TestSchemaMatchesCertutil compares the schema of a database Apply creates
// with one certutil -N --empty-password makes.
func TestSchemaMatchesCertutil(t *testing.T) {
	ref := newCertutilDB(t)
	dir := filepath.Join(t.TempDir(), "a", "b")
	mustApply(t, openDir(t, dir), addChange(testpki.Root("Schema Root"), stores.TrustAll()))
	for _, f := range []string{certFile, keyFile} {
		want, got := describeSchema(t, filepath.Join(ref, f)), describeSchema(t, filepath.Join(dir, f))
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", f, got, want)
		}
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", f, fi.Mode().Perm(), err)
		}
	}
	// The password entry is valid for the empty password.
	s := openDir(t, dir).(*Store)
	st, err := s.read(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := checkPassword(st.check, passKey(st.globalSalt, nil)); !ok || err != nil {
		t.Errorf("password check of the new database: %v %v", ok, err)
	}
	if l := certutilList(t, dir); l["rootsync - Schema Root"] != "CT,C,C" {
		t.Errorf("certutil -L on the new database: %v", l)
	}
}

// TestVfychain proves NSS path validation uses the trust rootsync writes:
// a leaf from an added root validates for SSL server, and no longer does after
// the root is distrusted or removed.
func TestVfychain(t *testing.T) {
	needTool(t, "vfychain")
	dir := filepath.Join(t.TempDir(), "db")
	s := openDir(t, dir)
	root := testpki.Root("Vfychain Root")
	leaf := root.Leaf("localhost")
	leafFile := filepath.Join(t.TempDir(), "leaf.pem")
	if err := os.WriteFile(leafFile, leaf.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	verify := func() error {
		out, err := runErr("vfychain", "-d", "sql:"+dir, "-u", "1", "-pp", "-a", leafFile)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	mustApply(t, s, addChange(root, stores.Trust{}.With(stores.ServerAuth, stores.Trusted)))
	if err := verify(); err != nil {
		t.Fatalf("leaf of a trusted root does not validate: %v", err)
	}
	e := load1(t, s, root)
	distrust := *e
	distrust.Trust = stores.DistrustAll()
	mustApply(t, s, stores.Change{Action: stores.SetTrust, Entry: &distrust, From: e.Trust})
	if err := verify(); err == nil {
		t.Fatal("leaf validates after its root was distrusted")
	}
	trust := *e
	mustApply(t, s, stores.Change{Action: stores.SetTrust, Entry: &trust, From: stores.DistrustAll()})
	if err := verify(); err != nil {
		t.Fatalf("leaf does not validate after trust was restored: %v", err)
	}
	mustApply(t, s, stores.Change{Action: stores.Remove, Entry: load1(t, s, root)})
	if err := verify(); err == nil {
		t.Fatal("leaf validates after its root was removed")
	}
	if l := certutilList(t, dir); len(l) != 0 {
		t.Fatalf("certutil -L after removal: %v", l)
	}
	st, err := s.(*Store).read(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.certs) != 0 || len(st.trusts) != 0 || st.sigs.len() != 0 {
		t.Errorf("after removal: %d certificates, %d trust objects, %d signatures left", len(st.certs), len(st.trusts), st.sigs.len())
	}
}

func load1(t *testing.T, s stores.Store, c *testpki.Cert) *stores.Entry {
	t.Helper()
	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := set.Get(stores.FingerprintOf(c.DER))
	if e == nil {
		t.Fatalf("%s not in the store", c.Cert.Subject)
	}
	return e
}

// describeSchema renders a SQLite file's schema and the settings NSS relies on.
func describeSchema(t *testing.T, path string) string {
	t.Helper()
	c, err := openConn(context.Background(), path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	var out []string
	rows, err := c.c.QueryContext(context.Background(), "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a, b, d string
		var q *string
		if err := rows.Scan(&a, &b, &d, &q); err != nil {
			t.Fatal(err)
		}
		sql := ""
		if q != nil {
			sql = *q
		}
		out = append(out, a+" "+b+" "+d+" "+sql)
	}
	rows.Close()
	for _, p := range []string{"journal_mode", "page_size", "user_version", "auto_vacuum", "encoding"} {
		var v string
		if err := c.c.QueryRowContext(context.Background(), "PRAGMA "+p).Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, p+"="+v)
	}
	return strings.Join(out, "\n")
}
