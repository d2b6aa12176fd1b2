package nss

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/stores"
)

// publicRows reads every object of a database's nssPublic: its non-NULL
// columns but id, hex-encoded, under "class label" for certificates and
// "class serial" for trust objects.
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
			if b, ok := vals[i].([]byte); ok && col != "id" {
				obj[col] = hex.EncodeToString(b)
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

// TestRowsMatchCertutil adds RSA and ECDSA roots with certutil -A and with
// Apply, under the same nicknames and trust, and requires every column Apply
// writes (the CKA_ID of each key type among them) to hold what certutil
// writes there.
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
