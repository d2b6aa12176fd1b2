package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/testpki"
)

// nginxServer is an nginx master process, a child of the test, that asks for
// client certificates checked against clientCA.
type nginxServer struct {
	nginx, prefix, conf, clientCA string
	port                          int
	serverRoot                    *testpki.Cert
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startNginx(t *testing.T, clientCA string) *nginxServer {
	t.Helper()
	n := &nginxServer{nginx: need(t, "nginx"), prefix: t.TempDir(), clientCA: clientCA, port: freePort(t)}
	n.conf = filepath.Join(n.prefix, "nginx.conf")
	n.serverRoot = testpki.Root("E2E Server Root")
	leaf := n.serverRoot.Leaf("localhost")
	writeFile(t, filepath.Join(n.prefix, "server.pem"), string(leaf.PEM()))
	writeFile(t, filepath.Join(n.prefix, "server.key"), string(leaf.KeyPEM()))
	p := n.prefix
	writeFile(t, n.conf, fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d ssl;
    server_name localhost;
    ssl_certificate %[1]s/server.pem;
    ssl_certificate_key %[1]s/server.key;
    ssl_verify_client on;
    ssl_client_certificate %[3]s;
    location / { default_type text/plain; return 200 "hello, client\n"; }
  }
}
`, p, n.port, clientCA))
	cmd := exec.Command(n.nginx, n.args()...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = exec.Command(n.nginx, append([]string{"-s", "stop"}, n.args()...)...).Run()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.port)); err == nil {
			c.Close()
			if _, err := os.Stat(filepath.Join(p, "nginx.pid")); err == nil {
				return n
			}
		}
		select {
		case err := <-exited:
			exited <- err // for the cleanup, which waits for the exit too
			log, _ := os.ReadFile(filepath.Join(p, "error.log"))
			t.Fatalf("nginx exited: %v\n%s\n%s", err, out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on port %d within 20s", n.port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// args are the flags that make nginx use the test's prefix and
// configuration (and its error log from the start).
func (n *nginxServer) args() []string {
	return []string{"-p", n.prefix, "-c", n.conf, "-e", filepath.Join(n.prefix, "error.log")}
}

// get fetches / with curl, presenting the client certificate; it returns the
// HTTP status and body.
func (n *nginxServer) get(t *testing.T, cert, key string) (int, string) {
	t.Helper()
	curl := need(t, "curl")
	ca := writeFile(t, filepath.Join(n.prefix, "server-root.pem"), string(n.serverRoot.PEM()))
	body := filepath.Join(t.TempDir(), "body")
	out, err := exec.Command(curl, "-sS", "--max-time", "10", "-o", body, "-w", "%{http_code}",
		"--cacert", ca, "--cert", cert, "--key", key,
		"--resolve", fmt.Sprintf("localhost:%d:127.0.0.1", n.port),
		fmt.Sprintf("https://localhost:%d/", n.port)).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	var code int
	fmt.Sscanf(string(out), "%d", &code)
	b, _ := os.ReadFile(body)
	return code, string(b)
}

// TestNginxClientCertificates is the classic failure and its fix: nginx asks
// for client certificates, the root that issued them is only in an NSS
// database (where the browser has it), so nginx answers 400 "The SSL
// certificate error"; one `rootsync run` with a job nss -> pem and the hooks
// nginx -t and nginx -s reload makes the same request succeed.
func TestNginxClientCertificates(t *testing.T) {
	dir := t.TempDir()
	// The private root, only in an NSS database, added by certutil.
	private := testpki.Root("E2E Private Client Root")
	client := private.Leaf("alice")
	clientPEM := writeFile(t, filepath.Join(dir, "alice.pem"), string(client.PEM()))
	clientKey := writeFile(t, filepath.Join(dir, "alice.key"), string(client.KeyPEM()))
	rootPEM := writeFile(t, filepath.Join(dir, "root.pem"), string(private.PEM()))
	db := filepath.Join(dir, "nssdb")
	certutilInit(t, db)
	if out, err := exec.Command(need(t, "certutil"), "-A", "-t", "CT,C,C", "-n", "Private Root", "-i", rootPEM, "-d", "sql:"+db).CombinedOutput(); err != nil {
		t.Fatalf("certutil -A: %v\n%s", err, out)
	}
	// nginx needs a non-empty CA file: it holds some other CA.
	clientCA := writeFile(t, filepath.Join(dir, "client-ca.pem"), string(testpki.Root("E2E Other CA").PEM()))
	srv := startNginx(t, clientCA)

	code, body := srv.get(t, clientPEM, clientKey)
	if code != 400 || !strings.Contains(body, "The SSL certificate error") {
		t.Fatalf("before rootsync: HTTP %d %q; want nginx's 400 The SSL certificate error", code, body)
	}

	s := newSetup(t)
	hook := func(args ...string) string {
		return fmt.Sprintf("[%q, %s]", srv.nginx, `"`+strings.Join(args, `", "`)+`"`)
	}
	s.config(fmt.Sprintf(`jobs:
  nginx-clients:
    sources: [nss:%s]
    targets:
      - store: pem:%s
        hooks:
          - %s
          - %s
    purposes: [client-auth]
`, db, clientCA, hook("-t", "-p", srv.prefix, "-c", srv.conf, "-e", filepath.Join(srv.prefix, "error.log")),
		hook("-s", "reload", "-p", srv.prefix, "-c", srv.conf, "-e", filepath.Join(srv.prefix, "error.log"))))
	if r := rootsync(t, s.env, "list", "pem:"+clientCA); strings.Contains(r.stderr, "not available in this build") {
		t.Skipf("this build has no pem store yet: %s", r.stderr)
	}
	r := s.run()
	if r.code != 0 {
		t.Fatalf("rootsync run: %v", r)
	}
	if !strings.Contains(r.stdout, "pem:"+clientCA+" (add mode): added 1") {
		t.Errorf("rootsync run output does not report adding the root to %s:\n%v", clientCA, r)
	}

	// The reload is asynchronous: new workers take over within moments.
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body = srv.get(t, clientPEM, clientKey)
		if code == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != 200 || body != "hello, client\n" {
		log, _ := os.ReadFile(filepath.Join(srv.prefix, "error.log"))
		t.Fatalf("after rootsync run: HTTP %d %q; want 200\nnginx log:\n%s", code, body, log)
	}
	got := fingerprints(t, "pem:"+clientCA)
	if want := fps(private, testpki.Root("E2E Other CA")); !equal(got, want) {
		t.Errorf("client-ca.pem holds %v, want the other CA kept and the private root added %v", got, want)
	}
	if r := s.run("--cron"); r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("second run: %v; want silence", r)
	}
}
