package cli

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores/storetest"
)

// TestNSSUserCertificateAndPassword runs the command line against NSS
// databases: a mirror sync into a database holding a user certificate
// (certutil -S, flags u) keeps it and says so, list shows it with its flags,
// and a database that sync creates for a store with a password file gets
// that password.
func TestNSSUserCertificateAndPassword(t *testing.T) {
	certutil := storetest.Tool(t, "certutil")
	dir := t.TempDir()
	t.Setenv("ROOTSYNC_STATE_DIR", filepath.Join(dir, "state"))
	root := testpki.Root("CLI User Test Root")
	src := filepath.Join(dir, "src.pem")
	os.WriteFile(src, root.PEM(), 0o644)
	rootsync := func(want int, args ...string) string {
		var stdout, stderr bytes.Buffer
		if code := Main(args, &stdout, &stderr); code != want {
			t.Fatalf("rootsync %s: exit %d, want %d:\n%s%s", strings.Join(args, " "), code, want, stdout.String(), stderr.String())
		}
		return stdout.String() + stderr.String()
	}
	certutilRun := func(args ...string) string {
		out, err := exec.Command(certutil, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	db := filepath.Join(dir, "userdb")
	os.Mkdir(db, 0o700)
	certutilRun("-N", "-d", "sql:"+db, "--empty-password")
	noise := filepath.Join(dir, "noise")
	b := make([]byte, 2048)
	rand.Read(b)
	os.WriteFile(noise, b, 0o600)
	certutilRun("-S", "-d", "sql:"+db, "-n", "My Own Cert", "-s", "CN=My Own Cert", "-x", "-t", "CTu,Cu,Cu",
		"-k", "ec", "-q", "nistp256", "-z", noise)

	out := rootsync(ExitOK, "sync", "pem:"+src, "--to", "nss:"+db, "--mode", "mirror")
	if !strings.Contains(out, "private key") || !strings.Contains(out, "My Own Cert") {
		t.Errorf("sync output does not name the user certificate it keeps:\n%s", out)
	}
	listed := certutilRun("-L", "-d", "sql:"+db)
	if !regexpMatch(`My Own Cert\s+CTu,Cu,Cu`, listed) || !regexpMatch(`rootsync - CLI User Test Root\s+CT,C,C`, listed) {
		t.Errorf("certutil -L after a mirror sync:\n%s", listed)
	}
	var doc struct {
		Stores []struct {
			Certificates []struct {
				Label      string `json:"label"`
				Flags      string `json:"flags"`
				PrivateKey bool   `json:"private_key"`
			} `json:"certificates"`
		} `json:"stores"`
	}
	if err := json.Unmarshal([]byte(rootsync(ExitOK, "list", "nss:"+db, "--output", "json")), &doc); err != nil || len(doc.Stores) != 1 {
		t.Fatalf("list --output json of one store: %v, %d stores", err, len(doc.Stores))
	}
	found := false
	for _, c := range doc.Stores[0].Certificates {
		if c.Label == "My Own Cert" {
			found = c.Flags == "CTu,Cu,Cu" && c.PrivateKey
		}
	}
	if !found {
		t.Errorf("list does not show the user certificate with flags CTu,Cu,Cu and private_key: %+v", doc.Stores[0].Certificates)
	}

	// A new database gets the store's password.
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("cli secret 1\n"), 0o600)
	newDB := filepath.Join(dir, "newdb")
	rootsync(ExitOK, "sync", "pem:"+src, "--to", "nss:"+newDB, "--password-file", pw)
	wrong := filepath.Join(dir, "wrong")
	os.WriteFile(wrong, []byte("not it\n"), 0o600)
	if out, err := exec.Command(certutil, "-K", "-d", "sql:"+newDB, "-f", wrong).CombinedOutput(); !strings.Contains(string(out), "SEC_ERROR_BAD_PASSWORD") {
		t.Errorf("certutil -K with a wrong password: %v\n%s", err, out)
	}
	if !regexpMatch(`rootsync - CLI User Test Root\s+CT,C,C`, certutilRun("-L", "-d", "sql:"+newDB, "-f", pw)) {
		t.Error("certutil -L with the password does not show the trusted root")
	}
	rootsync(ExitOK, "diff", "pem:"+src, "--to", "nss:"+newDB, "--password-file", pw)
}

func regexpMatch(expr, s string) bool { return regexp.MustCompile(expr).MatchString(s) }
