//go:build linux

package stores_test

import (
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// p11kitExtract runs p11-kit's trust extract --format=openssl-bundle over a
// source folder of its own (a sandboxed module configuration; as root, in a
// user namespace, since p11-kit ignores per-user configuration for uid 0).
func p11kitExtract(t *testing.T, src string) []byte {
	t.Helper()
	bin := storetest.Tool(t, "trust")
	if m, _ := filepath.Glob("/usr/lib/*/pkcs11/p11-kit-trust.so"); len(m) == 0 {
		storetest.Tool(t, "p11-kit-trust.so (package p11-kit-modules)")
	}
	tmp, err := os.MkdirTemp("", "rootsync-p11-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	modules := filepath.Join(tmp, "config", "pkcs11", "modules")
	if err := os.MkdirAll(modules, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "module: p11-kit-trust.so\ntrust-policy: yes\nx-init-reserved: paths=" + src + "\n"
	if err := os.WriteFile(filepath.Join(modules, "p11-kit-trust.module"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(tmp, "out")
	if err := os.Mkdir(outDir, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{tmp, outDir, src, filepath.Join(src, "anchors")} {
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(outDir, "bundle.trust.crt")
	cmd := exec.Command(bin, "extract", "--format=openssl-bundle", "--filter=certificates", out)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "P11_KIT_NO_USER_CONFIG" && k != "XDG_CONFIG_HOME" && k != "HOME" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"), "HOME="+tmp)
	if os.Getuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 1000, HostID: 0, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 1000, HostID: 0, Size: 1}},
		}
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("trust extract: %v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestP11KitOpenSSLBundle reads what p11-kit's openssl-bundle extraction
// writes (the ca-bundle.trust.crt of Fedora-family systems): plain anchors,
// trust and reject lists passed through from openssl -trustout input, and
// distrust from a .p11-kit file. Each trust decision is checked against
// openssl verify on the same file.
func TestP11KitOpenSSLBundle(t *testing.T) {
	bin := storetest.Tool(t, "openssl")
	T, D, U := stores.Trusted, stores.Distrusted, stores.Unspecified
	plain := testpki.Root("P11 Plain Root")
	partial := testpki.Root("P11 Partial Root")
	distrusted := testpki.Root("P11 Distrusted Root")
	src := filepath.Join(t.TempDir(), "source")
	anchors := filepath.Join(src, "anchors")
	if err := os.MkdirAll(anchors, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(anchors, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("plain.pem", plain.PEM())
	write("partial.pem", stores.EncodeTrustedCertificatePEM(partial.DER, stores.AuxFor(stores.Trust{T, U, D, U}, "Partial")))
	write("distrusted.p11-kit", append([]byte("[p11-kit-object-v1]\nclass: certificate\nx-distrusted: true\n"), distrusted.PEM()...))
	data := p11kitExtract(t, src)
	b, err := stores.DecodePEM(data, stores.DecodeOptions{})
	if err != nil {
		t.Fatalf("DecodePEM of p11-kit's bundle: %v\n%s", err, data)
	}
	want := map[stores.Fingerprint]stores.Trust{
		stores.FingerprintOf(plain.DER):      stores.TrustAll(),
		stores.FingerprintOf(partial.DER):    {T, U, D, U},
		stores.FingerprintOf(distrusted.DER): stores.DistrustAll(),
	}
	certs := b.Certificates()
	if len(certs) != len(want) {
		t.Fatalf("%d certificates in p11-kit's bundle, want %d", len(certs), len(want))
	}
	dir := t.TempDir()
	verifyPurposes := map[stores.Purpose]string{stores.ServerAuth: "sslserver", stores.ClientAuth: "sslclient", stores.Email: "smimesign"}
	for i, blk := range certs {
		w, ok := want[blk.Cert.Fingerprint]
		if !ok || !blk.Trusted() {
			t.Fatalf("block %d: %s (%s) is not one of the anchors as TRUSTED CERTIFICATE", blk.Index, blk.Cert.Subject, blk.Label)
		}
		if blk.Trust() != w {
			t.Errorf("%s: trust %v, want %v", blk.Cert.Subject, blk.Trust(), w)
		}
		ca := filepath.Join(dir, fmt.Sprintf("ca%d.pem", i))
		if err := os.WriteFile(ca, data[blk.Start:blk.End], 0o644); err != nil {
			t.Fatal(err)
		}
		var root *testpki.Cert
		for _, r := range []*testpki.Cert{plain, partial, distrusted} {
			if stores.FingerprintOf(r.DER) == blk.Cert.Fingerprint {
				root = r
			}
		}
		leaf := filepath.Join(dir, fmt.Sprintf("leaf%d.pem", i))
		if err := os.WriteFile(leaf, root.Leaf("p11.test", testpki.ExtKeyUsage(x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection)).PEM(), 0o644); err != nil {
			t.Fatal(err)
		}
		for p, name := range verifyPurposes {
			verr := exec.Command(bin, "verify", "-CAfile", ca, "-purpose", name, leaf).Run()
			if ok := verr == nil; ok != (blk.Trust()[p] == stores.Trusted) {
				t.Errorf("%s %v: openssl verify ok=%v, rootsync says %v", blk.Cert.Subject, p, ok, blk.Trust()[p])
			}
		}
	}
}

// TestDecodePEMPositions: blocks are numbered among all PEM blocks and know
// their line; errors name both.
