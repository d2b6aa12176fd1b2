package stores

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/securefs"
)

func TestSecretFileMustBeRoots(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the check is made as root")
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("pw\n"), 0o600)
	if v, err := (Secret{File: good}).Value(); err != nil || string(v) != "pw" {
		t.Fatalf("root's file: %q, %v", v, err)
	}
	for name, spoil := range map[string]func(string){
		"another user's": func(p string) { os.Chown(p, 65534, 65534) },
		"group-writable": func(p string) { os.Chmod(p, 0o660) },
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("pw\n"), 0o600)
		spoil(p)
		_, err := (Secret{File: p}).Value()
		if !errors.Is(err, securefs.ErrUnsafe) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "password file") {
			t.Errorf("%s password file: %v", name, err)
		}
	}
}
