package pem

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// A target is written only when it is a bundle: what is not is refused by
// Load (so diff reports it) and by Apply, naming the file, changing nothing.
// curl's cacert.pem shape (comment header, underlined titles) stays a bundle.
func TestCheckKind(t *testing.T) {
	root := testpki.Root("Kind Check Root")
	cert := string(root.PEM())
	curl := "##\n## Bundle of CA Root Certificates\n##\n## Certificate data from Mozilla as of: Tue Jan  1 00:00:00 2030 GMT\n##\n\n" +
		"Kind Check Root\n===============\n" + cert + "\n"
	tests := []struct {
		name    string
		content string
		want    error // nil: a bundle
		inMsg   string
	}{
		{"empty file", "", nil, ""},
		{"only blank lines", "\n\n  \n", nil, ""},
		{"only comments", "# nothing here yet\n# really\n", nil, ""},
		{"curl cacert.pem", curl, nil, ""},
		{"curl header without certificates", "##\n## Bundle of CA Root Certificates\n##\n\nSome Title\n==========\n\n", nil, ""},
		{"certificates and free text", "some text\n" + cert + "more text\n", nil, ""},
		{"DER certificate", string(root.DER), nil, ""},
		{"plain text", "hello\nworld\n", stores.ErrWrongKind, "line 1"},
		{"comment then text", "# ok\nserver_name example.com;\n", stores.ErrWrongKind, "line 2"},
		{"NUL bytes", "# bundle\n\x00\x00\x00\n", stores.ErrWrongKind, "NUL"},
		{"JKS keystore", "\xfe\xed\xfe\xed\x00\x00\x00\x02\x00\x00\x00\x00", stores.ErrWrongKind, "NUL"},
		{"SQLite database", "SQLite format 3\x00\x10\x00", stores.ErrWrongKind, "NUL"},
		{"private key with certificate", cert + string(root.KeyPEM()), stores.ErrWrongKind, "private key"},
		{"private key alone", string(root.KeyPEM()), stores.ErrWrongKind, "private key"},
		{"CRL only", "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n", stores.ErrWrongKind, "X509 CRL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bundle.pem")
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			s := open(t, path)
			before := storetest.Snapshot(t, s.Paths())
			_, loadErr := s.Load(context.Background())
			applyErr := s.Apply(context.Background(), add(testpki.Root("Kind Check Added")))
			if tc.want == nil {
				if loadErr != nil || applyErr != nil {
					t.Fatalf("a bundle refused: Load %v, Apply %v", loadErr, applyErr)
				}
				if got := load(t, s).Get(stores.FingerprintOf(testpki.Root("Kind Check Added").DER)); got == nil {
					t.Fatal("Apply did not add the root")
				}
				return
			}
			for what, err := range map[string]error{"Load": loadErr, "Apply": applyErr} {
				var se *stores.Error
				switch {
				case !errors.Is(err, tc.want):
					t.Errorf("%s: %v, want %v", what, err, tc.want)
				case !errors.As(err, &se) || se.Path != path || se.Hint == "":
					t.Errorf("%s: %v is not an *stores.Error naming %s with a hint", what, err, path)
				case !strings.Contains(err.Error(), tc.inMsg):
					t.Errorf("%s: %q does not say %q", what, err, tc.inMsg)
				}
			}
			storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
		})
	}
}

// A certificate held by many blocks gets one note naming the first few other
// blocks in file order and how many more, whatever the file's size.
func TestDuplicateNote(t *testing.T) {
	a, b := testpki.Root("Dup Root A"), testpki.Root("Dup Root B")
	var content []byte
	for i := 0; i < 10_000; i++ {
		if i == 2 {
			content = append(content, b.PEM()...)
		}
		content = append(content, a.PEM()...)
	}
	content = append(content, b.PEM()...)
	path := filepath.Join(t.TempDir(), "dup.pem")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	set := load(t, open(t, path))
	ea, eb := set.Get(stores.FingerprintOf(a.DER)), set.Get(stores.FingerprintOf(b.DER))
	wantA := []string{"blocks 2, 4, 5 and 9996 more hold the same certificate again (folded into block 1)"}
	wantB := []string{"block 10002 holds the same certificate again (folded into block 3)"}
	if strings.Join(ea.Notes, "|") != strings.Join(wantA, "|") {
		t.Errorf("notes of A = %q, want %q", ea.Notes, wantA)
	}
	if strings.Join(eb.Notes, "|") != strings.Join(wantB, "|") {
		t.Errorf("notes of B = %q, want %q", eb.Notes, wantB)
	}
}
