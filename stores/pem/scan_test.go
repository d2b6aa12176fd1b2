package pem

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
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
