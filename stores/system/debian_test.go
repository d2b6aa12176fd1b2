package system

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// needTool skips the test outside CI when a tool is missing, and fails it in CI.
func needTool(t testing.TB, name string) string {
	return storetest.Tool(t, name)
}

func openSpec(t testing.TB, spec string) *Store {
	t.Helper()
	sp, err := Kind().ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenSystem(sp)
	if err != nil {
		t.Fatalf("Open(%s): %v", spec, err)
	}
	return s
}

// debianTree makes a root prefix holding what the Debian tool needs besides
// the store itself: an empty ca-certificates.conf. The input folder is not made.
func debianTree(t testing.TB, dir string) *Store {
	t.Helper()
	needTool(t, "update-ca-certificates")
	needTool(t, "openssl")
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "ca-certificates.conf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return openSpec(t, "system:"+root+"?family=debian")
}

// runDebianTool runs update-ca-certificates on the tree as an administrator
// would, with sandbox options (not through the package).
func runDebianTool(t testing.TB, root string) {
	t.Helper()
	hooks := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc/ssl/certs"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("update-ca-certificates",
		"--certsconf", root+"/etc/ca-certificates.conf",
		"--certsdir", root+"/usr/share/ca-certificates",
		"--localcertsdir", root+"/usr/local/share/ca-certificates",
		"--etccertsdir", root+"/etc/ssl/certs",
		"--hooksdir", hooks)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("update-ca-certificates: %v\n%s", err, out)
	}
}

func TestDebianConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, dir string) stores.Store { return debianTree(t, dir) },
		AddForeign: func(t *testing.T, s stores.Store, c *stores.Certificate) {
			st := s.(*Store)
			in := st.Paths()[0]
			if err := os.MkdirAll(in, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(in, "local-"+c.CommonName()+".crt"), stores.EncodeCertificatePEM(c.DER), 0o644); err != nil {
				t.Fatal(err)
			}
			runDebianTool(t, st.root)
		},
		// An input .crt that holds no certificate: the tool would put the junk
		// into the bundle, so Load refuses the store until it is fixed.
		Corrupt: func(t *testing.T, s stores.Store) {
			st := s.(*Store)
			files, _ := filepath.Glob(filepath.Join(st.Paths()[0], "local-*.crt"))
			if len(files) == 0 {
				t.Fatal("no foreign file to corrupt")
			}
			if err := os.WriteFile(files[0], []byte("this is not a certificate\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// TestDebianCorruptBundle: a damaged generated bundle is refused by Load,
// and Apply writes nothing.
func TestDebianCorruptBundle(t *testing.T) {
	s := debianTree(t, t.TempDir())
	ctx := context.Background()
	root := testpki.Root("Debian Corrupt Root")
	if err := s.Apply(ctx, []stores.Change{addChange(root)}); err != nil {
		t.Fatal(err)
	}
	bundle := s.Outputs()[0]
	data, _ := os.ReadFile(bundle)
	cut := data[:len(data)-40] // a block without its end line
	for name, bad := range map[string][]byte{
		"garbage": []byte("garbage garbage\n"),
		"cut":     cut,
		"badder":  []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(bundle, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			before := storetest.Snapshot(t, s.Paths())
			_, err := s.Load(ctx)
			if err == nil || !strings.Contains(err.Error(), bundle) {
				t.Fatalf("Load of a damaged bundle: err = %v, want an error naming %s", err, bundle)
			}
			if !errors.Is(err, stores.ErrCorrupt) {
				t.Errorf("error %v does not wrap ErrCorrupt", err)
			}
			if err := s.Apply(ctx, []stores.Change{addChange(testpki.Root("Other"))}); err == nil {
				t.Fatal("Apply on a damaged bundle succeeded")
			}
			storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
		})
	}
}

func addChange(c *testpki.Cert) stores.Change {
	return stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: stores.MustParse(c.DER), Trust: stores.TrustAll()}, Reason: "test"}
}

// openSSLVerify runs openssl verify -CAfile bundle on leaf and reports
// whether it accepted it, with its output.
func openSSLVerify(t testing.TB, bundle string, leaf *testpki.Cert, extra ...string) (bool, string) {
	t.Helper()
	lf := filepath.Join(t.TempDir(), "leaf.pem")
	if err := os.WriteFile(lf, leaf.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"verify", "-CAfile", bundle}, extra...)
	out, err := exec.Command("openssl", append(args, lf)...).CombinedOutput()
	return err == nil, string(out)
}

// TestDebianSyncWithRealTool: after Apply of an Add the root is in the
// bundle update-ca-certificates generated and openssl accepts its leaf;
// after Remove both are gone.
func TestDebianSyncWithRealTool(t *testing.T) {
	s := debianTree(t, t.TempDir())
	ctx := context.Background()
	root := testpki.Root("Debian Sync Root")
	other := testpki.Root("Debian Other Root")
	leaf := root.Leaf("leaf.example")
	if err := s.Apply(ctx, []stores.Change{addChange(root), addChange(other)}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	bundle := filepath.Join(s.root, "etc/ssl/certs/ca-certificates.crt")
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, root.PEM()) {
		t.Fatalf("generated bundle lacks the added root:\n%s", data)
	}
	if ok, out := openSSLVerify(t, bundle, leaf); !ok {
		t.Fatalf("openssl verify rejects the leaf after sync: %s", out)
	}
	want := filepath.Join(s.Paths()[0], s.fileName(stores.MustParse(root.DER)))
	set, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := set.Get(stores.FingerprintOf(root.DER))
	if e == nil || !e.Owned || e.Label != want || e.Trust != stores.TrustAll() {
		t.Fatalf("loaded entry = %+v, want owned, label %s, trusted for all", e, want)
	}
	if !strings.HasPrefix(filepath.Base(e.Label), "rootsync-") || !strings.HasSuffix(e.Label, ".crt") {
		t.Errorf("file %s is not rootsync-*.crt", e.Label)
	}
	if err := s.Apply(ctx, []stores.Change{{Action: stores.Remove, Entry: e}}); err != nil {
		t.Fatalf("Apply remove: %v", err)
	}
	data, _ = os.ReadFile(bundle)
	if bytes.Contains(data, root.PEM()) {
		t.Fatal("bundle still holds the removed root")
	}
	if !bytes.Contains(data, other.PEM()) {
		t.Fatal("removing one root lost the other")
	}
	if ok, out := openSSLVerify(t, bundle, leaf); ok {
		t.Fatalf("openssl verify still accepts the leaf of a removed root: %s", out)
	}
	if _, err := os.Lstat(want); err == nil {
		t.Errorf("%s still exists", want)
	}
}

// TestDebianRemovePackaged: a certificate that is not in an input folder
// cannot be removed through the tool, and nothing is written.
func TestDebianRemovePackaged(t *testing.T) {
	s := debianTree(t, t.TempDir())
	ctx := context.Background()
	pkg := testpki.Root("Packaged Root")
	dir := filepath.Join(s.root, "usr/share/ca-certificates/mozilla")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "Packaged_Root.crt"), pkg.PEM(), 0o644)
	os.WriteFile(filepath.Join(s.root, "etc/ca-certificates.conf"), []byte("mozilla/Packaged_Root.crt\n"), 0o644)
	runDebianTool(t, s.root)
	set, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := set.Get(stores.FingerprintOf(pkg.DER))
	if e == nil || e.Owned || e.Label != s.Outputs()[0] {
		t.Fatalf("packaged entry = %+v, want not owned, labelled %s", e, s.Outputs()[0])
	}
	before := storetest.Snapshot(t, append(s.Paths(), s.Outputs()...))
	err = s.Apply(ctx, []stores.Change{{Action: stores.Remove, Entry: e}})
	if !errors.Is(err, stores.ErrUnsupported) || stores.HintOf(err) == "" {
		t.Fatalf("Remove of a packaged root: err = %v (hint %q), want ErrUnsupported with a hint", err, stores.HintOf(err))
	}
	dist := *e
	dist.Trust = stores.DistrustAll()
	err = s.Apply(ctx, []stores.Change{{Action: stores.SetTrust, Entry: &dist, From: stores.TrustAll()}})
	if !errors.Is(err, stores.ErrUnsupported) || !strings.Contains(stores.HintOf(err), "ca-certificates.conf") {
		t.Fatalf("distrust on Debian: err = %v (hint %q), want ErrUnsupported naming ca-certificates.conf", err, stores.HintOf(err))
	}
	storetest.Compare(t, before, storetest.Snapshot(t, append(s.Paths(), s.Outputs()...)))
}

// BenchmarkDebianAddRemove measures one Apply that adds a root and one that
// removes it, each running update-ca-certificates in the sandbox.
func BenchmarkDebianAddRemove(b *testing.B) {
	s := debianTree(b, b.TempDir())
	ctx := context.Background()
	root := testpki.Root("Bench Root")
	keep := testpki.Root("Bench Kept Root")
	if err := s.Apply(ctx, []stores.Change{addChange(keep)}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.Apply(ctx, []stores.Change{addChange(root)}); err != nil {
			b.Fatal(err)
		}
		set, err := s.Load(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Apply(ctx, []stores.Change{{Action: stores.Remove, Entry: set.Get(stores.FingerprintOf(root.DER))}}); err != nil {
			b.Fatal(err)
		}
	}
}
