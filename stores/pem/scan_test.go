package pem

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// Load reads a bundle block by block (scan); what it makes of a bundle must
// be exactly what a whole read makes of it (Entries of ParseFile): labels,
// trust, ownership lines, aliases and duplicates folded with their notes.
func TestScanMatchesWholeRead(t *testing.T) {
	a, b, c := testpki.Root("Scan A"), testpki.Root("Scan B"), testpki.Root("Scan C")
	trusted := stores.EncodeTrustedCertificatePEM(c.DER, &stores.Aux{HasAlias: true, Alias: []byte("my root")})
	cases := map[string]string{
		"plain":           string(a.PEM()) + string(b.PEM()),
		"owned":           OwnerLine(stores.MustParse(a.DER)) + string(a.PEM()) + "# a comment\n" + string(b.PEM()),
		"duplicate":       string(a.PEM()) + "\n" + string(b.PEM()) + string(a.PEM()),
		"trusted":         "title\n=====\n\n" + string(trusted) + string(a.PEM()),
		"text after":      string(a.PEM()) + "trailing text without a line break",
		"crlf":            "# rootsync: x\r\n" + string(b.PEM()),
		"owner then text": OwnerLine(stores.MustParse(a.DER)) + "other\n" + string(a.PEM()),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.pem")
			if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			s := open(t, path).(*Store)
			scanned, ok := s.scan()
			if !ok {
				t.Fatal("scan refused a plain bundle")
			}
			f, err := ParseFile(path, []byte(data))
			if err != nil {
				t.Fatal(err)
			}
			whole := Entries(f)
			if got, want := scanned.Entries(), whole.Entries(); !reflect.DeepEqual(got, want) {
				t.Errorf("scan made a different set:\n%v\nwhole read:\n%v", describe(got), describe(want))
			}
			loaded, err := s.Load(context.Background())
			if err != nil || loaded.Len() != whole.Len() {
				t.Errorf("Load: %d entries, %v; want %d", loaded.Len(), err, whole.Len())
			}
		})
	}
}

// Anything but a plain bundle is left to the whole read, which names the
// problem: no certificate, a private key, a NUL byte, a bad block, DER.
func TestScanLeavesOddFilesToWholeRead(t *testing.T) {
	a := testpki.Root("Scan odd")
	cases := map[string][]byte{
		"empty":     nil,
		"comments":  []byte("# nothing here\n"),
		"key":       append(append([]byte(nil), a.PEM()...), a.KeyPEM()...),
		"nul":       append(append([]byte(nil), a.PEM()...), 0),
		"bad block": []byte("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
		"no end":    []byte("-----BEGIN CERTIFICATE-----\nAAAA\n"),
		"der":       a.DER,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.pem")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, ok := open(t, path).(*Store).scan(); ok {
				t.Error("scan accepted it; the whole read must judge it")
			}
		})
	}
}

func describe(es []*stores.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Label+" "+e.Cert.Fingerprint.Short()+" "+e.Trust.String()+" owned="+map[bool]string{true: "yes", false: "no"}[e.Owned]+" "+stringsJoin(e.Notes))
	}
	return out
}

func stringsJoin(xs []string) string {
	s := ""
	for _, x := range xs {
		s += "[" + x + "]"
	}
	return s
}

// TestScanAllocationsPerCertificate: loading a bundle of certificates in
// use (a target read after its source) costs one allocation per
// certificate (its label), not an entry each and a set grown again and
// again.
func TestScanAllocationsPerCertificate(t *testing.T) {
	var pems []byte
	var held []*stores.Certificate
	dir := t.TempDir()
	per := map[int]float64{}
	for i := range 400 {
		r := testpki.Root(fmt.Sprintf("Scan Allocations Root %d", i))
		held = append(held, stores.MustParse(r.DER))
		pems = append(pems, r.PEM()...)
		if i+1 == 200 || i+1 == 400 {
			path := filepath.Join(dir, fmt.Sprint(i+1, ".pem"))
			if err := os.WriteFile(path, pems, 0o644); err != nil {
				t.Fatal(err)
			}
			s, _ := Open(stores.Spec{Kind: "pem", Location: path}, stores.OpenOptions{})
			per[i+1] = testing.AllocsPerRun(5, func() {
				if set, err := s.Load(context.Background()); err != nil || set.Len() != i+1 {
					t.Fatalf("Load: %v", err)
				}
			})
		}
	}
	if d := (per[400] - per[200]) / 200; d > 1.1 {
		t.Errorf("%.2f allocations per certificate (%v for 200, %v for 400), want at most 1.1", d, per[200], per[400])
	}
	runtime.KeepAlive(held)
}

// TestOwnerLineAsStringsMap: the ownership line is the prefix and the
// subject with its control characters as '?', exactly as strings.Map wrote
// it (invalid UTF-8 as U+FFFD, other text as it is).
func TestOwnerLineAsStringsMap(t *testing.T) {
	for _, subject := range []string{"CN=Plain Root", "CN=Evil\nRoot\r\t\x00\x7f", "CN=\xff\xfe bad", "CN=\ufffd kept", "CN=Ünïcødé 日本", "", "\x1b[2J", "CN=a\xc3"} {
		want := OwnerPrefix + strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return '?'
			}
			return r
		}, subject) + "\n"
		if got := OwnerLine(&stores.Certificate{Subject: subject}); got != want {
			t.Errorf("OwnerLine of %q = %q, want %q", subject, got, want)
		}
	}
}

// TestApplyAllocationsPerCertificate: adding certificates to a new bundle
// allocates no block, piece or map room per certificate one by one: twice
// the certificates cost about as many allocations.
func TestApplyAllocationsPerCertificate(t *testing.T) {
	var changes []stores.Change
	for i := range 400 {
		c := stores.MustParse(testpki.Root(fmt.Sprintf("Apply Allocations Root %d", i)).DER)
		changes = append(changes, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: c, Trust: stores.TrustAll()}})
	}
	dir := t.TempDir()
	per := func(n int) float64 {
		path := filepath.Join(dir, fmt.Sprint(n, ".pem"))
		s, _ := Open(stores.Spec{Kind: "pem", Location: path}, stores.OpenOptions{})
		return testing.AllocsPerRun(5, func() {
			_ = os.Remove(path)
			if err := s.Apply(context.Background(), changes[:n]); err != nil {
				t.Fatal(err)
			}
		})
	}
	if d := (per(400) - per(200)) / 200; d > 0.5 {
		t.Errorf("%.2f allocations per certificate added, want at most 0.5", d)
	}
}
