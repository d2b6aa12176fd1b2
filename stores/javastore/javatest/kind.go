package javatest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// Kind is one spec kind of the Java stores (p12 or jks) for the tests that
// both run: the conformance suite with keytool as the foreign writer, and the
// checks of Open.
type Kind struct {
	Name      string // spec kind: "p12" or "jks"
	StoreType string // keytool -storetype: "PKCS12" or "JKS"
	Ext       string // file name extension for new stores
	Open      func(stores.Spec, stores.OpenOptions) (stores.Store, error)
}

// OpenFile opens FILE as this kind, its password given through a file.
func (k Kind) OpenFile(t *testing.T, file, password string) stores.Store {
	t.Helper()
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := stores.Spec{Kind: k.Name, Location: file, Options: map[string]string{"password-file": pwFile}}
	s, err := k.Open(spec, stores.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Conformance runs storetest.Run, adding foreign entries with the real keytool.
func (k Kind) Conformance(t *testing.T, password string) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, dir string) stores.Store {
			Require(t, "keytool")
			return k.OpenFile(t, filepath.Join(dir, "trust."+k.Ext), password)
		},
		AddForeign: func(t *testing.T, s stores.Store, c *stores.Certificate) {
			alias := "Foreign " + strings.ReplaceAll(c.CommonName(), " ", "-")
			ImportCert(t, s.Paths()[0], k.StoreType, password, alias, c.DER)
		},
		Corrupt: func(t *testing.T, s stores.Store) {
			p := s.Paths()[0]
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b[:len(b)/2], 0o644); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// OpenRefuses checks that Open refuses specs of other kinds, given as
// KIND:LOCATION. (Misspelt options are refused by the kind's ParseSpec, for
// every kind alike.)
func (k Kind) OpenRefuses(t *testing.T, otherKinds ...string) {
	for _, spec := range otherKinds {
		kind, loc, _ := strings.Cut(spec, ":")
		if _, err := k.Open(stores.Spec{Kind: kind, Location: loc}, stores.OpenOptions{}); err == nil {
			t.Errorf("%s.Open(%s) succeeded", k.Name, spec)
		}
	}
}
