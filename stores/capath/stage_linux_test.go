package capath

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
)

// TestNewFileModeWhateverTheUmask: the files Apply adds are 0644 also under
// a umask that takes bits of it (then each file's mode is set after the
// open), and with the usual umask no chmod is needed.
func TestNewFileModeWhateverTheUmask(t *testing.T) {
	for _, umask := range []int{0o022, 0o077, 0o000} {
		old := syscall.Umask(umask)
		dir := filepath.Join(t.TempDir(), "ca")
		os.Mkdir(dir, 0o755)
		kept := modeKept(dir, newFileMode)
		err := open(t, dir).Apply(context.Background(), adds(testpki.Root("Mode A")))
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		if want := umask&0o644 == 0; kept != want {
			t.Errorf("umask %04o: modeKept = %v, want %v", umask, kept, want)
		}
		m, _ := filepath.Glob(filepath.Join(dir, "rootsync-*.pem"))
		for _, p := range m {
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o644 {
				t.Errorf("umask %04o: %s has mode %v (%v), want 0644", umask, p, fi.Mode().Perm(), err)
			}
		}
	}
}
