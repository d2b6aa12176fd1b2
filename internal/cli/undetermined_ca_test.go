package cli

import (
	"bytes"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores/storetest"
)

// TestUndeterminedCANotTrustedInNSS: a leaf (CA:FALSE) whose key usage
// extension is malformed cannot be parsed, so whether it is a CA cannot be
// determined; sync must not make NSS trust it (certutil would show it as
// CT,C,C), while a plain root beside it is added. --include-non-ca adds it.
func TestUndeterminedCANotTrustedInNSS(t *testing.T) {
	certutil := storetest.Tool(t, "certutil")
	dir := t.TempDir()
	t.Setenv("ROOTSYNC_STATE_DIR", filepath.Join(dir, "state"))
	root := testpki.Root("Undetermined Test Root")
	bad := root.LeafDER("bad-key-usage.test", testpki.MalformedKeyUsage())
	src := filepath.Join(dir, "src.pem")
	os.WriteFile(src, append(root.PEM(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: bad})...), 0o644)

	list := func(db string) string {
		out, err := exec.Command(certutil, "-L", "-d", "sql:"+db).CombinedOutput()
		if err != nil {
			t.Fatalf("certutil -L: %v\n%s", err, out)
		}
		return string(out)
	}
	sync := func(db string, extra ...string) string {
		var stdout, stderr bytes.Buffer
		args := append([]string{"sync", "pem:" + src, "--to", "nss:" + db}, extra...)
		if code := Main(args, &stdout, &stderr); code != ExitOK {
			t.Fatalf("rootsync %s: exit %d:\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
		}
		return stdout.String()
	}

	db := filepath.Join(dir, "nssdb")
	out := sync(db)
	if !strings.Contains(out, "added 1,") || !strings.Contains(out, "CA status cannot be determined") || !strings.Contains(out, "bad-key-usage.test") {
		t.Errorf("sync output does not add one root and name the undetermined certificate:\n%s", out)
	}
	got := list(db)
	if strings.Contains(got, "bad-key-usage.test") {
		t.Errorf("NSS trusts the certificate whose CA status is undetermined:\n%s", got)
	}
	if !strings.Contains(got, "Undetermined Test Root") {
		t.Errorf("the plain root was not added:\n%s", got)
	}

	db2 := filepath.Join(dir, "nssdb2")
	sync(db2, "--include-non-ca")
	if got := list(db2); !strings.Contains(got, "bad-key-usage.test") {
		t.Errorf("--include-non-ca did not add the certificate:\n%s", got)
	}
}
