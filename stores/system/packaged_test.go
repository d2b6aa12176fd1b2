package system

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// TestPackagedDebian builds a Debian tree with one packaged (Mozilla) root and
// one local root, lets update-ca-certificates make the system store from
// them, and checks that only the packaged root is public although the store
// trusts both.
func TestPackagedDebian(t *testing.T) {
	s := debianTree(t, t.TempDir())
	pub, local := testpki.Root("Packaged Public Root"), testpki.Root("Corp Local Root")
	mozilla := filepath.Join(s.root, "usr/share/ca-certificates/mozilla")
	anchors := filepath.Join(s.root, "usr/local/share/ca-certificates")
	for _, d := range []string{mozilla, anchors} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(mozilla, "Packaged_Public_Root.crt"), pub.PEM(), 0o644)
	os.WriteFile(filepath.Join(anchors, "corp.crt"), local.PEM(), 0o644)
	os.WriteFile(filepath.Join(s.root, "etc/ca-certificates.conf"), []byte("mozilla/Packaged_Public_Root.crt\n"), 0o644)
	runDebianTool(t, s.root)

	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if set.Get(stores.FingerprintOf(pub.DER)) == nil || set.Get(stores.FingerprintOf(local.DER)) == nil {
		t.Fatalf("the system store does not trust both roots: %d entries", set.Len())
	}
	ps, err := Packaged(context.Background(), s.root)
	if err != nil {
		t.Fatal(err)
	}
	if !ps.Public(stores.FingerprintOf(pub.DER)) {
		t.Error("the Mozilla root is not public")
	}
	if ps.Public(stores.FingerprintOf(local.DER)) {
		t.Error("the local root is public")
	}
	if len(ps.From) != 1 || ps.From[0] != mozilla {
		t.Errorf("From = %v, want [%s]", ps.From, mozilla)
	}
}

// TestPackagedFedora reads the public roots from p11-kit's
// ca-bundle.trust.p11-kit format, checked first to be what the trust tool
// itself reads as an anchor.
func TestPackagedFedora(t *testing.T) {
	trust := needTool(t, "trust")
	root := t.TempDir()
	pub := testpki.Root("Fedora Packaged Root")
	dir := filepath.Join(root, "usr/share/pki/ca-trust-source")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "ca-bundle.trust.p11-kit")
	p11 := "[p11-kit-object-v1]\nlabel: \"Fedora Packaged Root\"\ntrusted: true\nnss-mozilla-ca-policy: true\nmodifiable: false\n" + string(pub.PEM()) + "\n"
	if err := os.WriteFile(out, []byte(p11), 0o644); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	mod := filepath.Join(home, "config/pkcs11/modules")
	os.MkdirAll(mod, 0o755)
	os.WriteFile(filepath.Join(mod, "p11-kit-trust.module"), []byte("module: p11-kit-trust.so\ntrust-policy: yes\nx-init-reserved: paths="+dir+"\n"), 0o644)
	for _, d := range []string{home, root} {
		os.Chmod(d, 0o755) // read from the user namespace as root
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "P11_KIT_NO_USER_CONFIG" && k != "XDG_CONFIG_HOME" && k != "HOME" {
			env = append(env, kv)
		}
	}
	env = append(env, "XDG_CONFIG_HOME="+filepath.Join(home, "config"), "HOME="+home)
	b, err := runCommand(context.Background(), command{argv: []string{trust, "list", "--filter=ca-anchors"}, env: env, userns: os.Getuid() == 0})
	if err != nil || !strings.Contains(string(b), "Fedora Packaged Root") || strings.Count(string(b), "type: certificate") != 1 {
		t.Fatalf("trust list does not read the file as the one anchor: %v\n%s", err, b)
	}
	ps, err := Packaged(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if !ps.Public(stores.FingerprintOf(pub.DER)) || len(ps.Roots) != 1 {
		t.Errorf("public set %v, want the one root of %s", ps.Roots, out)
	}
}

// TestPackagedJDK: a JDK's own cacerts (a regular file, made by keytool) is
// part of the public set; one that is a link (Debian's, to the store
// generated from the system store) is not.
func TestPackagedJDK(t *testing.T) {
	keytool := needTool(t, "keytool")
	root := t.TempDir()
	pub, local := testpki.Root("JDK Shipped Root"), testpki.Root("JDK Local Root")
	own := filepath.Join(root, "usr/lib/jvm/vendor-jdk/lib/security")
	linked := filepath.Join(root, "usr/lib/jvm/debian-jdk/lib/security")
	for _, d := range []string{own, linked, filepath.Join(root, "etc/ssl/certs/java")} {
		os.MkdirAll(d, 0o755)
	}
	mk := func(store string, c *testpki.Cert, alias string) {
		pemFile := filepath.Join(t.TempDir(), "c.pem")
		os.WriteFile(pemFile, c.PEM(), 0o644)
		cmd := exec.Command(keytool, "-importcert", "-noprompt", "-storetype", "JKS", "-keystore", store,
			"-storepass", "changeit", "-alias", alias, "-file", pemFile)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("keytool: %v\n%s", err, out)
		}
	}
	mk(filepath.Join(own, "cacerts"), pub, "shipped")
	generated := filepath.Join(root, "etc/ssl/certs/java/cacerts")
	mk(generated, local, "local")
	if err := os.Symlink(generated, filepath.Join(linked, "cacerts")); err != nil {
		t.Fatal(err)
	}
	ps, err := Packaged(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	if !ps.Public(stores.FingerprintOf(pub.DER)) {
		t.Error("the JDK's own root is not public")
	}
	if ps.Public(stores.FingerprintOf(local.DER)) {
		t.Error("a root of a linked (generated) cacerts is public")
	}
	if len(ps.From) != 1 || ps.From[0] != filepath.Join(own, "cacerts") {
		t.Errorf("From = %v", ps.From)
	}
}
