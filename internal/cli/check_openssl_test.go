package cli

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/check"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores/storetest"
)

var opensslErrorRE = regexp.MustCompile(`(?m)^error (\d+) at \d+ depth lookup: (.*)$`)

// TestCheckNamesOpenSSLErrors runs openssl verify -purpose sslclient on each
// chain, as nginx and Apache verify client certificates, and requires check
// to give the same error number and words for the reason the case is about.
// The expected numbers come from openssl, not from a table.
func TestCheckNamesOpenSSLErrors(t *testing.T) {
	openssl := storetest.Tool(t, "openssl")
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC) }
	root := testpki.Root("openssl errors root")
	inter := root.Intermediate("openssl errors issuing ca")
	other := testpki.Root("openssl errors stranger root")
	notCA := root.Intermediate("openssl errors not a ca", testpki.NotCA())
	rekeyed := testpki.Root("openssl errors root rekeyed", testpki.Subject(root.Cert.Subject))
	revoked := root.Leaf("revoked client")
	writeFile(t, p("ca.pem"), root.PEM())
	writeFile(t, p("inter.pem"), inter.PEM())
	writeFile(t, p("crl.pem"), makeCRL(t, root, revoked))
	trustout := func(name string, args ...string) string {
		out, err := exec.Command(openssl, append([]string{"x509", "-in", p("ca.pem"), "-trustout"}, args...)...).Output()
		if err != nil {
			t.Fatalf("openssl x509 %v: %v", args, err)
		}
		return writeFile(t, p(name), out)
	}
	serverOnly := trustout("server-only.pem", "-addtrust", "serverAuth")
	rejected := trustout("rejected.pem", "-addreject", "clientAuth")

	tests := []struct {
		name  string
		leaf  *testpki.Cert
		inter []*testpki.Cert
		ca    string // default ca.pem
		crl   bool
		code  string // the reason compared
	}{
		{name: "expired", leaf: root.Leaf("expired client", testpki.Validity(d(2020, 1, 1), d(2021, 1, 1))), code: check.CodeExpired},
		{name: "not yet valid", leaf: root.Leaf("future client", testpki.Validity(d(2060, 1, 1), d(2064, 1, 1))), code: check.CodeNotYetValid},
		{name: "unknown issuer", leaf: other.Leaf("stranger client"), code: check.CodeMissingIssuer},
		{name: "missing intermediate", leaf: inter.Leaf("chained client"), code: check.CodeMissingIssuer},
		{name: "intermediate as the only CA", leaf: inter.Leaf("chained client"), ca: p("inter.pem"), code: check.CodeAnchorNotSelfSign},
		{name: "self-signed client", leaf: testpki.Root("openssl errors self-signed client"), code: check.CodeRootNotInStore},
		{name: "client sends a root the server lacks", leaf: other.Leaf("stranger client"), inter: []*testpki.Cert{other}, code: check.CodeRootNotInStore},
		{name: "eku server auth only", leaf: root.Leaf("server-only client", testpki.ExtKeyUsage(x509.ExtKeyUsageServerAuth)), code: check.CodeEKU},
		{name: "issuer not a CA", leaf: notCA.Leaf("under a non-ca"), inter: []*testpki.Cert{notCA}, code: check.CodeNotCA},
		{name: "re-keyed root", leaf: rekeyed.Leaf("signed by the other key"), code: check.CodeBadSignature},
		{name: "root trusted only for servers", leaf: root.Leaf("valid client"), ca: serverOnly, code: check.CodeRootNotTrusted},
		{name: "root rejected for clients", leaf: root.Leaf("valid client"), ca: rejected, code: check.CodeRootDistrusted},
		{name: "revoked", leaf: revoked, crl: true, code: check.CodeRevoked},
		{name: "crl of the intermediate missing", leaf: inter.Leaf("chained client"), inter: []*testpki.Cert{inter}, crl: true, code: check.CodeCRLMissing},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := tt.ca
			if ca == "" {
				ca = p("ca.pem")
			}
			leaf := writeFile(t, p(fmt.Sprintf("leaf%d.pem", i)), tt.leaf.PEM())
			var chain []byte
			for _, c := range tt.inter {
				chain = append(chain, c.PEM()...)
			}
			untrusted := writeFile(t, p(fmt.Sprintf("untrusted%d.pem", i)), chain)
			args := []string{"verify", "-purpose", "sslclient", "-no-CApath", "-no-CAstore", "-CAfile", ca}
			rargs := []string{"check", leaf, "--store", "pem:" + ca, "--no-discover", "--output", "json"}
			if len(tt.inter) > 0 {
				args = append(args, "-untrusted", untrusted)
				rargs = append(rargs, "--intermediates", untrusted)
			}
			if tt.crl {
				args = append(args, "-crl_check_all", "-CRLfile", p("crl.pem"))
				rargs = append(rargs, "--crl", p("crl.pem"))
			}
			out, _ := exec.Command(openssl, append(args, leaf)...).CombinedOutput()
			m := opensslErrorRE.FindSubmatch(out)
			if m == nil {
				t.Fatalf("openssl verify reports no error:\n%s", out)
			}
			want, _ := strconv.Atoi(string(m[1]))
			wantName := strings.TrimSpace(string(m[2]))

			code, stdout, stderr := runMain(rargs...)
			if code != ExitRejected {
				t.Fatalf("check exit %d\n%s%s", code, stdout, stderr)
			}
			var doc struct {
				Reasons []struct {
					Code    string `json:"code"`
					OpenSSL *struct {
						Code int    `json:"code"`
						Name string `json:"name"`
					} `json:"openssl_error"`
				} `json:"reasons"`
			}
			if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range doc.Reasons {
				if r.Code != tt.code {
					continue
				}
				found = true
				if r.OpenSSL == nil || r.OpenSSL.Code != want || r.OpenSSL.Name != wantName {
					t.Errorf("%s: check says %+v, openssl verify says %d %q", r.Code, r.OpenSSL, want, wantName)
				}
			}
			if !found {
				t.Errorf("no %s reason:\n%s", tt.code, stdout)
			}
			// The text names it as the server's error log does.
			var targs []string
			for _, a := range rargs {
				if a != "--output" && a != "json" {
					targs = append(targs, a)
				}
			}
			_, text, _ := runMain(targs...)
			if !strings.Contains(text, fmt.Sprintf("OpenSSL (nginx, Apache): %s (%d)", wantName, want)) {
				t.Errorf("the text lacks %q (%d):\n%s", wantName, want, text)
			}
		})
	}
}
