package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores/storetest"
)

// TestChromiumTrustsRootAfterSync is the browser story for real: headless
// Chromium refuses a page whose certificate chains to a private root, and
// loads it after rootsync syncs that root into $HOME/.pki/nssdb.
func TestChromiumTrustsRootAfterSync(t *testing.T) {
	chromium := storetest.Tool(t, "chromium")
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o700)
	t.Setenv("HOME", home)
	t.Setenv("ROOTSYNC_STATE_DIR", filepath.Join(dir, "state"))

	root := testpki.Root("Browser Story Root")
	leaf := root.Leaf("localhost")
	rootFile := filepath.Join(dir, "root.pem")
	os.WriteFile(rootFile, root.PEM(), 0o644)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "<html><body><p id=marker>served-by-rootsync-test</p></body></html>")
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.DER}, PrivateKey: leaf.Key}}},
		ErrorLog:  log.New(io.Discard, "", 0), // Chromium's refused handshakes are expected
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	url := fmt.Sprintf("https://localhost:%d/", ln.Addr().(*net.TCPAddr).Port)

	load := func(name string) (dom, stderr string) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
			"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir="+filepath.Join(dir, "profile-"+name), "--dump-dom", url)
		cmd.Env = append(os.Environ(), "HOME="+home)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil && ctx.Err() != nil {
			t.Fatalf("chromium timed out: %s", errb.String())
		}
		return out.String(), errb.String()
	}

	dom, chromeLog := load("before")
	if strings.Contains(dom, "served-by-rootsync-test") {
		t.Fatal("Chromium loaded the page before the root was trusted")
	}
	if !strings.Contains(chromeLog, "ERR_CERT_AUTHORITY_INVALID") {
		t.Fatalf("before the sync Chromium did not report ERR_CERT_AUTHORITY_INVALID:\n%s", chromeLog)
	}

	var stdout, stderr bytes.Buffer
	nssdb := filepath.Join(home, ".pki", "nssdb")
	if code := Main([]string{"sync", "pem:" + rootFile, "--to", "nss:" + nssdb}, &stdout, &stderr); code != ExitOK {
		t.Fatalf("rootsync sync exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "added 1") {
		t.Errorf("sync output: %s", stdout.String())
	}

	dom, chromeLog = load("after")
	if !strings.Contains(dom, "served-by-rootsync-test") {
		t.Fatalf("after the sync Chromium still did not load the page:\n%s\n%s", dom, chromeLog)
	}
}
