//go:build windows

package securefs

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/windows"
)

// tempDir is a temporary folder removed at the end of the test, ignoring
// failures (t.TempDir's clean-up fails under Wine 8).
func tempDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "securefs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// TestStateDirACL: as an elevated process, MkdirState makes a state folder
// only SYSTEM and Administrators can change, CheckStateDir accepts it, and
// refuses it, naming it, once Everyone may add files to it; a configuration
// file Everyone may write is refused the same way.
func TestStateDirACL(t *testing.T) {
	if !Enforced() {
		t.Skip("the checks are made only in an elevated process")
	}
	dir := filepath.Join(tempDir(t), "state")
	if err := MkdirState(dir); err != nil {
		t.Fatalf("MkdirState: %v", err)
	}
	sd, err := windows.GetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("state folder as created: %s", sd)
	open := func(path, sddl string) {
		t.Helper()
		sd, err := windows.SecurityDescriptorFromString(sddl)
		if err != nil {
			t.Fatal(err)
		}
		dacl, _, err := sd.DACL()
		if err != nil {
			t.Fatal(err)
		}
		if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
			t.Fatalf("SetNamedSecurityInfo(%s): %v", path, err)
		}
	}
	open(dir, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;;0x2;;;WD)")
	err = CheckStateDir(dir)
	var e *Error
	if !errors.As(err, &e) || e.Path != dir || !errors.Is(err, ErrUnsafe) {
		t.Fatalf("CheckStateDir of a folder Everyone may add files to = %v, want a refusal naming %s", err, dir)
	}
	t.Logf("refused: %v (hint: %s)", err, e.Hint)
	open(dir, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)")
	if err := CheckStateDir(dir); err != nil {
		t.Fatalf("CheckStateDir after the right was taken away: %v", err)
	}

	cfg := filepath.Join(dir, "rootsync.yaml")
	if err := os.WriteFile(cfg, []byte("jobs: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(cfg, "configuration file"); err != nil {
		t.Fatalf("CheckFile of a file in the protected folder: %v", err)
	}
	open(cfg, "D:P(A;;FA;;;BA)(A;;FA;;;WD)")
	if err := CheckFile(cfg, "configuration file"); !errors.As(err, &e) || e.Path != cfg {
		t.Fatalf("CheckFile of a file Everyone may write = %v, want a refusal naming %s", err, cfg)
	}
}
