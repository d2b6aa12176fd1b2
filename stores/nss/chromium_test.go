package nss

import (
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
	"github.com/rootsync/rootsync/stores"
)

// pageMarker is what the test page says; it shows in --dump-dom only when
// Chromium accepted the server's certificate.
const pageMarker = "rootsync-nss-chromium-ok"

// ChromiumLoad runs headless Chromium with HOME set to home (so it uses
// home/.pki/nssdb) on url and returns what --dump-dom printed and Chromium's
// log. It gives up after timeout.
func chromiumLoad(t *testing.T, home, url string, timeout time.Duration) (dom, log string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(t.TempDir(), "profile"), "--dump-dom", url)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.WaitDelay = 5 * time.Second
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("chromium did not finish within %v\n%s", timeout, errb.String())
	}
	if err != nil {
		t.Logf("chromium: %v", err)
	}
	return out.String(), errb.String()
}

// TestChromiumTrustsAddedRoot proves the browser side: headless Chromium
// refuses a server whose root is unknown, and loads the page once Apply has
// added that root to $HOME/.pki/nssdb (a database Apply creates).
func TestChromiumTrustsAddedRoot(t *testing.T) {
	needTool(t, "chromium")
	root := testpki.Root("Chromium Test Root")
	leaf := root.Leaf("localhost")
	cert, err := tls.X509KeyPair(leaf.PEM(), leaf.KeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "<html><body><p id=m>%s</p></body></html>", pageMarker)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ErrorLog:  log.New(io.Discard, "", 0),
	}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()
	url := "https://" + ln.Addr().String() + "/"

	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	dom, clog := chromiumLoad(t, home, url, 60*time.Second)
	if strings.Contains(dom, pageMarker) {
		t.Fatalf("page loaded before the root was trusted:\n%s", dom)
	}
	// Headless Chromium reports the failure on stderr:
	// "Page load failed: net::ERR_CERT_AUTHORITY_INVALID".
	if !strings.Contains(clog, "Page load failed: net::ERR_CERT_AUTHORITY_INVALID") {
		t.Fatalf("before the root was added, no ERR_CERT_AUTHORITY_INVALID page load failure:\ndom: %s\nlog: %s", dom, clog)
	}

	s := openDir(t, filepath.Join(home, ".pki", "nssdb"))
	mustApply(t, s, addChange(root, stores.Trust{}.With(stores.ServerAuth, stores.Trusted)))

	dom, clog = chromiumLoad(t, home, url, 60*time.Second)
	if !strings.Contains(dom, pageMarker) || strings.Contains(clog, "Page load failed") {
		t.Fatalf("page not loaded after the root was added:\ndom: %s\nlog: %s", dom, clog)
	}
}
