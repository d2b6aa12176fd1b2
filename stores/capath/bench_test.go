package capath

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rootsync/rootsync/stores"
)

// BenchmarkSync compares, in one run, rootsync's Apply of the system bundle
// into an empty folder and a no-op re-sync with openssl rehash over a folder
// holding the same certificates one per file.
func BenchmarkSync(b *testing.B) {
	ders := systemBundle(b)
	var ch []stores.Change
	for _, der := range ders {
		ch = append(ch, addDER(der))
	}
	ctx := context.Background()
	b.Run("apply-into-empty", func(b *testing.B) {
		base := b.TempDir()
		for i := 0; b.Loop(); i++ {
			s := open(b, filepath.Join(base, fmt.Sprint(i)))
			if err := s.Apply(ctx, ch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("noop-resync", func(b *testing.B) {
		s := open(b, filepath.Join(b.TempDir(), "certs"))
		if err := s.Apply(ctx, ch); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			set, err := s.Load(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if set.Len() != len(ders) {
				b.Fatalf("Load: %d entries, want %d", set.Len(), len(ders))
			}
			if err := s.Apply(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("openssl-rehash", func(b *testing.B) {
		bin := needOpenSSL(b)
		base := b.TempDir()
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			dir := filepath.Join(base, fmt.Sprint(i))
			if err := os.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			for j, der := range ders {
				p := filepath.Join(dir, fmt.Sprintf("cert-%03d.pem", j))
				if err := os.WriteFile(p, stores.EncodeCertificatePEM(der), 0o644); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			if out, err := exec.Command(bin, "rehash", dir).CombinedOutput(); err != nil {
				b.Fatalf("openssl rehash: %v\n%s", err, out)
			}
		}
	})
}
