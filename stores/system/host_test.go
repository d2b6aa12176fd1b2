package system

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/rootsync/rootsync/stores"
)

// TestHostSystemStore: Load of `system` on this machine gives exactly the
// certificates of the bundle OpenSSL reads, and Go's own system pool agrees.
func TestHostSystemStore(t *testing.T) {
	sp, _ := Kind().ParseSpec("system")
	st, err := Open(sp, stores.OpenOptions{})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	s := st.(*Store)
	if s.layout.Family != "debian" {
		t.Skipf("the host is %s; this test knows Debian's bundle", s.layout.Family)
	}
	bundle := "/etc/ssl/certs/ca-certificates.crt"
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	b, err := stores.DecodePEM(data, stores.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[stores.Fingerprint]bool{}
	for _, blk := range b.Certificates() {
		want[blk.Cert.Fingerprint] = true
	}
	if len(want) == 0 {
		t.Fatalf("%s holds no certificate", bundle)
	}
	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Load holds every certificate of the bundle, plus any certificate put
	// into /etc/ssl/certs by hand (Debian's ssl-cert package puts its
	// self-signed snakeoil certificate there), which Go and OpenSSL's default
	// paths trust too.
	var subjects []string
	extra := 0
	for _, e := range set.Entries() {
		subjects = append(subjects, string(e.Cert.RawSubject))
		if e.Trust != stores.TrustAll() {
			t.Errorf("%s: trust %v, want all", e.Cert.Subject, e.Trust)
		}
		if want[e.Cert.Fingerprint] {
			continue
		}
		extra++
		if filepath.Dir(e.Label) != "/etc/ssl/certs" || len(e.Notes) == 0 {
			t.Errorf("%s is not in %s, and is not a noted file of /etc/ssl/certs (label %s, notes %q)", e.Cert.Subject, bundle, e.Label, e.Notes)
		}
		t.Logf("not in the bundle but trusted through the folder: %s (%s)", e.Label, e.Cert.Subject)
	}
	for fp := range want {
		if set.Get(fp) == nil {
			t.Errorf("certificate %s of %s missing from Load", fp.Short(), bundle)
		}
	}
	t.Logf("%s: %d certificates; Load: %d (%d only in /etc/ssl/certs)", bundle, len(want), set.Len(), extra)

	// Go reads the same bundle (and /etc/ssl/certs, which links to the same
	// files) unless SSL_CERT_FILE or SSL_CERT_DIR point elsewhere; empty
	// values mean the defaults. Nothing earlier in this test binary has asked
	// for the system pool, which Go loads once.
	t.Setenv("SSL_CERT_FILE", "")
	t.Setenv("SSL_CERT_DIR", "")
	pool, err := x509.SystemCertPool()
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 on Linux SystemCertPool reads the bundle into the pool itself, so Subjects lists exactly the roots to compare
	goSubjects := pool.Subjects()
	var got []string
	for _, s := range goSubjects {
		got = append(got, string(s))
	}
	sort.Strings(got)
	sort.Strings(subjects)
	if len(got) != len(subjects) {
		t.Fatalf("Go's system pool holds %d certificates, Load %d", len(got), len(subjects))
	}
	for i := range got {
		if got[i] != subjects[i] {
			t.Fatalf("subject %d differs: Go %q, Load %q", i, got[i], subjects[i])
		}
	}
}

// BenchmarkLoadHost measures Load of this machine's system store.
func BenchmarkLoadHost(b *testing.B) {
	sp, _ := Kind().ParseSpec("system")
	st, err := Open(sp, stores.OpenOptions{})
	if err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, err := st.Load(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
