package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// TestNginxAfterUnloadableRoot: the source bundle holds, next to the root
// that issued the client certificate, a CA whose subject is a VisibleString,
// which OpenSSL cannot load (one such block makes nginx refuse the whole
// ssl_client_certificate file). A sync into nginx's client CA file leaves it
// out with a warning and exits 0; nginx then starts with the file and accepts
// the client certificate.
func TestNginxAfterUnloadableRoot(t *testing.T) {
	dir := t.TempDir()
	private := testpki.Root("E2E Loadable Client Root")
	client := private.Leaf("bob")
	clientPEM := writeFile(t, filepath.Join(dir, "bob.pem"), string(client.PEM()))
	clientKey := writeFile(t, filepath.Join(dir, "bob.key"), string(client.KeyPEM()))
	cn := "E2E Visible Root"
	atv := append([]byte{0x30, byte(7 + len(cn)), 0x06, 0x03, 0x55, 0x04, 0x03, 0x1a, byte(len(cn))}, cn...)
	set := append([]byte{0x31, byte(len(atv))}, atv...)
	visible := testpki.RootDER(cn, testpki.RawSubject(append([]byte{0x30, byte(len(set))}, set...)))
	src := writeFile(t, filepath.Join(dir, "src.pem"), string(stores.EncodeCertificatePEM(visible))+string(private.PEM()))
	clientCA := writeFile(t, filepath.Join(dir, "client-ca.pem"), string(testpki.Root("E2E Other CA").PEM()))

	s := newSetup(t)
	r := rootsync(t, s.env, "sync", "pem:"+src, "--to", "pem:"+clientCA, "--state-dir", s.state)
	if r.code != 0 {
		t.Fatalf("rootsync sync: %v", r)
	}
	out := r.stdout + r.stderr
	if !strings.Contains(out, "OpenSSL cannot load") || !strings.Contains(out, stores.FingerprintOf(visible).Short()) || !strings.Contains(out, "added 1,") {
		t.Errorf("sync does not add one root and name the one OpenSSL cannot load:\n%v", r)
	}
	srv := startNginx(t, clientCA)
	if code, body := srv.get(t, clientPEM, clientKey); code != 200 || body != "hello, client\n" {
		log, _ := os.ReadFile(filepath.Join(srv.prefix, "error.log"))
		t.Fatalf("nginx with the synced client CA file: HTTP %d %q; want 200\nnginx log:\n%s", code, body, log)
	}
}
