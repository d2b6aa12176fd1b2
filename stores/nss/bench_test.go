package nss

import (
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/stores"
)

const systemBundle = "/etc/ssl/certs/ca-certificates.crt"

// systemRoots reads the distribution's bundle (about 140 roots) and writes
// each root to its own PEM file for certutil.
func systemRoots(b *testing.B) (certs []*stores.Certificate, files []string) {
	b.Helper()
	data, err := os.ReadFile(systemBundle)
	if err != nil {
		b.Skipf("no system bundle: %v", err)
	}
	dir := b.TempDir()
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			break
		}
		c, err := stores.ParseCertificate(blk.Bytes)
		if err != nil {
			continue
		}
		f := filepath.Join(dir, fmt.Sprintf("root-%03d.pem", len(files)))
		if err := os.WriteFile(f, pem.EncodeToMemory(blk), 0o600); err != nil {
			b.Fatal(err)
		}
		certs, files = append(certs, c), append(files, f)
	}
	return certs, files
}

func emptyDB(b *testing.B) string {
	dir := filepath.Join(b.TempDir(), "db")
	if err := os.Mkdir(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	run(b, "certutil", "-N", "--empty-password", "-d", "sql:"+dir)
	return dir
}

// BenchmarkAddSystemRoots adds every root of the system bundle to an empty
// database: natively in one Apply, with one certutil -A per root (what
// mkcert-style tools do), and with one certutil -B batch.
func BenchmarkAddSystemRoots(b *testing.B) {
	needTool(b, "certutil")
	certs, files := systemRoots(b)
	b.Logf("%d roots", len(certs))
	b.Run("native", func(b *testing.B) {
		var ch []stores.Change
		for _, c := range certs {
			ch = append(ch, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: c, Trust: stores.Trust{}.With(stores.ServerAuth, stores.Trusted)}})
		}
		for b.Loop() {
			b.StopTimer()
			s := openDir(b, emptyDB(b))
			b.StartTimer()
			if err := s.Apply(context.Background(), ch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(lastLockHeld.Load())/1e6, "ms-locked")
	})
	b.Run("certutil-A-loop", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := emptyDB(b)
			b.StartTimer()
			for i, f := range files {
				run(b, "certutil", "-A", "-d", "sql:"+dir, "-n", fmt.Sprintf("root-%03d", i), "-t", "C,,", "-i", f)
			}
		}
	})
	b.Run("certutil-B-batch", func(b *testing.B) {
		var batch strings.Builder
		for i, f := range files {
			fmt.Fprintf(&batch, "-A -n root-%03d -t C,, -i %s\n", i, f)
		}
		bf := filepath.Join(b.TempDir(), "batch")
		if err := os.WriteFile(bf, []byte(batch.String()), 0o600); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			b.StopTimer()
			dir := emptyDB(b)
			b.StartTimer()
			run(b, "certutil", "-B", "-d", "sql:"+dir, "-i", bf)
		}
	})
}

// BenchmarkReadAll reads every certificate of a database holding the system
// roots: natively, and through certutil (certutil -L, then one
// certutil -L -n NICK -a per certificate).
func BenchmarkReadAll(b *testing.B) {
	needTool(b, "certutil")
	certs, _ := systemRoots(b)
	var ch []stores.Change
	for _, c := range certs {
		ch = append(ch, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: c, Trust: stores.Trust{}.With(stores.ServerAuth, stores.Trusted)}})
	}
	dir := emptyDB(b)
	s := openDir(b, dir)
	if err := s.Apply(context.Background(), ch); err != nil {
		b.Fatal(err)
	}
	b.Run("native", func(b *testing.B) {
		for b.Loop() {
			set, err := s.Load(context.Background())
			if err != nil || set.Len() != len(certs) {
				b.Fatalf("Load: %v (%d entries)", err, set.Len())
			}
		}
	})
	b.Run("certutil", func(b *testing.B) {
		for b.Loop() {
			list := certutilList(b, dir)
			n := 0
			for nick := range list {
				out := run(b, "certutil", "-L", "-d", "sql:"+dir, "-n", nick, "-a")
				n += strings.Count(out, "BEGIN CERTIFICATE")
			}
			if n < len(list) {
				b.Fatalf("certutil gave %d certificates for %d nicknames", n, len(list))
			}
		}
	})
}
