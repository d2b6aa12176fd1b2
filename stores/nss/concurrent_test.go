package nss

import (
	"fmt"
	"sync"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// TestConcurrentWithCertutil interleaves rootsync writes with a certutil -A
// loop on the same database: no write may fail, and afterwards certutil -L
// shows the intended trust for every certificate (so every signature holds).
func TestConcurrentWithCertutil(t *testing.T) {
	dir := newCertutilDB(t)
	const n = 25
	var wg sync.WaitGroup
	certutilErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			pemFile := t.TempDir() + "/c.pem"
			c := testpki.Root(fmt.Sprintf("Concurrent Certutil %02d", i))
			if err := writeFileErr(pemFile, c.PEM()); err != nil {
				certutilErr <- err
				return
			}
			trust := []string{"C,,", "CT,C,C", "p,p,p"}[i%3]
			if out, err := runErr("certutil", "-A", "-d", "sql:"+dir, "-n", fmt.Sprintf("certutil %02d", i), "-t", trust, "-i", pemFile); err != nil {
				certutilErr <- fmt.Errorf("certutil -A %d: %v\n%s", i, err, out)
				return
			}
		}
	}()
	s := openDir(t, dir)
	want := map[string]string{}
	for i := 0; i < n; i++ {
		want[fmt.Sprintf("certutil %02d", i)] = []string{"C,,", "CT,C,C", "p,p,p"}[i%3]
	}
	for i := 0; i < n; i++ {
		tr := []stores.Trust{stores.TrustAll(), stores.DistrustAll(), stores.Trust{}.With(stores.ClientAuth, stores.Trusted)}[i%3]
		c := testpki.Root(fmt.Sprintf("Concurrent Rootsync %02d", i))
		if err := s.Apply(t.Context(), []stores.Change{addChange(c, tr)}); err != nil {
			t.Errorf("Apply %d: %v", i, err)
		}
		want[OwnerPrefix+c.Cert.Subject.CommonName] = []string{"CT,C,C", "p,p,p", "T,,"}[i%3]
	}
	wg.Wait()
	select {
	case err := <-certutilErr:
		t.Fatal(err)
	default:
	}
	if got := normalise(certutilList(t, dir)); !sameMap(got, want) {
		t.Errorf("certutil -L after interleaved writes:\n got %v\nwant %v", got, want)
	}
	if got := loadList(t, s); !sameMap(got, want) {
		t.Errorf("Load after interleaved writes:\n got %v\nwant %v", got, want)
	}
}

func writeFileErr(path string, b []byte) error {
	return writeFileBytes(path, b)
}
