package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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
