package nss

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// publicRows reads every object of a database's nssPublic: its non-NULL
// columns but id, hex-encoded (a text value marked "text:"), under "class
// label" for certificates and "class serial" for trust objects.
func publicRows(t *testing.T, dir string) map[string]map[string]string {
	t.Helper()
	c, err := openConn(context.Background(), filepath.Join(dir, certFile), false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	rows, err := c.c.QueryContext(context.Background(), "SELECT * FROM nssPublic")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := map[string]map[string]string{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		obj := map[string]string{}
		for i, col := range cols {
			switch v := vals[i].(type) {
			case []byte:
				if col != "id" {
					obj[col] = hex.EncodeToString(v)
				}
			case string:
				obj[col] = "text:" + hex.EncodeToString([]byte(v))
			}
		}
		key := obj[column(attrClass)] + " " + obj[column(attrLabel)]
		if obj[column(attrClass)] != hex.EncodeToString(valCertificate) {
			key = obj[column(attrClass)] + " " + obj[column(attrSerial)]
		}
		out[key] = obj
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// signatureRows counts the signature rows of a database's key4.db by the
// attribute their id names, the types SQLite stores them with, and whether
// the id is spelt as NSS formats it (lower-case hex digits).
func signatureRows(t *testing.T, dir string) map[string]string {
	t.Helper()
	c, err := openConn(context.Background(), filepath.Join(dir, keyFile), false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	rows, err := c.c.QueryContext(context.Background(),
		"SELECT substr(id, 1, 9) || '........' || substr(id, 18) || ' ' || typeof(id) || ' ' || typeof(item1) || ' ' || typeof(item2) || ' ' || "+
			"(id GLOB 'sig_cert_"+strings.Repeat("[0-9a-f]", 8)+"_"+strings.Repeat("[0-9a-f]", 8)+"'), count(*) FROM metaData WHERE id LIKE 'sig%' GROUP BY 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, n string
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no signature rows", dir)
	}
	return out
}

// TestRowsMatchCertutil adds RSA and ECDSA roots with certutil -A and with
// Apply, under the same nicknames and trust, and requires every column Apply
// writes (the CKA_ID of each key type among them) to hold what certutil
// writes there, stored as the same SQLite types, and key4.db to hold as
// many signatures of each attribute, under ids of the same form.
func TestRowsMatchCertutil(t *testing.T) {
	ref := newCertutilDB(t)
	dir := filepath.Join(t.TempDir(), "db")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	var ch []stores.Change
	for i, k := range []crypto.Signer{rsaKey, p256, p384} {
		cn := []string{"Rows RSA Root", "Rows P-256 Root", "Rows P-384 Root"}[i]
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(1000 + i)), Subject: pkix.Name{CommonName: cn, Organization: []string{"Rows"}},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "c.pem")
		if err := os.WriteFile(f, stores.EncodeCertificatePEM(der), 0o600); err != nil {
			t.Fatal(err)
		}
		run(t, "certutil", "-A", "-d", "sql:"+ref, "-n", OwnerPrefix+cn, "-t", "CT,C,C", "-i", f)
		ch = append(ch, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: stores.MustParse(der), Trust: stores.TrustAll()}})
	}
	mustApply(t, openDir(t, dir), ch...)
	if w, g := signatureRows(t, ref), signatureRows(t, dir); !sameMap(w, g) {
		t.Errorf("key4.db signature rows: Apply wrote %v, certutil %v", g, w)
	}
	want, got := publicRows(t, ref), publicRows(t, dir)
	if len(got) != 2*len(ch) || len(want) != len(got) {
		t.Fatalf("certutil wrote %d objects, Apply %d, want %d each", len(want), len(got), 2*len(ch))
	}
	for key, g := range got {
		w, ok := want[key]
		if !ok {
			t.Errorf("object %s: certutil has none like it", key)
			continue
		}
		for col, v := range g {
			if w[col] != v {
				t.Errorf("object %s, column %s: Apply wrote %s, certutil %s", key, col, v, w[col])
			}
		}
		if strings.HasPrefix(key, hex.EncodeToString(valCertificate)) && g[column(attrID)] == "" {
			t.Errorf("object %s: no CKA_ID", key)
		}
	}
}

// TestParseSigIDLikeSscanf: the hand-written parser accepts exactly the ids
// the format-and-compare reading accepts, with the same key.
func TestParseSigIDLikeSscanf(t *testing.T) {
	ref := func(id string) (k sigKey, ok bool) {
		n, _ := fmt.Sscanf(id, "sig_cert_%08x_%08x", &k.id, &k.attr)
		return k, n == 2 && k.metaID() == id
	}
	ids := []string{"", "sig_cert_", "sig_cert_00000000_00000000", "sig_cert_ffffffff_ffffffff", "sig_cert_0000000g_00000000",
		"sig_cert_00000000-00000000", "sig_cert_ 0000000_00000000", "sig_cert_0x000000_00000000", "SIG_CERT_00000001_00000001"}
	for i := range 2000 {
		b := []byte(sigKey{uint32(i * 2654435761), uint32(i * 40503)}.metaID())
		b[i%len(b)] = "0123456789abcdefABCDEF_-+ x"[i%27]
		ids = append(ids, string(b), string(b[:i%len(b)]))
	}
	for _, id := range ids {
		k1, ok1 := parseSigID(id)
		k2, ok2 := ref(id)
		k3, ok3 := parseSigID([]byte(id))
		if ok1 != ok2 || (ok1 && k1 != k2) || ok3 != ok1 || k3 != k1 {
			t.Errorf("parseSigID(%q) = %v %v, want %v %v", id, k1, ok1, k2, ok2)
		}
	}
}

// TestVerifierRemembersOnlyWhatIsSafe: after a signature is checked, the
// next one that begins with the same bytes is checked by its MAC alone; a
// signature whose last bytes are not its MAC (encoding/asn1 reads a SEQUENCE
// with extra elements) is never taken that way, so a copy of the right MAC
// appended after a wrong one does not verify.
func TestVerifierRemembersOnlyWhatIsSafe(t *testing.T) {
	pk := passKey([]byte("verifier cache salt"), nil)
	sg, err := newSigner(pk, emptyPasswordIterations)
	if err != nil {
		t.Fatal(err)
	}
	val := ulongBytes(trustTrustedDelegator)
	wrongMAC := func(sig []byte) []byte {
		b := bytes.Clone(sig)
		b[len(b)-1] ^= 1
		return b
	}
	// withExtra re-encodes sig as SEQUENCE { alg, MAC, OCTET STRING extra }.
	withExtra := func(sig, extra []byte) []byte {
		var s struct {
			Alg   asn1.RawValue
			MAC   []byte
			Extra []byte
		}
		var parsed struct {
			Alg asn1.RawValue
			MAC []byte
		}
		if _, err := asn1.Unmarshal(sig, &parsed); err != nil {
			t.Fatal(err)
		}
		s.Alg, s.MAC, s.Extra = parsed.Alg, parsed.MAC, extra
		b, err := asn1.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := sg.sign(7, attrTrustServer, val)
	var goodParsed signature
	if _, err := asn1.Unmarshal(good, &goodParsed); err != nil {
		t.Fatal(err)
	}
	for _, order := range []string{"cache first", "extra first"} {
		v := newVerifier(pk)
		if order == "cache first" {
			if err := v.verify(good, 7, attrTrustServer, val); err != nil {
				t.Fatal(err)
			}
		}
		forged := withExtra(wrongMAC(good), goodParsed.MAC)
		if err := v.verify(forged, 7, attrTrustServer, val); err == nil {
			t.Errorf("%s: a wrong MAC followed by the right one verifies", order)
		}
		if err := v.verify(withExtra(good, bytes.Repeat([]byte{9}, 40)), 7, attrTrustServer, val); err != nil {
			t.Errorf("%s: a right MAC followed by extra bytes: %v", order, err)
		}
		if err := v.verify(forged, 7, attrTrustServer, val); err == nil {
			t.Errorf("%s, again: a wrong MAC followed by the right one verifies", order)
		}
		if err := v.verify(wrongMAC(good), 7, attrTrustServer, val); err == nil {
			t.Errorf("%s: a wrong MAC verifies", order)
		}
		if err := v.verify(good, 7, attrTrustServer, val); err != nil {
			t.Errorf("%s: %v", order, err)
		}
		// The remembered beginning serves signatures of other values, and
		// still tells a wrong value.
		other := sg.sign(8, attrTrustClient, val)
		if err := v.verifyParts(string(other[:len(other)-sigTail]), other[len(other)-sigTail:], 8, attrTrustClient, val); err != nil {
			t.Errorf("%s: another signature of the same write: %v", order, err)
		}
		if err := v.verifyParts(string(other[:len(other)-sigTail]), other[len(other)-sigTail:], 8, attrTrustClient, ulongBytes(trustNotTrusted)); err == nil {
			t.Errorf("%s: a signature verifies for another value", order)
		}
	}
}

// TestAttrList: a trust object's attributes read back in ascending order
// with their values, whichever of them are present and however long, and
// the bytes kept after them (a trust object's own issuer and serial number)
// read back as they were appended.
func TestAttrList(t *testing.T) {
	for mask := range 1 << len(trustAttrOrder) {
		if mask%97 != 0 && mask != 1<<len(trustAttrOrder)-1 {
			continue // a spread of the 8192 subsets
		}
		want := map[uint32][]byte{}
		for k, a := range trustAttrOrder {
			if mask&(1<<k) != 0 {
				want[a] = bytes.Repeat([]byte{byte(k + 1)}, (k*37+mask)%300)
			}
		}
		get := func(a uint32) []byte { return want[a] }
		l, buf := newAttrList(get, 5)
		if cap(buf)-len(buf) != 5 {
			t.Errorf("mask %#x: %d bytes of room after the values, want 5", mask, cap(buf)-len(buf))
		}
		if l.len() != len(want) {
			t.Errorf("mask %#x: len %d, want %d", mask, l.len(), len(want))
		}
		last := uint32(0)
		n := 0
		for a, v := range l.all() {
			if n > 0 && a <= last {
				t.Errorf("mask %#x: attribute %#x after %#x", mask, a, last)
			}
			if w, ok := want[a]; !ok || !bytes.Equal(v, w) {
				t.Errorf("mask %#x: attribute %#x reads %d bytes, want %d (listed %v)", mask, a, len(v), len(w), ok)
			}
			last, n = a, n+1
		}
		for _, a := range trustAttrOrder {
			if got := l.get(a); !bytes.Equal(got, want[a]) || (got == nil) != (want[a] == nil) {
				t.Errorf("mask %#x: get(%#x) = %d bytes, want %d", mask, a, len(got), len(want[a]))
			}
		}
		if l.get(attrLabel) != nil {
			t.Errorf("mask %#x: an attribute that is not a trust attribute reads", mask)
		}
		l.buf = append(buf, "extra"...)
		if string(l.extra()) != "extra" || l.len() != len(want) {
			t.Errorf("mask %#x: extra bytes read %q (%d attributes)", mask, l.extra(), l.len())
		}
	}
	tr := ownTrust(7, ckoNSSTrust, []byte("issuer"), []byte("serial"))
	if string(tr.issuer()) != "issuer" || string(tr.serial()) != "serial" || tr.attrs.len() != 0 {
		t.Errorf("own trust object: issuer %q, serial %q, %d attributes", tr.issuer(), tr.serial(), tr.attrs.len())
	}
	if l := (attrList{}); l.len() != 0 || l.get(attrTrustServer) != nil || len(l.extra()) != 0 {
		t.Error("an empty list reads something")
	}
}

// TestSigTable: what sigTable keeps reads back byte for byte, short
// signatures and replaced ones included.
func TestSigTable(t *testing.T) {
	var st sigTable
	want := map[sigKey][]byte{}
	for i := range 50 {
		k := sigKey{uint32(i % 7), uint32(i % 5)}
		der := append(bytes.Repeat([]byte{byte(i % 3)}, i%40), byte(i))
		st.set(k, der)
		want[k] = der
	}
	st.done()
	st.set(sigKey{99, 1}, []byte{})
	want[sigKey{99, 1}] = []byte{}
	if st.len() != len(want) {
		t.Errorf("len %d, want %d", st.len(), len(want))
	}
	for k, w := range want {
		if got, ok := st.get(k); !ok || !bytes.Equal(got, w) {
			t.Errorf("%v: got %x %v, want %x", k, got, ok, w)
		}
		n := 0
		st.forID(k.id, func(k2 sigKey, v []byte) {
			n++
			if !bytes.Equal(v, want[k2]) {
				t.Errorf("forID: %v: %x, want %x", k2, v, want[k2])
			}
		})
		if n == 0 {
			t.Errorf("forID(%d) saw nothing", k.id)
		}
	}
	if _, ok := st.get(sigKey{1000, 1}); ok {
		t.Error("a signature never set is found")
	}
}

// TestReadSharesCertificatesInUse: reading a database whose certificates are
// in use (a sync's source holds them) keeps no second copy of their DER, and
// Load returns those very Certificates; the trust read is the same.
// Its trust objects point at their certificate's issuer and serial number
// instead of copies.
func TestReadSharesCertificatesInUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	s := openDir(t, dir)
	c1 := stores.MustParse(testpki.RootDER("Shared Read One"))
	c2 := stores.MustParse(testpki.RootDER("Shared Read Two"))
	mustApply(t, s, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: c1, Trust: stores.TrustAll()}},
		stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: c2, Trust: stores.DistrustAll()}})
	st, err := s.(*Store).read(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st.certs {
		c := map[string]*stores.Certificate{string(c1.DER): c1, string(c2.DER): c2}[string(r.der())]
		if c == nil || r.cert != c || r.cols != nil || &r.der()[0] != &c.DER[0] || &r.issuer()[0] != &c.RawIssuer[0] || &r.subject()[0] != &c.RawSubject[0] {
			t.Errorf("row %d does not share its certificate's bytes", r.id)
		}
	}
	if len(st.trusts) != 2 {
		t.Fatalf("%d trust objects read, want 2", len(st.trusts))
	}
	for _, tr := range st.trusts {
		c := map[string]*stores.Certificate{string(c1.RawSerial): c1, string(c2.RawSerial): c2}[string(tr.serial())]
		if c == nil || &tr.issuer()[0] != &c.RawIssuer[0] || &tr.serial()[0] != &c.RawSerial[0] {
			t.Errorf("trust object %d does not share its certificate's issuer and serial number", tr.id)
		}
	}
	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for c, tr := range map[*stores.Certificate]stores.Trust{c1: stores.TrustAll(), c2: stores.DistrustAll()} {
		e := set.Get(c.Fingerprint)
		if e == nil || e.Cert != c || e.Trust != tr || len(e.Notes) != 0 {
			t.Errorf("%s: %+v", c.Subject, e)
		}
	}
	runtime.KeepAlive(c1)
	runtime.KeepAlive(c2)
}

// TestRowMap: rows under one key come back in the order they were added,
// filtered, through one row, many and back.
func TestRowMap(t *testing.T) {
	m := newRowMap[*int]()
	r := make([]*int, 5)
	for i := range r {
		r[i] = new(int)
		*r[i] = i
	}
	all := func(*int) bool { return true }
	for _, x := range r {
		m.add(7, x)
	}
	m.add(8, r[0])
	if got := m.find(7, all); len(got) != 5 || got[0] != r[0] || got[4] != r[4] {
		t.Fatalf("find(7) = %v", got)
	}
	if got := m.find(7, func(x *int) bool { return *x%2 == 1 }); len(got) != 2 || got[0] != r[1] || got[1] != r[3] {
		t.Fatalf("find(7, odd) = %v", got)
	}
	for _, x := range r[:4] {
		m.remove(7, x)
	}
	if got := m.find(7, all); len(got) != 1 || got[0] != r[4] || len(m.many) != 0 {
		t.Fatalf("after removals: %v, %d keys with many rows", got, len(m.many))
	}
	m.remove(7, r[0]) // not there any more: no effect
	m.remove(7, r[4])
	if got := m.find(7, all); got != nil {
		t.Fatalf("after removing all: %v", got)
	}
	if got := m.find(8, func(*int) bool { return false }); got != nil {
		t.Fatalf("find(8, none) = %v", got)
	}
	if got := m.find(8, all); len(got) != 1 || got[0] != r[0] {
		t.Fatalf("find(8) = %v", got)
	}
}

// TestWriteRowsStopsWhenCancelled: the rows are written without the
// context, which is looked at between rows: a cancelled write stops with
// context.Canceled and its transaction leaves the database as it was.
func TestWriteRowsStopsWhenCancelled(t *testing.T) {
	dir := newCertutilDB(t)
	s := openDir(t, dir).(*Store)
	var ch []stores.Change
	for i := range 3 {
		ch = append(ch, addChange(testpki.Root(fmt.Sprintf("Cancelled Root %d", i)), stores.TrustAll()))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cc, err := openConn(ctx, s.certPath(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.close()
	kc, err := openConn(ctx, s.keyPath(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer kc.close()
	pr, err := s.prepare(ctx, cc, kc, ch)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*conn{cc, kc} {
		if err := c.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := writeRows(ctx, cc, kc, pr); !errors.Is(err, context.Canceled) {
		t.Fatalf("writeRows after cancel: %v", err)
	}
	for _, c := range []*conn{kc, cc} {
		if err := c.exec(context.Background(), "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
	}
	if l := certutilList(t, dir); len(l) != 0 {
		t.Errorf("certutil -L after a cancelled write: %v", l)
	}
	if err := writeRows(context.Background(), cc, kc, pr); err != nil {
		t.Fatalf("writeRows: %v", err)
	}
	if l := certutilList(t, dir); len(l) != 3 {
		t.Errorf("certutil -L after the write: %v", l)
	}
}

// TestReadKeepsColumnsThatDiffer: a certificate object whose issuer column
// is not its certificate's keeps the column as read (the value still shares
// the Certificate's DER).
func TestReadKeepsColumnsThatDiffer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	s := openDir(t, dir)
	c := stores.MustParse(testpki.RootDER("Differing Column Root"))
	mustApply(t, s, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: c, Trust: stores.TrustAll()}})
	sqlExec(t, filepath.Join(dir, certFile), "UPDATE nssPublic SET a81 = X'3000' WHERE a0 = ?", valCertificate)
	st, err := s.(*Store).read(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.certs) != 1 {
		t.Fatalf("%d certificate objects", len(st.certs))
	}
	r := st.certs[0]
	if r.cert != c || r.cols == nil || !bytes.Equal(r.issuer(), []byte{0x30, 0x00}) || &r.der()[0] != &c.DER[0] ||
		!bytes.Equal(r.serial(), c.RawSerial) || !bytes.Equal(r.subject(), c.RawSubject) {
		t.Errorf("row: cert %p (want %p), issuer %x, serial %x", r.cert, c, r.issuer(), r.serial())
	}
	// A write finds the object by its value all the same: adding the
	// certificate again adds nothing, removing it removes that object.
	mustApply(t, s, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: c, Trust: stores.TrustAll()}})
	if st, err = s.(*Store).read(context.Background(), false); err != nil || len(st.certs) != 1 {
		t.Fatalf("after adding it again: %v, %d certificate objects", err, len(st.certs))
	}
	mustApply(t, s, stores.Change{Action: stores.Remove, Entry: &stores.Entry{Cert: c}})
	if st, err = s.(*Store).read(context.Background(), false); err != nil || len(st.certs) != 0 {
		t.Fatalf("after removing it: %v, %d certificate objects", err, len(st.certs))
	}
	runtime.KeepAlive(c)
}
