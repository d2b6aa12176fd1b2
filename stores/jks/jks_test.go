package jks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/javastore/javatest"
	"github.com/rootsync/rootsync/stores/jks"
	"github.com/rootsync/rootsync/stores/storetest"
)

const password = "conformance-pw"

func open(t *testing.T, file, password string) stores.Store {
	t.Helper()
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec, err := stores.ParseSpec("jks:" + file + "?password-file=" + pwFile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jks.Open(spec, stores.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func harness(pw string) storetest.Harness {
	return storetest.Harness{
		New: func(t *testing.T, dir string) stores.Store {
			javatest.Require(t, "keytool")
			return open(t, filepath.Join(dir, "trust.jks"), pw)
		},
		AddForeign: func(t *testing.T, s stores.Store, c *testpki.Cert) {
			alias := "Foreign " + strings.ReplaceAll(c.Cert.Subject.CommonName, " ", "-")
			javatest.ImportCert(t, s.Paths()[0], "JKS", pw, alias, c)
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
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, harness(password))
}

func TestOpenRejectsOtherKinds(t *testing.T) {
	for _, spec := range []string{"p12:/x/a.p12", "pem:/x/a.pem"} {
		s, _ := stores.ParseSpec(spec)
		if _, err := jks.Open(s, stores.OpenOptions{}); err == nil {
			t.Errorf("Open(%s) succeeded", spec)
		}
	}
	s, _ := stores.ParseSpec("jks:/x/a.jks?pasword-env=X")
	if _, err := jks.Open(s, stores.OpenOptions{}); err == nil || !strings.Contains(err.Error(), "pasword-env") {
		t.Errorf("Open with a misspelt option: %v, want an error naming it", err)
	}
}
