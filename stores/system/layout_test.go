package system

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		tree, family string
	}{
		{"ubuntu", "debian"},
		{"debian-usrlib", "debian"},
		{"gentoo", "debian"},
		{"rocky", "fedora"},
		{"rhel-like", "fedora"},
		{"arch", "arch"},
		{"manjaro", "arch"},
		{"opensuse", "suse"},
		{"sles", "suse"},
		{"alpine", "alpine"},
		{"marker-alpine", "alpine"},
		{"marker-arch", "arch"},
		{"marker-fedora", "fedora"},
	} {
		t.Run(tc.tree, func(t *testing.T) {
			root, _ := filepath.Abs(filepath.Join("testdata", tc.tree))
			s := openSpec(t, "system:"+root)
			if got := s.Layout().Family; got != tc.family {
				t.Errorf("family = %s, want %s", got, tc.family)
			}
		})
	}
}

func TestDetectUnknown(t *testing.T) {
	for _, tc := range []struct {
		tree string
		want []string // pieces the message must hold
	}{
		{"unknown", []string{`ID="plan9"`, `ID_LIKE="bell-labs"`, "etc/os-release"}},
		{"empty", []string{"no os-release file", "empty/etc/os-release"}},
	} {
		t.Run(tc.tree, func(t *testing.T) {
			root, _ := filepath.Abs(filepath.Join("testdata", tc.tree))
			sp, _ := Kind().ParseSpec("system:" + root)
			_, err := Open(sp, stores.OpenOptions{})
			if !errors.Is(err, ErrUnknownDistribution) {
				t.Fatalf("err = %v, want ErrUnknownDistribution", err)
			}
			msg := err.Error()
			want := append(tc.want, filepath.Join(root, "etc/alpine-release"), filepath.Join(root, "etc/debian_version"))
			for _, w := range want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q: %s", w, msg)
				}
			}
			if h := stores.HintOf(err); !strings.Contains(h, "?family=") || !strings.Contains(h, "suse") {
				t.Errorf("hint does not say how to force a family: %q", h)
			}
		})
	}
	sp, _ := Kind().ParseSpec("system?family=beos")
	if _, err := Open(sp, stores.OpenOptions{}); err == nil || !strings.Contains(stores.HintOf(err), "debian, fedora, arch, suse, alpine") {
		t.Errorf("unknown family: %v (hint %q)", err, stores.HintOf(err))
	}
	// Forcing a family wins over detection.
	root, _ := filepath.Abs("testdata/unknown")
	if s := openSpec(t, "system:"+root+"?family=alpine"); s.Layout().Family != "alpine" {
		t.Errorf("forced family = %s", s.Layout().Family)
	}
}

// TestLayoutsSwappable: detection consults the package-level table.
func TestLayoutsSwappable(t *testing.T) {
	saved := Layouts
	t.Cleanup(func() { Layouts = saved })
	Layouts = []Layout{{Family: "plan9", IDs: []string{"plan9"}, Anchors: []string{"/lib/certs"}, Ext: ".pem"}}
	root, _ := filepath.Abs("testdata/unknown")
	s := openSpec(t, "system:"+root)
	if s.Layout().Family != "plan9" || s.Paths()[0] != filepath.Join(root, "lib/certs") {
		t.Fatalf("layout %s, paths %v", s.Layout().Family, s.Paths())
	}
}

func TestPathsAndCapabilities(t *testing.T) {
	for _, tc := range []struct {
		family   string
		paths    []string
		outputs0 string
		distrust bool
	}{
		{"debian", []string{"/R/usr/local/share/ca-certificates"}, "/R/etc/ssl/certs/ca-certificates.crt", false},
		{"fedora", []string{"/R/etc/pki/ca-trust/source/anchors", "/R/etc/pki/ca-trust/source/blocklist"}, "/R/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt", true},
		{"arch", []string{"/R/etc/ca-certificates/trust-source/anchors", "/R/etc/ca-certificates/trust-source/blocklist"}, "/R/etc/ca-certificates/extracted/ca-bundle.trust.crt", true},
		{"suse", []string{"/R/etc/pki/trust/anchors", "/R/etc/pki/trust/blacklist"}, "/R/var/lib/ca-certificates/ca-bundle.pem", true},
		{"alpine", []string{"/R/usr/local/share/ca-certificates"}, "/R/etc/ssl/certs/ca-certificates.crt", false},
	} {
		t.Run(tc.family, func(t *testing.T) {
			s := openSpec(t, "system:/R?family="+tc.family)
			if got := strings.Join(s.Paths(), " "); got != strings.Join(tc.paths, " ") {
				t.Errorf("Paths = %s, want %s", got, strings.Join(tc.paths, " "))
			}
			if s.Outputs()[0] != tc.outputs0 {
				t.Errorf("Outputs[0] = %s, want %s", s.Outputs()[0], tc.outputs0)
			}
			want := stores.Capabilities{PerPurpose: false, Distrust: tc.distrust, Ownership: true, ReadByOpenSSL: true}
			if got := s.Capabilities(); got != want {
				t.Errorf("Capabilities = %+v, want %+v", got, want)
			}
		})
	}
}

// writeFile writes data under root, making folders.
func writeFile(t *testing.T, root, p string, data []byte) string {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return full
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// TestLoadFixtureTrees builds each family's input folders and generated
// files as its tool would leave them and checks what Load reports.
func TestLoadFixtureTrees(t *testing.T) {
	pkg := testpki.Root("Packaged Root")
	ours := testpki.Root("Our Root")
	admin := testpki.Root("Admin Root")
	blocked := testpki.Root("Blocked Root")
	ctx := context.Background()
	type want struct {
		cert  *testpki.Cert
		trust stores.Trust
		owned bool
		label string // relative to the root
	}
	tls := stores.Trust{}.With(stores.ServerAuth, stores.Trusted).With(stores.ClientAuth, stores.Trusted)
	for _, tc := range []struct {
		family string
		files  map[string][]byte
		want   []want
	}{
		{"alpine", map[string][]byte{
			// Alpine reads every file, whatever its extension.
			"usr/local/share/ca-certificates/rootsync-our-root.crt": ours.PEM(),
			"usr/local/share/ca-certificates/admin.pem":             admin.PEM(),
			"etc/ssl/certs/ca-certificates.crt":                     cat(pkg.PEM(), ours.PEM(), admin.PEM()),
		}, []want{
			{pkg, stores.TrustAll(), false, "etc/ssl/certs/ca-certificates.crt"},
			{ours, stores.TrustAll(), true, "usr/local/share/ca-certificates/rootsync-our-root.crt"},
			{admin, stores.TrustAll(), false, "usr/local/share/ca-certificates/admin.pem"},
		}},
		{"debian", map[string][]byte{
			// Debian ignores a file that is not *.crt: it is not an input.
			"usr/local/share/ca-certificates/admin.pem":             admin.PEM(),
			"usr/local/share/ca-certificates/sub/rootsync-ours.crt": ours.PEM(),
			"etc/ssl/certs/ca-certificates.crt":                     cat(pkg.PEM(), ours.PEM(), admin.PEM()),
			// Dropped into the generated folder by hand: Go trusts it.
			"etc/ssl/certs/stray.pem": blocked.PEM(),
			"etc/ssl/certs/junk.txt":  []byte("not a certificate"),
		}, []want{
			{pkg, stores.TrustAll(), false, "etc/ssl/certs/ca-certificates.crt"},
			{ours, stores.TrustAll(), true, "usr/local/share/ca-certificates/sub/rootsync-ours.crt"},
			{admin, stores.TrustAll(), false, "etc/ssl/certs/ca-certificates.crt"},
			{blocked, stores.TrustAll(), false, "etc/ssl/certs/stray.pem"},
		}},
		{"suse", map[string][]byte{
			"etc/pki/trust/anchors/rootsync-ours.pem":  ours.PEM(),
			"etc/pki/trust/anchors/admin.der":          admin.DER, // p11-kit reads DER too
			"etc/pki/trust/blacklist/blocked.pem":      blocked.PEM(),
			"var/lib/ca-certificates/ca-bundle.pem":    cat([]byte("# Packaged Root\n"), pkg.PEM(), ours.PEM(), admin.PEM()),
			"etc/pki/trust/anchors/notes.p11-kit":      []byte("[p11-kit-object-v1]\n"),
			"etc/pki/trust/anchors/.x.pem.rootsync-12": []byte("half written"),
		}, []want{
			{pkg, tls, false, "var/lib/ca-certificates/ca-bundle.pem"},
			{ours, tls, true, "etc/pki/trust/anchors/rootsync-ours.pem"},
			{admin, tls, false, "etc/pki/trust/anchors/admin.der"},
			{blocked, stores.DistrustAll(), false, "etc/pki/trust/blacklist/blocked.pem"},
		}},
		{"arch", map[string][]byte{
			// No openssl-bundle: the per-purpose PEM bundles are merged.
			"etc/ca-certificates/trust-source/anchors/rootsync-ours.pem":  ours.PEM(),
			"etc/ca-certificates/trust-source/blocklist/rootsync-blk.pem": blocked.PEM(),
			"etc/ca-certificates/extracted/tls-ca-bundle.pem":             cat(pkg.PEM(), ours.PEM()),
			"etc/ca-certificates/extracted/email-ca-bundle.pem":           pkg.PEM(),
			"etc/ca-certificates/extracted/objsign-ca-bundle.pem":         nil,
			"etc/ca-certificates/trust-source/anchors/sub/readme.p11-kit": nil,
		}, []want{
			{pkg, tls.With(stores.Email, stores.Trusted), false, "etc/ca-certificates/extracted/tls-ca-bundle.pem"},
			{ours, tls, true, "etc/ca-certificates/trust-source/anchors/rootsync-ours.pem"},
			{blocked, stores.DistrustAll(), true, "etc/ca-certificates/trust-source/blocklist/rootsync-blk.pem"},
		}},
		{"fedora", map[string][]byte{
			// The openssl-bundle wins over the PEM bundles when present.
			"etc/pki/ca-trust/source/anchors/rootsync-ours.pem":      ours.PEM(),
			"etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem":       pkg.PEM(),
			"etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt": cat(trusted(pkg, stores.Trust{}.With(stores.ServerAuth, stores.Trusted)), trusted(ours, stores.Trust{}), trusted(blocked, stores.DistrustAll())),
		}, []want{
			{pkg, stores.Trust{}.With(stores.ServerAuth, stores.Trusted), false, "etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt"},
			{ours, stores.TrustAll(), true, "etc/pki/ca-trust/source/anchors/rootsync-ours.pem"},
			{blocked, stores.DistrustAll(), false, "etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt"},
		}},
	} {
		t.Run(tc.family, func(t *testing.T) {
			root := t.TempDir()
			for p, data := range tc.files {
				writeFile(t, root, p, data)
			}
			s := openSpec(t, "system:"+root+"?family="+tc.family)
			set, err := s.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if set.Len() != len(tc.want) {
				for _, e := range set.Entries() {
					t.Logf("got %s %v %s", e.Cert.Subject, e.Trust, e.Label)
				}
				t.Fatalf("%d entries, want %d", set.Len(), len(tc.want))
			}
			for _, w := range tc.want {
				e := set.Get(stores.FingerprintOf(w.cert.DER))
				if e == nil {
					t.Errorf("%s missing", w.cert.Cert.Subject.CommonName)
					continue
				}
				label := filepath.Join(root, w.label)
				if e.Trust != w.trust || e.Owned != w.owned || e.Label != label {
					t.Errorf("%s: trust %v owned %v label %s; want %v %v %s", w.cert.Cert.Subject.CommonName, e.Trust, e.Owned, e.Label, w.trust, w.owned, label)
				}
			}
		})
	}
}

// trusted makes a TRUSTED CERTIFICATE block as p11-kit's openssl-bundle does:
// the trust and reject lists, and the common name as the alias.
func trusted(c *testpki.Cert, t stores.Trust) []byte {
	return stores.EncodeTrustedCertificatePEM(c.DER, stores.AuxFor(t, c.Cert.Subject.CommonName))
}
