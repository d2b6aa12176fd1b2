package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/check"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores/storetest"
)

// TestCheckVerifyDepthAgreesWithNginx presents chains of two, three and four
// certificates to a real nginx configured with ssl_verify_depth 1, 2 and 3
// (the longest chain's length above the client certificate) and requires
// rootsync check --verify-depth N to give nginx's verdict for each, with the
// OpenSSL error nginx logs. nginx (OpenSSL) counts the intermediate CAs only:
// depth 1 takes one intermediate. Without --verify-depth, a chain that nginx
// or Apache rejects at its default depth 1 is accepted with a warning.
func TestCheckVerifyDepthAgreesWithNginx(t *testing.T) {
	curl := storetest.Tool(t, "curl")
	dir := t.TempDir()
	root := testpki.Root("depth root")
	inter1 := root.Intermediate("depth issuing ca 1")
	inter2 := inter1.Intermediate("depth issuing ca 2")
	writeFile(t, filepath.Join(dir, "ca.pem"), root.PEM())
	sites := map[string]nginxSite{}
	depths := []int{1, 2, 3}
	for _, d := range depths {
		sites[fmt.Sprintf("depth%d", d)] = nginxSite{CA: "ca.pem", Depth: d}
	}
	sites["default"] = nginxSite{CA: "ca.pem", Depth: -1}
	s := startNginx(t, dir, sites)

	chains := []struct {
		name  string
		leaf  *testpki.Cert
		inter []*testpki.Cert // sent by the client
	}{
		{"root-issued", root.Leaf("depth client 0"), nil},
		{"one intermediate", inter1.Leaf("depth client 1"), []*testpki.Cert{inter1}},
		{"two intermediates", inter2.Leaf("depth client 2"), []*testpki.Cert{inter2, inter1}},
	}
	for i, ch := range chains {
		certFile := filepath.Join(dir, fmt.Sprintf("depth-client%d.pem", i))
		keyFile := filepath.Join(dir, fmt.Sprintf("depth-client%d.key", i))
		pem := ch.leaf.PEM()
		for _, c := range ch.inter {
			pem = append(pem, c.PEM()...)
		}
		writeFile(t, certFile, pem)
		writeFile(t, keyFile, ch.leaf.KeyPEM())
		above := len(ch.inter) + 1
		for _, d := range depths {
			t.Run(fmt.Sprintf("%s/depth %d", ch.name, d), func(t *testing.T) {
				status := s.present(t, curl, s.ports[fmt.Sprintf("depth%d", d)], certFile, keyFile)
				nginxAccepted := status == "200"
				why := ""
				if !nginxAccepted {
					why = s.lastVerifyError()
				}
				t.Logf("nginx ssl_verify_depth %d: HTTP %s %s", d, status, why)
				if want := above-1 <= d; nginxAccepted != want {
					t.Errorf("nginx accepted=%v with %d certificates above the client's at depth %d, the test expected %v", nginxAccepted, above, d, want)
				}
				code, out, errs := runMain("check", certFile, "--store", "pem:"+filepath.Join(dir, "ca.pem"), "--no-discover",
					"--verify-depth", fmt.Sprint(d), "-o", "json")
				var res struct {
					Accepted bool `json:"accepted"`
					Reasons  []struct {
						Code    string `json:"code"`
						OpenSSL *struct {
							Code int    `json:"code"`
							Name string `json:"name"`
						} `json:"openssl_error"`
					} `json:"reasons"`
				}
				if err := json.Unmarshal([]byte(out), &res); err != nil {
					t.Fatalf("exit %d: %v\n%s%s", code, err, out, errs)
				}
				if res.Accepted != nginxAccepted {
					t.Errorf("rootsync check --verify-depth %d accepted=%v, nginx accepted=%v (HTTP %s %s)\n%s", d, res.Accepted, nginxAccepted, status, why, out)
				}
				if !nginxAccepted {
					if len(res.Reasons) == 0 || res.Reasons[0].Code != check.CodeVerifyDepth || res.Reasons[0].OpenSSL == nil ||
						fmt.Sprintf("%d:%s", res.Reasons[0].OpenSSL.Code, res.Reasons[0].OpenSSL.Name) != why {
						t.Errorf("first reason should be %s with nginx's error %q:\n%s", check.CodeVerifyDepth, why, out)
					}
				}
			})
		}
		// Not given: accepted, with a warning where nginx without an
		// ssl_verify_depth directive (its default, 1) rejects the chain.
		status := s.present(t, curl, s.ports["default"], certFile, keyFile)
		if want := above-1 <= check.ServerDefaultDepth; (status == "200") != want {
			t.Errorf("%s: nginx without ssl_verify_depth: HTTP %s %s, the test expected accepted=%v (default depth %d)", ch.name, status, s.lastVerifyError(), want, check.ServerDefaultDepth)
		}
		code, out, _ := runMain("check", certFile, "--store", "pem:"+filepath.Join(dir, "ca.pem"), "--no-discover")
		warned := strings.Contains(out, "warning: "+check.CodeVerifyDepth)
		if code != ExitOK || warned != (above-1 > check.ServerDefaultDepth) {
			t.Errorf("%s without --verify-depth: exit %d, warned=%v (want a warning only above depth %d)\n%s", ch.name, code, warned, check.ServerDefaultDepth, out)
		}
	}
}

// TestCheckAdvertisedCAsAgreeWithNginx: nginx sends the names of
// ssl_client_certificate only, not those of ssl_trusted_certificate. The
// names rootsync check says a server built from --store (with --trusted for
// the second file) advertises are the ones openssl s_client prints as
// "Acceptable client certificate CA names" from the real nginx, and the size
// is the list's length in the certificate request a TLS client receives.
func TestCheckAdvertisedCAsAgreeWithNginx(t *testing.T) {
	curl := storetest.Tool(t, "curl")
	openssl := storetest.Tool(t, "openssl")
	dir := t.TempDir()
	a, b := testpki.Root("advertised root a"), testpki.Root("advertised root b with a longer name")
	c, d := testpki.Root("trusted only root c"), testpki.Root("trusted only root d")
	writeFile(t, filepath.Join(dir, "client-ca.pem"), append(a.PEM(), b.PEM()...))
	writeFile(t, filepath.Join(dir, "trusted.pem"), append(c.PEM(), d.PEM()...))
	s := startNginx(t, dir, map[string]nginxSite{"split": {CA: "client-ca.pem", Trusted: "trusted.pem"}})
	port := s.ports["split"]

	// What the real server sends.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sc, err := exec.CommandContext(ctx, openssl, "s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port)).CombinedOutput()
	if err != nil {
		t.Logf("s_client: %v", err)
	}
	var sclientCNs []string
	in := false
	for _, line := range strings.Split(string(sc), "\n") {
		switch {
		case strings.HasPrefix(line, "Acceptable client certificate CA names"):
			in = true
		case in && (line == "" || strings.Contains(line, ":") && !strings.Contains(line, "=")):
			in = false
		case in:
			sclientCNs = append(sclientCNs, commonName(line))
		}
	}
	if len(sclientCNs) == 0 {
		t.Fatalf("openssl s_client printed no acceptable CA names:\n%s", sc)
	}
	var wire [][]byte
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{
		InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12,
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			wire = cri.AcceptableCAs
			return &tls.Certificate{}, nil
		},
	})
	if err == nil {
		conn.Close()
	}
	wireSize := 0
	for _, n := range wire {
		wireSize += 2 + len(n)
	}
	if len(wire) != len(sclientCNs) {
		t.Fatalf("the TLS client got %d names, s_client printed %d", len(wire), len(sclientCNs))
	}

	// A client of a root that is trusted but not advertised: both accept.
	certFile, keyFile := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	leaf := c.Leaf("client of trusted root c")
	writeFile(t, certFile, leaf.PEM())
	writeFile(t, keyFile, leaf.KeyPEM())
	status := s.present(t, curl, port, certFile, keyFile)
	code, out, errs := runMain("check", certFile, "--store", "pem:"+filepath.Join(dir, "client-ca.pem"),
		"--trusted", "pem:"+filepath.Join(dir, "trusted.pem"), "--no-discover", "-o", "json")
	var res struct {
		Accepted   bool `json:"accepted"`
		Advertised struct {
			Stores []string `json:"stores"`
			Names  []string `json:"names"`
			Size   int      `json:"size"`
		} `json:"advertised_cas"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("exit %d: %v\n%s%s", code, err, out, errs)
	}
	if res.Accepted != (status == "200") {
		t.Errorf("rootsync accepted=%v, nginx HTTP %s (%s)", res.Accepted, status, s.lastVerifyError())
	}
	var ours []string
	for _, n := range res.Advertised.Names {
		ours = append(ours, commonName(n))
	}
	slices.Sort(ours)
	slices.Sort(sclientCNs)
	if !slices.Equal(ours, sclientCNs) {
		t.Errorf("rootsync says the server advertises %q, openssl s_client printed %q", ours, sclientCNs)
	}
	if res.Advertised.Size != wireSize {
		t.Errorf("rootsync says the list is %d bytes, the certificate request carried %d", res.Advertised.Size, wireSize)
	}
	if want := []string{"pem:" + filepath.Join(dir, "client-ca.pem")}; !slices.Equal(res.Advertised.Stores, want) {
		t.Errorf("advertised stores %q, want %q", res.Advertised.Stores, want)
	}

	// Both files given as --store: the sum, which nginx would send if both
	// were in ssl_client_certificate.
	_, out, _ = runMain("check", certFile, "--store", "pem:"+filepath.Join(dir, "client-ca.pem"), "pem:"+filepath.Join(dir, "trusted.pem"),
		"--no-discover", "-o", "json")
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Advertised.Names) != 4 || res.Advertised.Size <= wireSize {
		t.Errorf("with both files as --store: %d names, %d bytes; want 4 names, more than %d bytes", len(res.Advertised.Names), res.Advertised.Size, wireSize)
	}
}

// commonName is the CN of a name printed as "CN = x" (OpenSSL) or "CN=x".
func commonName(s string) string {
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) == "CN" {
			return strings.TrimSpace(v)
		}
	}
	return strings.TrimSpace(s)
}

// startApache runs Apache httpd (mod_ssl) in the foreground with one TLS
// virtual host per depth, each requiring a client certificate from ca;
// depth -1 leaves SSLVerifyDepth out (Apache's default). It returns the
// port of each depth.
func startApache(t *testing.T, dir, ca string, depths []int) map[int]int {
	t.Helper()
	bin := storetest.Tool(t, "apache2")
	mods := "/usr/lib/apache2/modules"
	server := testpki.Root("apache check server root").Leaf("localhost")
	writeFile(t, filepath.Join(dir, "server.pem"), server.PEM())
	writeFile(t, filepath.Join(dir, "server.key"), server.KeyPEM())
	ports := map[int]int{}
	var b strings.Builder
	fmt.Fprintf(&b, "ServerRoot %[1]s\nServerName localhost\nPidFile %[1]s/httpd.pid\nDefaultRuntimeDir %[1]s\nErrorLog %[1]s/error.log\nLogLevel info\nUser nobody\nGroup nogroup\n", dir)
	for _, m := range []string{"mpm_prefork", "authz_core", "socache_shmcb", "ssl"} {
		fmt.Fprintf(&b, "LoadModule %s_module %s/mod_%s.so\n", m, mods, m)
	}
	fmt.Fprintf(&b, "SSLSessionCache none\n")
	for _, d := range depths {
		ports[d] = freePort(t)
		depth := fmt.Sprintf("  SSLVerifyDepth %d\n", d)
		if d < 0 {
			depth = ""
		}
		fmt.Fprintf(&b, "Listen 127.0.0.1:%[1]d\n<VirtualHost 127.0.0.1:%[1]d>\n  SSLEngine on\n  SSLCertificateFile %[2]s/server.pem\n  SSLCertificateKeyFile %[2]s/server.key\n  SSLCACertificateFile %[3]s\n  SSLVerifyClient require\n%[4]s</VirtualHost>\n",
			ports[d], dir, ca, depth)
	}
	writeFile(t, filepath.Join(dir, "httpd.conf"), []byte(b.String()))
	cmd := exec.Command(bin, "-X", "-f", filepath.Join(dir, "httpd.conf"))
	var listen []int
	for _, p := range ports {
		listen = append(listen, p)
	}
	storetest.Serve(t, cmd, syscall.SIGTERM, listen, filepath.Join(dir, "error.log"))
	return ports
}

// TestCheckVerifyDepthAgreesWithApache: the same chains against a real
// Apache httpd with SSLVerifyDepth 0 to 3 and without it (its default, 1);
// rootsync check --server apache --verify-depth N gives Apache's verdict.
// Apache counts the root's position: depth 1 takes only a certificate the
// root issued itself.
func TestCheckVerifyDepthAgreesWithApache(t *testing.T) {
	curl := storetest.Tool(t, "curl")
	dir := t.TempDir()
	root := testpki.Root("apache depth root")
	inter1 := root.Intermediate("apache depth issuing ca 1")
	inter2 := inter1.Intermediate("apache depth issuing ca 2")
	ca := filepath.Join(dir, "ca.pem")
	writeFile(t, ca, root.PEM())
	depths := []int{-1, 0, 1, 2, 3}
	ports := startApache(t, dir, ca, depths)
	chains := []struct {
		name  string
		leaf  *testpki.Cert
		inter []*testpki.Cert
	}{
		{"root-issued", root.Leaf("apache client 0"), nil},
		{"one intermediate", inter1.Leaf("apache client 1"), []*testpki.Cert{inter1}},
		{"two intermediates", inter2.Leaf("apache client 2"), []*testpki.Cert{inter2, inter1}},
	}
	for i, ch := range chains {
		certFile := filepath.Join(dir, fmt.Sprintf("client%d.pem", i))
		keyFile := filepath.Join(dir, fmt.Sprintf("client%d.key", i))
		pem := ch.leaf.PEM()
		for _, c := range ch.inter {
			pem = append(pem, c.PEM()...)
		}
		writeFile(t, certFile, pem)
		writeFile(t, keyFile, ch.leaf.KeyPEM())
		top := len(ch.inter) + 1 // the root's position
		for _, d := range depths {
			t.Run(fmt.Sprintf("%s/depth %d", ch.name, d), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				out, _ := exec.CommandContext(ctx, curl, "-sS", "-k", "--cert", certFile, "--key", keyFile,
					"-o", "/dev/null", "-w", "%{http_code}", fmt.Sprintf("https://127.0.0.1:%d/", ports[d])).CombinedOutput()
				status := strings.TrimSpace(string(out))
				apacheAccepted := strings.HasSuffix(status, "404") || strings.HasSuffix(status, "200") || strings.HasSuffix(status, "403")
				t.Logf("apache SSLVerifyDepth %d: curl %s", d, status)
				effective := d
				if d < 0 {
					effective = check.ServerDefaultDepth
				}
				if want := top <= effective; apacheAccepted != want {
					t.Errorf("apache accepted=%v (curl: %s) with the root at depth %d and SSLVerifyDepth %d, the test expected %v", apacheAccepted, status, top, effective, want)
				}
				args := []string{"check", certFile, "--store", "pem:" + ca, "--no-discover", "--server", "apache", "-o", "json"}
				if d >= 0 {
					args = append(args, "--verify-depth", fmt.Sprint(d))
				}
				code, js, errs := runMain(args...)
				var res struct {
					Accepted bool `json:"accepted"`
					Reasons  []struct {
						Code     string `json:"code"`
						Severity string `json:"severity"`
					} `json:"reasons"`
				}
				if err := json.Unmarshal([]byte(js), &res); err != nil {
					t.Fatalf("exit %d: %v\n%s%s", code, err, js, errs)
				}
				if d >= 0 && res.Accepted != apacheAccepted {
					t.Errorf("rootsync check --server apache --verify-depth %d accepted=%v, apache accepted=%v (curl: %s)\n%s", d, res.Accepted, apacheAccepted, status, js)
				}
				if d < 0 {
					warned := len(res.Reasons) > 0 && res.Reasons[0].Code == check.CodeVerifyDepth && res.Reasons[0].Severity == "warning"
					if !res.Accepted || warned == apacheAccepted {
						t.Errorf("without --verify-depth: accepted=%v, warned=%v; apache's default accepted=%v: want accepted, warned exactly when apache rejects\n%s", res.Accepted, warned, apacheAccepted, js)
					}
				}
			})
		}
	}
	// The rejections are mod_ssl's own depth check, not OpenSSL's.
	if log, _ := os.ReadFile(filepath.Join(dir, "error.log")); !strings.Contains(string(log), "AH02040") {
		t.Errorf("apache's error log has no AH02040 (Certificate Chain too long):\n%s", log)
	}
}
