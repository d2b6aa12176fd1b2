package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// fpOf is a certificate's full SHA-256 fingerprint, as rootsync list prints it.
func fpOf(c *testpki.Cert) string { return stores.FingerprintOf(c.DER).String() }

// TestDistrustNSS: distrust writes p,p,p where an NSS database holds the
// root trusted, and adds the root distrusted to one that does not hold it
// (the only way to override a browser's built-in list); certutil -L shows
// both, and the root's other neighbours keep their trust.
func TestDistrustNSS(t *testing.T) {
	need(t, "certutil")
	dir := t.TempDir()
	held, empty := filepath.Join(dir, "held"), filepath.Join(dir, "empty")
	certutilInit(t, held)
	certutilInit(t, empty)
	bad, good := testpki.Root("Compromised NSS Root"), testpki.Root("Innocent NSS Root")
	fill(t, "nss:"+held, []*testpki.Cert{bad, good})
	env := baseEnv(dir)

	r := rootsync(t, env, "distrust", fpOf(bad)[:16], "--in", "nss:"+held, "nss:"+empty)
	if r.code != 0 {
		t.Fatalf("distrust: %s", r)
	}
	for _, db := range []string{held, empty} {
		out, err := certutilList(t, db)
		if err != nil {
			t.Fatalf("certutil -L %s: %v\n%s", db, err, out)
		}
		if !regexp.MustCompile(`Compromised NSS Root.*\s+p,p,p\n`).MatchString(out) {
			t.Errorf("certutil -L %s does not show the root as p,p,p:\n%s", db, out)
		}
		if db == held && !regexp.MustCompile(`Innocent NSS Root.*\s+CT,C,C\n`).MatchString(out) {
			t.Errorf("certutil -L %s: the other root lost its trust:\n%s", db, out)
		}
	}
	// Once distrusted, distrust again has nothing to do.
	r = rootsync(t, env, "distrust", "--dry-run", fpOf(bad)[:16], "--in", "nss:"+held, "nss:"+empty)
	if r.code != 0 || strings.Count(r.stdout, "nothing to do") != 2 {
		t.Fatalf("second distrust --dry-run: want exit 0 and nothing to do twice: %s", r)
	}
}

// TestRemoveJKS: keytool -list no longer shows the alias after remove.
func TestRemoveJKS(t *testing.T) {
	keytool := need(t, "keytool")
	dir := t.TempDir()
	ks := filepath.Join(dir, "trust.jks")
	bad, good := testpki.Root("Compromised JKS Root"), testpki.Root("Innocent JKS Root")
	for alias, c := range map[string]*testpki.Cert{"bad": bad, "good": good} {
		pemFile := writeFile(t, filepath.Join(dir, alias+".pem"), string(c.PEM()))
		out, err := exec.Command(keytool, "-importcert", "-noprompt", "-storetype", "JKS", "-keystore", ks,
			"-storepass", "changeit", "-alias", alias, "-file", pemFile).CombinedOutput()
		if err != nil {
			t.Fatalf("keytool -importcert: %v\n%s", err, out)
		}
	}
	pw := writeFile(t, filepath.Join(dir, "pw"), "changeit\n")
	env := baseEnv(dir)
	r := rootsync(t, env, "remove", fpOf(bad), "--from", "jks:"+ks+"?password-file="+pw)
	if r.code != 0 || !strings.Contains(r.stdout, "removed 1") {
		t.Fatalf("remove: %s", r)
	}
	out, err := exec.Command(keytool, "-list", "-keystore", ks, "-storepass", "changeit").CombinedOutput()
	if err != nil {
		t.Fatalf("keytool -list: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "bad,") || !strings.Contains(string(out), "good,") {
		t.Fatalf("keytool -list after remove: want alias good only:\n%s", out)
	}
}

// debianRoot makes a Debian system tree under dir with one packaged root
// enabled in ca-certificates.conf, and returns its spec and root folder.
func debianRoot(t *testing.T, dir string, packaged *testpki.Cert) (spec, root string) {
	t.Helper()
	need(t, "update-ca-certificates")
	root = filepath.Join(dir, "root")
	writeFile(t, filepath.Join(root, "usr/share/ca-certificates/mozilla/Packaged_Root.crt"), string(packaged.PEM()))
	writeFile(t, filepath.Join(root, "etc/ca-certificates.conf"), "mozilla/Packaged_Root.crt\n")
	if err := os.MkdirAll(filepath.Join(root, "etc/ssl/certs"), 0o755); err != nil {
		t.Fatal(err)
	}
	return "system:" + root + "?family=debian", root
}

// verifies reports whether openssl verify accepts leaf with bundle as its
// only CA file.
func verifies(t *testing.T, bundle, leaf string) bool {
	t.Helper()
	return exec.Command(need(t, "openssl"), "verify", "-CAfile", bundle, leaf).Run() == nil
}

// TestRemoveFromDebianSystem: a local root rootsync put into a sandboxed
// Debian system store is removed through update-ca-certificates: the
// generated bundle no longer holds it and openssl verify no longer accepts
// a certificate it issued.
func TestRemoveFromDebianSystem(t *testing.T) {
	dir := t.TempDir()
	local := testpki.Root("Local Debian Root")
	spec, root := debianRoot(t, dir, testpki.Root("Packaged Debian Root"))
	src := writeFile(t, filepath.Join(dir, "local.pem"), string(local.PEM()))
	leaf := writeFile(t, filepath.Join(dir, "leaf.pem"), string(local.Leaf("client.example").PEM()))
	env := baseEnv(dir)
	if r := rootsync(t, env, "sync", "pem:"+src, "--to", spec); r.code != 0 {
		t.Fatalf("sync: %s", r)
	}
	bundle := filepath.Join(root, "etc/ssl/certs/ca-certificates.crt")
	if !verifies(t, bundle, leaf) {
		t.Fatal("openssl verify does not accept the leaf after the sync; the test proves nothing")
	}
	r := rootsync(t, env, "remove", fpOf(local)[:20], "--from", spec)
	if r.code != 0 {
		t.Fatalf("remove: %s", r)
	}
	if verifies(t, bundle, leaf) {
		t.Errorf("openssl verify still accepts a leaf of the removed root")
	}
	if got := fingerprints(t, spec); strings.Contains(strings.Join(got, ","), fpOf(local)) {
		t.Errorf("the system store still lists the root: %v", got)
	}
}

// TestRemoveRollsBackOnFailure: when one store cannot be changed (Debian
// cannot remove a packaged root; its hint says how to deselect it), the
// stores changed before it are put back, and the command fails.
func TestRemoveRollsBackOnFailure(t *testing.T) {
	dir := t.TempDir()
	pkg := testpki.Root("Packaged Rollback Root")
	spec, root := debianRoot(t, dir, pkg)
	env := baseEnv(dir)
	copyPEM := writeFile(t, filepath.Join(dir, "copy.pem"), string(pkg.PEM())+string(testpki.Root("Other Rollback Root").PEM()))
	// The tool builds the bundle first, as the package's installation does.
	if r := rootsync(t, env, "sync", "pem:"+filepath.Join(dir, "copy.pem"), "--to", spec); r.code != 0 {
		t.Fatalf("sync: %s", r)
	}
	before, err := os.ReadFile(copyPEM)
	if err != nil {
		t.Fatal(err)
	}
	r := rootsync(t, env, "remove", fpOf(pkg)[:16], "--from", "pem:"+copyPEM, spec)
	if r.code != 1 {
		t.Fatalf("remove of a packaged Debian root: want exit 1: %s", r)
	}
	if !strings.Contains(r.stderr, "ca-certificates.conf") || !strings.Contains(r.stdout, "rolled back") {
		t.Errorf("want the Debian hint and the pem bundle rolled back: %s", r)
	}
	after, err := os.ReadFile(copyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Errorf("%s was not put back:\n%s", copyPEM, after)
	}
	if !verifies(t, filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"), writeFile(t, filepath.Join(dir, "leaf.pem"), string(pkg.Leaf("x.example").PEM()))) {
		t.Errorf("the packaged root left the Debian bundle")
	}
}

// TestDistrustFedoraSystem: in a sandboxed Fedora system store (regenerated
// by the host's p11-kit trust extract), distrust puts the root into the
// blocklist folder; the bundles p11-kit extracts no longer hold it, so
// openssl verify rejects a certificate it issued, and rootsync list shows it
// distrusted.
func TestDistrustFedoraSystem(t *testing.T) {
	need(t, "trust")
	if matches, _ := filepath.Glob("/usr/lib/*/pkcs11/p11-kit-trust.so"); len(matches) == 0 {
		need(t, "p11-kit-trust.so (package p11-kit-modules)")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	writeFile(t, filepath.Join(root, "etc/os-release"), "NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=40\n")
	spec := "system:" + root
	bad, good := testpki.Root("Compromised Fedora Root"), testpki.Root("Innocent Fedora Root")
	src := writeFile(t, filepath.Join(dir, "src.pem"), string(bad.PEM())+string(good.PEM()))
	leaf := writeFile(t, filepath.Join(dir, "leaf.pem"), string(bad.Leaf("bad.example").PEM()))
	goodLeaf := writeFile(t, filepath.Join(dir, "good.pem"), string(good.Leaf("good.example").PEM()))
	env := baseEnv(dir)
	if r := rootsync(t, env, "sync", "--origin", "all", "pem:"+src, "--to", spec); r.code != 0 {
		t.Fatalf("sync: %s", r)
	}
	bundle := filepath.Join(root, "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem")
	if !verifies(t, bundle, leaf) {
		t.Fatal("openssl verify rejects the leaf before the distrust; the test proves nothing")
	}
	r := rootsync(t, env, "distrust", fpOf(bad)[:16], "--in", spec)
	if r.code != 0 || !strings.Contains(r.stdout, "changed trust of 1") {
		t.Fatalf("distrust: %s", r)
	}
	blocked, _ := filepath.Glob(filepath.Join(root, "etc/pki/ca-trust/source/blocklist", "*"))
	if len(blocked) != 1 {
		t.Errorf("blocklist folder holds %v, want one file", blocked)
	}
	if verifies(t, bundle, leaf) {
		t.Error("openssl verify still accepts a leaf of the distrusted root")
	}
	if !verifies(t, bundle, goodLeaf) {
		t.Error("openssl verify rejects a leaf of the other root")
	}
	l := rootsync(t, env, "list", "-o", "json", spec)
	if !regexp.MustCompile(`(?s)"fingerprint": "` + fpOf(bad) + `".*?"server-auth": "distrusted"`).MatchString(l.stdout) {
		t.Errorf("rootsync list does not show the root distrusted: %s", l)
	}
}
