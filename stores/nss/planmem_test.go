package nss

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// TestPlanHoldsLittlePerCertificate: a plan that adds n certificates with
// trust to an empty database holds a small record per certificate (the
// nickname, CKA_ID and trust object are made as the rows are written), not
// rows, values or index entries: a sync of 100,000 certificates into a new
// database peaked at 30 MiB of plan on top of the certificates themselves.
func TestPlanHoldsLittlePerCertificate(t *testing.T) {
	const n = 20000
	changes := make([]stores.Change, n)
	for i := range changes {
		subject := fmt.Appendf(nil, "subject of certificate %07d", i)
		c := &stores.Certificate{
			DER:        fmt.Appendf(nil, "certificate %07d", i),
			RawSubject: subject, RawIssuer: subject,
			RawSerial: fmt.Appendf(nil, "%07d", i),
			CN:        fmt.Sprintf("Plan Memory CA %07d", i),
		}
		c.Fingerprint = stores.FingerprintOf(c.DER)
		changes[i] = stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: c, Trust: stores.TrustAll()}}
	}
	s := &Store{dir: t.TempDir()}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p, err := s.plan(&state{ids: map[uint32]bool{}}, &auth{pk: []byte{1}}, nil, "key4.db", changes)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(p.writes) != n {
		t.Fatalf("%d writes planned, want %d", len(p.writes), n)
	}
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("the plan holds %d bytes per certificate", per)
	// A certRow (64 bytes) and a rowWrite (48 bytes) each, and the slice's
	// spare room.
	if per > 140 {
		t.Errorf("the plan holds %d bytes per certificate, want at most 140", per)
	}
	runtime.KeepAlive(p)
	runtime.KeepAlive(changes)
}

// TestReadHoldsLittlePerCertificate: reading a database whose certificates
// a sync already holds keeps a small record per object: no copy of a
// certificate's bytes, a trust object's issuer and serial number shared with
// its certificate (a pointer, not two slices), its attributes and their ends
// in one allocation. A sync
// that found 100,000 certificates in sync held 46 MiB of rows at its peak.
func TestReadHoldsLittlePerCertificate(t *testing.T) {
	const n = 1500
	dir := filepath.Join(t.TempDir(), "db")
	s := openDir(t, dir)
	var certs []*stores.Certificate
	var ch []stores.Change
	for i := range n {
		c := stores.MustParse(testpki.RootDER(fmt.Sprintf("Read Memory CA %04d", i)))
		certs = append(certs, c)
		ch = append(ch, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: c, Trust: stores.TrustAll()}})
	}
	mustApply(t, s, ch...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	st, _, _, err := s.(*Store).readListing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(st.certs) != n || len(st.trusts) != n {
		t.Fatalf("%d certificates and %d trust objects read, want %d each", len(st.certs), len(st.trusts), n)
	}
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("the read holds %d bytes per certificate and its trust object", per)
	if per > 330 {
		t.Errorf("the read holds %d bytes per certificate and its trust object, want at most 330", per)
	}
	runtime.KeepAlive(st)
	runtime.KeepAlive(certs)
}
