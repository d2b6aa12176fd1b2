package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores/storetest"
)

// TestNSSClientAuthUnspecified imports a root into an NSS database the way
// Chromium documents it (certutil -A -t C,,: trusted for servers, nothing
// said for clients). diff --purpose client-auth names the root and the
// certutil command that grants it, check gives that command as its fix, and
// the command, run by a shell as printed, makes both agree.
func TestNSSClientAuthUnspecified(t *testing.T) {
	certutil := storetest.Tool(t, "certutil")
	dir := t.TempDir()
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("ROOTSYNC_STATE_DIR", filepath.Join(dir, "state"))
	db := filepath.Join(dir, "nss db")
	os.MkdirAll(db, 0o700)
	root := testpki.Root("Chromium Imported Root")
	rootFile := writeFile(t, filepath.Join(dir, "root.pem"), root.PEM())
	leaf := writeFile(t, filepath.Join(dir, "alice.pem"), root.Leaf("alice").PEM())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	run("-N", "-d", "sql:"+db, "--empty-password")
	run("-A", "-n", "Chromium Imported Root", "-t", "C,,", "-i", rootFile, "-d", "sql:"+db)

	target := "pem:" + filepath.Join(dir, "client-ca.pem")
	code, out, errs := runMain("diff", "nss:"+db, "--to", target, "--purpose", "client-auth")
	if code != ExitOK {
		t.Fatalf("diff: exit %d\n%s%s", code, out, errs)
	}
	grant := regexp.MustCompile(`certutil -M -n '[^']*' -t CT,, -d sql:('[^']*'|[^\s,]+)`)
	cmd := grant.FindString(out)
	if !strings.Contains(out, "warning: 1 certificate trusted by nss:") || cmd == "" {
		t.Fatalf("diff does not name the root and the certutil command:\n%s", out)
	}

	code, out, errs = runMain("check", leaf, "--store", "nss:"+db, "--no-discover")
	if code != ExitRejected || !strings.Contains(out, "root-not-trusted") {
		t.Fatalf("check before: exit %d\n%s%s", code, out, errs)
	}
	fix := regexp.MustCompile(`(?m)^      (certutil -M .*)$`).FindStringSubmatch(out)
	if fix == nil || !strings.Contains(out, "fix: grant the root trust for client authentication in nss:") {
		t.Fatalf("check gives no certutil fix:\n%s", out)
	}
	if fix[1] != strings.TrimSpace(cmd) {
		t.Errorf("check's fix %q and diff's command %q differ", fix[1], cmd)
	}
	// The fix as printed, pasted into a shell.
	sh := exec.Command("sh", "-c", fix[1])
	sh.Env = append(os.Environ(), "PATH="+filepath.Dir(certutil)+":"+os.Getenv("PATH"))
	if b, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", fix[1], err, b)
	}
	b, _ := exec.Command(certutil, "-L", "-d", "sql:"+db).CombinedOutput()
	if !regexp.MustCompile(`Chromium Imported Root\s+CT,,`).Match(b) {
		t.Errorf("certutil -L after the fix:\n%s", b)
	}

	code, out, errs = runMain("check", leaf, "--store", "nss:"+db, "--no-discover")
	if code != ExitOK {
		t.Fatalf("check after the fix: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = runMain("diff", "nss:"+db, "--to", target, "--purpose", "client-auth")
	if code != ExitDrift || !strings.Contains(out, "+ add  Chromium Imported Root") || strings.Contains(out, "certutil") {
		t.Errorf("diff after the fix: exit %d\n%s", code, out)
	}
}
