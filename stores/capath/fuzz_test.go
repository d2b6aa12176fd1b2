package capath

import (
	"bytes"
	"context"
	encpem "encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// FuzzRoundTrip: what Apply writes into a new hashed folder, Load reads back
// (see storetest.RoundTrip).
func FuzzRoundTrip(f *testing.F) {
	storetest.FuzzSeeds(f)
	f.Fuzz(func(t *testing.T, ops []byte, names string) {
		storetest.RoundTrip(t, ops, names, func(t *testing.T, dir string) stores.Store {
			return open(t, filepath.Join(dir, "certs"))
		})
	})
}

// fuzzFolder builds a hashed folder from a txtar-like text: each "-- NAME --"
// line starts a file holding the lines up to the next header, and
// "-- NAME -> TARGET --" makes NAME a symbolic link to TARGET (a name in the
// folder, or ../NAME for a file beside it, which "-- ../NAME --" writes).
// Names that could leave the sandbox are skipped. It returns the folder and
// the content of every file it wrote.
func fuzzFolder(t *testing.T, text string) (string, [][]byte) {
	base := t.TempDir()
	dir := filepath.Join(base, "certs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var contents [][]byte
	safe := func(name string) (string, bool) {
		where := dir
		if rest, ok := strings.CutPrefix(name, "../"); ok {
			where, name = base, rest
		}
		if name == "" || name == "." || name == ".." || name == "certs" || strings.ContainsAny(name, "/\x00") || len(name) > 100 {
			return "", false
		}
		return filepath.Join(where, name), true
	}
	sections := strings.Split("\n"+text, "\n-- ")
	for i, sec := range sections[1:] {
		if i == 32 {
			break
		}
		header, body, _ := strings.Cut(sec, "\n")
		header, ok := strings.CutSuffix(header, " --")
		if !ok {
			continue
		}
		if name, target, isLink := strings.Cut(header, " -> "); isLink {
			p, ok := safe(name)
			if _, tok := safe(target); !ok || !tok || filepath.Dir(p) != dir {
				continue
			}
			_ = os.Symlink(target, p)
			continue
		}
		p, ok := safe(header)
		if !ok {
			continue
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err == nil {
			contents = append(contents, []byte(body))
		}
	}
	return dir, contents
}

// seedFolder is a folder as Apply writes it, with a foreign TRUSTED
// CERTIFICATE file, a bundle of two, a link to a file beside the folder and
// a CRL link, in fuzzFolder's format.
func seedFolder(t testing.TB) string {
	dir := filepath.Join(t.TempDir(), "certs")
	s := open(t, dir)
	if err := s.Apply(context.Background(), adds(testpki.Root("Fuzz Capath A"), testpki.Root("Fuzz Capath B"))); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		p := filepath.Join(dir, de.Name())
		if target, err := os.Readlink(p); err == nil {
			fmt.Fprintf(&b, "-- %s -> %s --\n", de.Name(), target)
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "-- %s --\n%s", de.Name(), data)
	}
	c := testpki.Root("Fuzz Capath Trusted")
	aux := stores.EncodeTrustedCertificatePEM(c.DER, stores.AuxFor(stores.Trust{}.With(stores.ServerAuth, stores.Trusted).With(stores.Email, stores.Distrusted), "fuzz alias"))
	h, _ := HashName(c.Cert.RawSubject)
	fmt.Fprintf(&b, "-- local-trusted.pem --\n%s-- %s.0 -> local-trusted.pem --\n", aux, h)
	fmt.Fprintf(&b, "-- bundle.crt --\n# two\n%s%s", testpki.Root("Fuzz Capath C").PEM(), testpki.Root("Fuzz Capath D").PEM())
	fmt.Fprintf(&b, "-- ../outside.pem --\n%s-- outside.pem -> ../outside.pem --\n", testpki.Root("Fuzz Capath Outside").PEM())
	fmt.Fprintf(&b, "-- %s.r0 --\n-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n", h)
	return b.String()
}

// FuzzReadFolder feeds Load arbitrary folders: file names and contents, HASH.N
// and other links, links that dangle, loop or leave the folder. Load either
// fails or reads only certificates the files hold, marks as rootsync's only
// rootsync's file names, and reads the same twice. Then an Add and a Remove
// (of the entry pick chooses) either fail leaving every byte as it was, or
// change that certificate and keep every other entry with its trust.
func FuzzReadFolder(f *testing.F) {
	readFolderSeeds(f, f)
	f.Fuzz(fuzzReadFolder)
}

func readFolderSeeds(tb testing.TB, f storetest.Seeder) {
	f.Add(seedFolder(tb), byte(0))
	f.Add(seedFolder(tb), byte(3))
	f.Add("-- a.pem -> b.pem --\n-- b.pem -> a.pem --\n-- cert9.db --\n", byte(0))
	f.Add("-- 0123abcd.0 -> 0123abcd.0 --\n-- 0123abcd.1 -> ../x --\n-- x.pem --\n-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", byte(1))
}

func fuzzReadFolder(t *testing.T, text string, pick byte) {
	dir, contents := fuzzFolder(t, text)
	s := open(t, dir)
	ctx := context.Background()
	before, err := s.Load(ctx)
	if err != nil {
		var se *stores.Error
		if !errors.As(err, &se) || se.Path == "" {
			t.Fatalf("Load error names no file: %v", err)
		}
		return
	}
	again, err := s.Load(ctx)
	if err != nil {
		t.Fatalf("second Load: %v", err)
	}
	if d := fmt.Sprint(summary(before)); d != fmt.Sprint(summary(again)) {
		t.Fatalf("two Loads differ:\n%s\n%s", d, fmt.Sprint(summary(again)))
	}
	for _, e := range before.Entries() {
		if e.Owned && !ownedRE.MatchString(e.Label) {
			t.Errorf("%s: owned, but its file %q is not rootsync's", e.Cert.Subject, e.Label)
		}
		if !heldBy(e.Cert.DER, contents) {
			t.Errorf("%s: read, but no file holds it", e.Cert.Subject)
		}
	}

	added := stores.MustParse(testpki.Root("Fuzz Capath Added").DER)
	ch := []stores.Change{{Action: stores.Add, Entry: &stores.Entry{Cert: added, Trust: stores.TrustAll()}}}
	var removed *stores.Entry
	if es := before.Entries(); len(es) > 0 {
		removed = es[int(pick)%len(es)]
		ch = append(ch, stores.Change{Action: stores.Remove, Entry: removed})
	}
	if before.Get(added.Fingerprint) != nil {
		ch = ch[1:]
	}
	snap := storetest.Snapshot(t, []string{filepath.Dir(dir)})
	if err := s.Apply(ctx, ch); err != nil {
		storetest.Compare(t, snap, storetest.Snapshot(t, []string{filepath.Dir(dir)}))
		return
	}
	after, err := s.Load(ctx)
	if err != nil {
		t.Fatalf("Load after Apply: %v", err)
	}
	if e := after.Get(added.Fingerprint); e == nil || !e.Owned || e.Trust != stores.TrustAll() {
		t.Errorf("added certificate read back as %+v", e)
	}
	if removed != nil && after.Get(removed.Cert.Fingerprint) != nil {
		t.Errorf("%s: still read after its Remove", removed.Cert.Subject)
	}
	for _, e := range before.Entries() {
		if removed != nil && e.Cert.Fingerprint == removed.Cert.Fingerprint {
			continue
		}
		g := after.Get(e.Cert.Fingerprint)
		switch {
		case g == nil:
			t.Errorf("%s: lost by a change that did not name it", e.Cert.Subject)
		case g.Trust != e.Trust || g.Owned != e.Owned:
			t.Errorf("%s: trust %v owned %v after a change that did not name it, was %v %v", e.Cert.Subject, g.Trust, g.Owned, e.Trust, e.Owned)
		}
	}
}

type entrySummary struct {
	fp    string
	trust stores.Trust
	owned bool
	label string
	notes string
}

func summary(s *stores.Set) []entrySummary {
	var out []entrySummary
	for _, e := range s.Entries() {
		out = append(out, entrySummary{e.Cert.Fingerprint.Short(), e.Trust, e.Owned, e.Label, strings.Join(e.Notes, "|")})
	}
	return out
}

// heldBy reports whether some PEM block of some file holds der.
func heldBy(der []byte, contents [][]byte) bool {
	for _, c := range contents {
		for rest := c; ; {
			var b *encpem.Block
			b, rest = encpem.Decode(rest)
			if b == nil {
				break
			}
			if bytes.Contains(b.Bytes, der) {
				return true
			}
		}
	}
	return false
}
