package nss

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

func TestConformance(t *testing.T) {
	needTool(t, "certutil")
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, dir string) stores.Store {
			return openDir(t, filepath.Join(dir, "nssdb"))
		},
		AddForeign: func(t *testing.T, s stores.Store, c *stores.Certificate) {
			// As an administrator would: certutil -A -t C,, (a server-auth
			// anchor), after certutil -N on a folder without a database.
			dir := s.(*Store).Dir()
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if ok, _ := exists(filepath.Join(dir, certFile)); !ok {
				run(t, "certutil", "-N", "--empty-password", "-d", "sql:"+dir)
			}
			certutilAdd(t, dir, "Foreign "+c.CommonName(), "C,,", &testpki.Cert{DER: c.DER})
		},
		Corrupt: func(t *testing.T, s stores.Store) {
			if err := os.WriteFile(filepath.Join(s.(*Store).Dir(), certFile), []byte("this is not a database\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		},
	})
}
