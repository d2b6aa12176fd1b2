package cli

import (
	"context"
	"crypto/x509"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/check"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// nginxSite is one TLS server that requires client certificates.
type nginxSite struct {
	CA  string // ssl_client_certificate, a file in the test folder
	CRL string // ssl_crl, or ""
	// Trusted is ssl_trusted_certificate, or "".
	Trusted string
	// Depth is ssl_verify_depth; 0 means 3, -1 no directive (nginx's
	// default).
	Depth int
}

// nginxServer runs nginx as a child of the test with one TLS server per site.
type nginxServer struct {
	dir   string
	ports map[string]int
}

func startNginx(t *testing.T, dir string, sites map[string]nginxSite) *nginxServer {
	t.Helper()
	bin := storetest.Tool(t, "nginx")
	s := &nginxServer{dir: dir, ports: map[string]int{}}
	server := testpki.Root("nginx check server root").Leaf("localhost")
	writeFile(t, filepath.Join(dir, "server.pem"), server.PEM())
	writeFile(t, filepath.Join(dir, "server.key"), server.KeyPEM())
	var temps strings.Builder
	for _, k := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&temps, "  %s_temp_path %s;\n", k, filepath.Join(dir, k))
	}
	var servers strings.Builder
	for _, name := range slices.Sorted(maps.Keys(sites)) {
		site := sites[name]
		s.ports[name] = freePort(t)
		crl := ""
		if site.CRL != "" {
			crl = "    ssl_crl " + filepath.Join(dir, site.CRL) + ";\n"
		}
		if site.Trusted != "" {
			crl += "    ssl_trusted_certificate " + filepath.Join(dir, site.Trusted) + ";\n"
		}
		depth := fmt.Sprintf("    ssl_verify_depth %d;\n", site.Depth)
		switch site.Depth {
		case 0:
			depth = "    ssl_verify_depth 3;\n"
		case -1:
			depth = ""
		}
		fmt.Fprintf(&servers, `  server {
    listen 127.0.0.1:%d ssl;
    ssl_certificate %[2]s/server.pem;
    ssl_certificate_key %[2]s/server.key;
    ssl_verify_client on;
    ssl_client_certificate %[2]s/%[3]s;
%[5]s%[4]s    location / { return 200 "ok\n"; }
  }
`, s.ports[name], dir, site.CA, crl, depth)
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
  access_log %[1]s/access.log;
%[2]s%[3]s}
`, dir, temps.String(), servers.String())
	writeFile(t, filepath.Join(dir, "nginx.conf"), []byte(conf))
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", "stderr")
	var ports []int
	for _, p := range s.ports {
		ports = append(ports, p)
	}
	storetest.Serve(t, cmd, syscall.SIGQUIT, ports)
	return s
}

// verifyError is the last "client SSL certificate verify error" nginx logged.
var verifyErrorRE = regexp.MustCompile(`client SSL certificate verify error: \(([^)]*)\)`)

func (s *nginxServer) lastVerifyError() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "error.log"))
	m := verifyErrorRE.FindAllSubmatch(b, -1)
	if len(m) == 0 {
		return ""
	}
	return string(m[len(m)-1][1])
}

// present has curl present the client certificate; it returns the HTTP status.
func (s *nginxServer) present(t *testing.T, curl string, port int, certFile, keyFile string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, "-sS", "-k", "--cert", certFile, "--key", keyFile,
		"-o", "/dev/null", "-w", "%{http_code}", fmt.Sprintf("https://127.0.0.1:%d/", port)).CombinedOutput()
	if err != nil {
		t.Logf("curl: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestCheckAgreesWithNginx presents a matrix of client certificates to a real
// nginx and requires rootsync check's verdict to match nginx's. Where
// rootsync is stricter than nginx (see docs/json.md), the case says so and the
// test asserts both sides as they are.
func TestCheckAgreesWithNginx(t *testing.T) {
	curl := storetest.Tool(t, "curl")
	dir := t.TempDir()
	root := testpki.Root("nginx check root")
	inter := root.Intermediate("nginx check issuing ca")
	other := testpki.Root("nginx check stranger root")
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC) }
	revoked := root.Leaf("revoked client")
	keyUsage := func(ku x509.KeyUsage) testpki.Option { return func(c *x509.Certificate) { c.KeyUsage = ku } }
	serverOnlyCA := root.Intermediate("nginx check server-only ca", testpki.ExtKeyUsage(x509.ExtKeyUsageServerAuth))
	writeFile(t, filepath.Join(dir, "ca.pem"), root.PEM())
	writeFile(t, filepath.Join(dir, "ca-inter.pem"), inter.PEM())
	rootCRL, interCRL := makeCRL(t, root, revoked), makeCRL(t, inter)
	writeFile(t, filepath.Join(dir, "crl.pem"), rootCRL)
	writeFile(t, filepath.Join(dir, "crl-inter.pem"), interCRL)
	writeFile(t, filepath.Join(dir, "crl-both.pem"), append(rootCRL, interCRL...))
	sites := map[string]nginxSite{
		"plain":     {CA: "ca.pem"},
		"crl":       {CA: "ca.pem", CRL: "crl.pem"},
		"inter-crl": {CA: "ca.pem", CRL: "crl-inter.pem"},
		"both-crls": {CA: "ca.pem", CRL: "crl-both.pem"},
		"inter-ca":  {CA: "ca-inter.pem"},
	}
	s := startNginx(t, dir, sites)

	tests := []struct {
		name string
		site string
		leaf *testpki.Cert
		// sendInter: the client sends this intermediate with its certificate.
		sendInter *testpki.Cert
		// accepted is nginx's answer and rootsync's verdict; code is the
		// reason rootsync gives first.
		accepted bool
		code     string
		// stricter: rootsync rejects what nginx accepts (documented in
		// docs/json.md).
		stricter bool
	}{
		{name: "valid", site: "plain", leaf: root.Leaf("valid client"), accepted: true},
		{name: "valid via intermediate", site: "plain", leaf: inter.Leaf("chained client"), sendInter: inter, accepted: true},
		{name: "expired", site: "plain", leaf: root.Leaf("expired client", testpki.Validity(d(2020, 1, 1), d(2021, 1, 1))), code: check.CodeExpired},
		{name: "not yet valid", site: "plain", leaf: root.Leaf("future client", testpki.Validity(d(2060, 1, 1), d(2064, 1, 1))), code: check.CodeNotYetValid},
		{name: "revoked", site: "crl", leaf: revoked, code: check.CodeRevoked},
		{name: "not revoked", site: "crl", leaf: root.Leaf("valid client"), accepted: true},
		{name: "crl of the intermediate missing", site: "crl", leaf: inter.Leaf("chained client"), sendInter: inter, code: check.CodeCRLMissing},
		{name: "crl of the root missing", site: "inter-crl", leaf: inter.Leaf("chained client"), sendInter: inter, code: check.CodeCRLMissing},
		{name: "crls of root and intermediate", site: "both-crls", leaf: inter.Leaf("chained client"), sendInter: inter, accepted: true},
		{name: "unknown issuer", site: "plain", leaf: other.Leaf("stranger client"), code: check.CodeMissingIssuer},
		{name: "missing intermediate", site: "plain", leaf: inter.Leaf("chained client"), code: check.CodeMissingIssuer},
		{name: "intermediate as the only CA", site: "inter-ca", leaf: inter.Leaf("chained client"), code: check.CodeAnchorNotSelfSign},
		{name: "eku server auth only", site: "plain", leaf: root.Leaf("server-only client", testpki.ExtKeyUsage(x509.ExtKeyUsageServerAuth)), code: check.CodeEKU},
		{name: "intermediate with eku server auth only", site: "plain", leaf: serverOnlyCA.Leaf("under server-only ca"), sendInter: serverOnlyCA, code: check.CodeEKU},
		{name: "key usage without digitalSignature", site: "plain", leaf: root.Leaf("encipher-only client", keyUsage(x509.KeyUsageKeyEncipherment)), code: check.CodeKeyUsage},
		{name: "key agreement without digitalSignature", site: "plain", leaf: root.Leaf("agreement client", keyUsage(x509.KeyUsageKeyAgreement)), code: check.CodeKeyUsage, stricter: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site := sites[tt.site]
			certFile := filepath.Join(dir, fmt.Sprintf("client%d.pem", i))
			keyFile := filepath.Join(dir, fmt.Sprintf("client%d.key", i))
			chain := tt.leaf.PEM()
			if tt.sendInter != nil {
				chain = append(chain, tt.sendInter.PEM()...)
			}
			writeFile(t, certFile, chain)
			writeFile(t, keyFile, tt.leaf.KeyPEM())

			status := s.present(t, curl, s.ports[tt.site], certFile, keyFile)
			nginxAccepted := status == "200"
			why := ""
			if !nginxAccepted {
				why = s.lastVerifyError()
			}
			t.Logf("nginx: HTTP %s %s", status, why)

			caFile := filepath.Join(dir, site.CA)
			cas, err := readCerts(caFile)
			if err != nil {
				t.Fatal(err)
			}
			set := stores.NewSet()
			for _, c := range cas {
				set.Add(&stores.Entry{Cert: c, Trust: stores.TrustAll()})
			}
			in := check.Input{Leaf: stores.MustParse(tt.leaf.DER), Now: time.Now(), Stores: []check.Store{{Name: "pem:" + caFile, Set: set}}}
			args := []string{"check", certFile, "--store", "pem:" + caFile, "--no-discover"}
			if tt.sendInter != nil {
				in.Intermediates = []*stores.Certificate{stores.MustParse(tt.sendInter.DER)}
			}
			if site.CRL != "" {
				crlFile := filepath.Join(dir, site.CRL)
				if in.CRLs, err = check.ParseCRLs(crlFile, mustRead(t, crlFile)); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--crl", crlFile)
			}
			r := check.Evaluate(in)
			code, out, errs := runMain(args...)
			wantCode := ExitRejected
			if r.Accepted {
				wantCode = ExitOK
			}
			if code != wantCode {
				t.Errorf("rootsync check exit %d, but check.Evaluate says accepted=%v\n%s%s", code, r.Accepted, out, errs)
			}
			first := ""
			if rs := r.Rejections(); len(rs) > 0 {
				first = rs[0].Code
			}
			switch {
			case tt.stricter:
				if !nginxAccepted || r.Accepted {
					t.Errorf("expected nginx to accept (HTTP %s) and rootsync to reject (accepted=%v): the documented difference changed", status, r.Accepted)
				}
			case nginxAccepted != r.Accepted:
				t.Errorf("nginx accepted=%v (HTTP %s %s), rootsync accepted=%v\n%s", nginxAccepted, status, why, r.Accepted, out)
			}
			if nginxAccepted != tt.accepted && !tt.stricter {
				t.Errorf("nginx accepted=%v (HTTP %s %s), the test expected %v", nginxAccepted, status, why, tt.accepted)
			}
			if first != tt.code {
				t.Errorf("first reason %q, want %q\n%s", first, tt.code, out)
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
