package capath

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

func needOpenSSL(t testing.TB) string {
	return storetest.Tool(t, "openssl")
}

func open(t testing.TB, dir string) stores.Store {
	t.Helper()
	s, err := Open(stores.Spec{Kind: "capath", Location: dir}, stores.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openssl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(needOpenSSL(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// addForeign drops c into dir as an administrator would and runs the real
// openssl rehash.
func addForeign(t testing.TB, dir, file string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), data, 0o644); err != nil {
		t.Fatal(err)
	}
	openssl(t, "rehash", dir)
}

var safeName = regexp.MustCompile(`[^A-Za-z0-9]+`)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, dir string) stores.Store { return open(t, filepath.Join(dir, "certs")) },
		AddForeign: func(t *testing.T, s stores.Store, c *stores.Certificate) {
			addForeign(t, s.Paths()[0], "local-"+safeName.ReplaceAllString(c.CommonName(), "-")+".pem", stores.EncodeCertificatePEM(c.DER))
		},
		Corrupt: func(t *testing.T, s stores.Store) {
			matches, _ := filepath.Glob(filepath.Join(s.Paths()[0], "local-*.pem"))
			if len(matches) == 0 {
				t.Fatal("no foreign file to corrupt")
			}
			b, err := os.ReadFile(matches[0])
			if err != nil {
				t.Fatal(err)
			}
			i := bytes.Index(b, []byte("-----\n")) + 20
			copy(b[i:], "!!!!")
			if err := os.WriteFile(matches[0], b, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	})
}

func adds(certs ...*testpki.Cert) []stores.Change {
	var out []stores.Change
	for _, c := range certs {
		out = append(out, addDER(c.DER))
	}
	return out
}

func addDER(der []byte) stores.Change {
	return stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: stores.MustParse(der), Trust: stores.TrustAll()}}
}

func apply(t testing.TB, s stores.Store, ch []stores.Change) {
	t.Helper()
	if err := s.Apply(context.Background(), ch); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func load(t testing.TB, s stores.Store) *stores.Set {
	t.Helper()
	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return set
}

func writeFile(t testing.TB, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The names OwnedName and openssl rehash make, as regular expressions.
var (
	ownedRE = regexp.MustCompile(`^rootsync-[0-9a-f]{16}\.pem$`)
	linkRE  = regexp.MustCompile(`^([0-9a-f]{8})\.(r?)([0-9]+)$`)
)

// linkMap reads every HASH.N link (and HASH.rN when crl is set) of dir as
// link name -> fingerprints of the certificates (or CRL bytes hash) behind it.
func linkMap(t testing.TB, dir string, crl bool) map[string]string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, de := range des {
		m := linkRE.FindStringSubmatch(de.Name())
		if m == nil || (m[2] == "r") != crl {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatalf("%s: %v", de.Name(), err)
		}
		b, err := stores.DecodePEM(data, stores.DecodeOptions{})
		if err != nil {
			t.Fatalf("%s: %v", de.Name(), err)
		}
		var fps []string
		for _, blk := range b.Certificates() {
			fps = append(fps, blk.Cert.Fingerprint.Short())
		}
		out[de.Name()] = strings.Join(fps, ",")
	}
	return out
}

// checkGapFree requires every hash's links to be numbered 0..n-1.
func checkGapFree(t *testing.T, dir string) {
	t.Helper()
	idx := map[string][]int{}
	for name := range linkMap(t, dir, false) {
		m := linkRE.FindStringSubmatch(name)
		var n int
		fmt.Sscan(m[3], &n)
		idx[m[1]] = append(idx[m[1]], n)
	}
	for h, ns := range idx {
		sort.Ints(ns)
		for i, n := range ns {
			if n != i {
				t.Errorf("hash %s: links %v have a gap", h, ns)
				break
			}
		}
	}
}

// bySet turns a link map into hash -> sorted fingerprints, ignoring numbering.
func bySet(m map[string]string) map[string]string {
	g := map[string][]string{}
	for name, fp := range m {
		h := name[:8]
		g[h] = append(g[h], fp)
	}
	out := map[string]string{}
	for h, fps := range g {
		sort.Strings(fps)
		out[h] = strings.Join(fps, " ")
	}
	return out
}

func compareMaps(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if got[k] != want[k] {
			t.Errorf("%s: %s = %q, want %q", what, k, got[k], want[k])
		}
	}
}

// copyFiles copies the regular files of src (not links) into a new folder.
func copyFiles(t *testing.T, src string, withLinks bool) string {
	t.Helper()
	dst := t.TempDir()
	des, _ := os.ReadDir(src)
	for _, de := range des {
		p := filepath.Join(src, de.Name())
		if de.Type()&os.ModeSymlink != 0 {
			if withLinks {
				target, _ := os.Readlink(p)
				if err := os.Symlink(target, filepath.Join(dst, de.Name())); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dst, de.Name()), data)
	}
	return dst
}

func systemBundle(t testing.TB) [][]byte {
	t.Helper()
	data, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	b, err := stores.DecodePEM(data, stores.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, blk := range b.Certificates() {
		out = append(out, blk.Cert.DER)
	}
	return out
}

// TestLinksMatchRehash: the links Apply writes for the system bundle are the
// ones openssl rehash makes for the same files, and openssl rehash run over
// the result changes nothing.
func TestLinksMatchRehash(t *testing.T) {
	needOpenSSL(t)
	dir := filepath.Join(t.TempDir(), "certs")
	s := open(t, dir)
	var ch []stores.Change
	for _, der := range systemBundle(t) {
		ch = append(ch, addDER(der))
	}
	apply(t, s, ch)
	got := linkMap(t, dir, false)
	if len(got) != len(ch) {
		t.Errorf("%d links for %d certificates", len(got), len(ch))
	}
	fresh := copyFiles(t, dir, false)
	openssl(t, "rehash", fresh)
	compareMaps(t, "links vs openssl rehash of the same files", got, linkMap(t, fresh, false))
	again := copyFiles(t, dir, true)
	openssl(t, "rehash", again)
	compareMaps(t, "links after openssl rehash over them", linkMap(t, again, false), got)
	checkGapFree(t, dir)
}

// colliding makes roots that share one subject (so one hash).
func colliding(n int) []*testpki.Cert {
	var out []*testpki.Cert
	for i := 0; i < n; i++ {
		out = append(out, testpki.Root(fmt.Sprintf("Collide %d", i), testpki.Subject(pkix.Name{CommonName: "Colliding Root", Organization: []string{"rootsync tests"}})))
	}
	return out
}

// TestRemoveRenumbers: removing entries in the middle of a hash's links
// renumbers the fewest links, and openssl finds every remaining certificate.
func TestRemoveRenumbers(t *testing.T) {
	needOpenSSL(t)
	dir := filepath.Join(t.TempDir(), "certs")
	roots := colliding(4)
	// Two foreign files via openssl rehash, then two of ours.
	addForeign(t, dir, "a-local.pem", roots[0].PEM())
	addForeign(t, dir, "b-local.pem", roots[1].PEM())
	s := open(t, dir)
	apply(t, s, adds(roots[2], roots[3]))
	if n := len(linkMap(t, dir, false)); n != 4 {
		t.Fatalf("%d links, want 4", n)
	}
	checkGapFree(t, dir)
	set := load(t, s)
	// Mirror-remove a foreign one and remove one of ours.
	apply(t, s, []stores.Change{
		{Action: stores.Remove, Entry: set.Get(stores.FingerprintOf(roots[0].DER))},
		{Action: stores.Remove, Entry: set.Get(stores.FingerprintOf(roots[2].DER))},
	})
	checkGapFree(t, dir)
	fresh := copyFiles(t, dir, false)
	openssl(t, "rehash", fresh)
	compareMaps(t, "after removals", bySet(linkMap(t, dir, false)), bySet(linkMap(t, fresh, false)))
	if _, err := os.Stat(filepath.Join(dir, "a-local.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removed foreign file still there: %v", err)
	}
	for _, r := range []*testpki.Cert{roots[1], roots[3]} {
		leaf := r.Leaf("renumber.test")
		lf := writeFile(t, filepath.Join(t.TempDir(), "leaf.pem"), leaf.PEM())
		openssl(t, "verify", "-CApath", dir, lf)
	}
}

// TestVerifyAfterSync: openssl verify -CApath accepts leaves of added roots,
// directly and through an added intermediate, and refuses others.
func TestVerifyAfterSync(t *testing.T) {
	bin := needOpenSSL(t)
	dir := filepath.Join(t.TempDir(), "certs")
	r1 := testpki.Root("Verify Root One")
	r2 := testpki.Root("Verify Root Two")
	inter := r2.Intermediate("Verify Intermediate")
	other := testpki.Root("Verify Root Not Added")
	s := open(t, dir)
	apply(t, s, adds(r1, r2, inter))
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("folder not created with 0755: %v %v", fi, err)
	}
	tmp := t.TempDir()
	for _, tc := range []struct {
		name string
		leaf *testpki.Cert
		ok   bool
	}{
		{"direct", r1.Leaf("one.test"), true},
		{"intermediate", inter.Leaf("two.test"), true},
		{"not added", other.Leaf("three.test"), false},
	} {
		lf := writeFile(t, filepath.Join(tmp, tc.name+".pem"), tc.leaf.PEM())
		out, err := exec.Command(bin, "verify", "-CApath", dir, lf).CombinedOutput()
		if (err == nil) != tc.ok {
			t.Errorf("%s: openssl verify ok=%v, want %v\n%s", tc.name, err == nil, tc.ok, out)
		}
	}
}

// TestCRLLinkKept: a folder laid out by openssl rehash with a CRL keeps its
// CRL link through adds and removals, and openssl still finds the CRL.
func TestCRLLinkKept(t *testing.T) {
	bin := needOpenSSL(t)
	dir := filepath.Join(t.TempDir(), "certs")
	root := testpki.Root("CRL Root")
	good, revoked := root.Leaf("good.test"), root.Leaf("revoked.test")
	crl, err := x509.CreateRevocationList(nil, &x509.RevocationList{
		Number:     big.NewInt(1),
		ThisUpdate: testpki.NotBefore,
		NextUpdate: testpki.NotAfter,
		RevokedCertificateEntries: []x509.RevocationListEntry{
			{SerialNumber: revoked.Cert.SerialNumber, RevocationTime: testpki.NotBefore},
		},
	}, root.Cert, deterministicSigner{root})
	if err != nil {
		t.Fatal(err)
	}
	addForeign(t, dir, "root.pem", root.PEM())
	addForeign(t, dir, "root.crl", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl}))
	crlLinks := linkMap(t, dir, true)
	if len(crlLinks) != 1 {
		t.Fatalf("openssl rehash made %d CRL links", len(crlLinks))
	}
	before := storetest.Snapshot(t, []string{dir})
	s := open(t, dir)
	extra := colliding(2)
	apply(t, s, adds(extra...))
	apply(t, s, []stores.Change{{Action: stores.Remove, Entry: load(t, s).Get(stores.FingerprintOf(extra[0].DER))}})
	after := storetest.Snapshot(t, []string{dir})
	for name := range crlLinks {
		p := filepath.Join(dir, name)
		if before[p] != after[p] {
			t.Errorf("CRL link %s changed: %s -> %s", name, before[p], after[p])
		}
	}
	tmp := t.TempDir()
	g := writeFile(t, filepath.Join(tmp, "good.pem"), good.PEM())
	r := writeFile(t, filepath.Join(tmp, "revoked.pem"), revoked.PEM())
	if out, err := exec.Command(bin, "verify", "-crl_check", "-CApath", dir, g).CombinedOutput(); err != nil {
		t.Errorf("good leaf with -crl_check: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "verify", "-crl_check", "-CApath", dir, r).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "revoked") {
		t.Errorf("revoked leaf with -crl_check: err=%v\n%s", err, out)
	}
}

type deterministicSigner struct{ c *testpki.Cert }

func (d deterministicSigner) Public() crypto.PublicKey { return d.c.Key.Public() }
func (d deterministicSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return d.c.Key.Sign(nil, digest, opts)
}

// TestRefusedSubject: a certificate OpenSSL cannot load is not added.
func TestRefusedSubject(t *testing.T) {
	// SEQUENCE { SET { SEQUENCE { CN, VisibleString "Visible" } } }
	raw := []byte{0x30, 0x12, 0x31, 0x10, 0x30, 0x0e, 0x06, 0x03, 0x55, 0x04, 0x03, 0x1a, 0x07, 'V', 'i', 's', 'i', 'b', 'l', 'e'}
	der := testpki.RootDER("Refused Root", testpki.RawSubject(raw))
	dir := filepath.Join(t.TempDir(), "certs")
	s := open(t, dir)
	ok := testpki.Root("Refused Companion")
	err := s.Apply(context.Background(), []stores.Change{adds(ok)[0], addDER(der)})
	if err == nil || !strings.Contains(err.Error(), "OpenSSL could not use") {
		t.Fatalf("Apply of a refused subject: %v", err)
	}
	if !strings.Contains(err.Error(), stores.MustParse(der).Subject) {
		t.Errorf("error does not name the certificate: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed Apply left the folder: %v", err)
	}
	if bin := needOpenSSL(t); bin != "" {
		f := writeFile(t, filepath.Join(t.TempDir(), "refused.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		if exec.Command(bin, "x509", "-noout", "-in", f).Run() == nil {
			t.Error("openssl accepts the certificate this test expects it to refuse")
		}
	}
}

// TestFullDiskUndone: a folder on a full disk is left exactly as it was.
func TestFullDiskUndone(t *testing.T) {
	dir := filepath.Join(storetest.TinyFS(t, 48<<10), "certs")
	addForeign(t, dir, "local.pem", testpki.Root("Full Disk Foreign").PEM())
	s := open(t, dir)
	before := storetest.Snapshot(t, s.Paths())
	var ch []stores.Change
	for i := 0; i < 120; i++ {
		ch = append(ch, adds(testpki.Root(fmt.Sprintf("Full Disk %d", i)))...)
	}
	err := s.Apply(context.Background(), ch)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Apply on a full disk: %v, want ENOSPC after some files were written", err)
	}
	storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
}

// TestReusesLink: a link that already names rootsync's file is reused.
func TestReusesLink(t *testing.T) {
	root := testpki.Root("Reuse Root")
	c := stores.MustParse(root.DER)
	h, err := HashName(c.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(OwnedName(c.Fingerprint), filepath.Join(dir, h+".0")); err != nil {
		t.Fatal(err)
	}
	apply(t, open(t, dir), adds(root))
	got := linkMap(t, dir, false)
	want := map[string]string{h + ".0": c.Fingerprint.Short()}
	compareMaps(t, "links", got, want)
}

// TestReadsAnyLayout: files of any name, several certificates per file,
// TRUSTED CERTIFICATE files, links into and out of the folder, duplicates.
func TestReadsAnyLayout(t *testing.T) {
	bin := needOpenSSL(t)
	outside := t.TempDir()
	dir := t.TempDir()
	a, b, c, d := testpki.Root("Layout A"), testpki.Root("Layout B"), testpki.Root("Layout C"), testpki.Root("Layout D")
	writeFile(t, filepath.Join(dir, "bundle.crt"), append(a.PEM(), b.PEM()...))
	writeFile(t, filepath.Join(dir, "a-copy"), a.PEM())
	rootFile := writeFile(t, filepath.Join(outside, "c.pem"), c.PEM())
	trusted, err := exec.Command(bin, "x509", "-in", rootFile, "-addtrust", "serverAuth", "-trustout").Output()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "c-trusted.pem"), trusted)
	writeFile(t, filepath.Join(outside, "d.pem"), d.PEM())
	hd, _ := HashName(stores.MustParse(d.DER).RawSubject)
	if err := os.Symlink(filepath.Join(outside, "d.pem"), filepath.Join(dir, hd+".0")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "d.der"), d.DER) // OpenSSL ignores DER here
	set := load(t, open(t, dir))
	want := map[*testpki.Cert]struct {
		label string
		trust stores.Trust
	}{
		a: {"a-copy", stores.TrustAll()},
		b: {"bundle.crt", stores.TrustAll()},
		c: {"c-trusted.pem", stores.Trust{}.With(stores.ServerAuth, stores.Trusted)},
		d: {"d.pem", stores.TrustAll()},
	}
	if set.Len() != len(want) {
		t.Errorf("%d entries, want %d", set.Len(), len(want))
	}
	for cert, w := range want {
		e := set.Get(stores.FingerprintOf(cert.DER))
		if e == nil {
			t.Errorf("%s missing", cert.Cert.Subject.CommonName)
			continue
		}
		if e.Label != w.label || e.Trust != w.trust || e.Owned {
			t.Errorf("%s: label %q trust %v owned %v, want %q %v foreign", cert.Cert.Subject.CommonName, e.Label, e.Trust, e.Owned, w.label, w.trust)
		}
	}
}

func TestHashName(t *testing.T) {
	root := testpki.Root("Hash Name Root")
	want := strings.TrimSpace(openssl(t, "x509", "-noout", "-subject_hash", "-in", writeFile(t, filepath.Join(t.TempDir(), "r.pem"), root.PEM())))
	got, err := HashName(stores.MustParse(root.DER).RawSubject)
	if err != nil || got != want {
		t.Errorf("HashName = %q, %v; openssl says %q", got, err, want)
	}
}
