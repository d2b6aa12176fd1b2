package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// Two roots whose SHA-256 fingerprints share their first 8 hex digits
// (dd482366), found by generating testpki roots named "Prefix Root N".
var (
	twinA = entry(testpki.Root("Prefix Root 20348"), stores.TrustAll())
	twinB = entry(testpki.Root("Prefix Root 52355"), stores.TrustAll())
)

func TestCheckPrefixes(t *testing.T) {
	const shared = "dd482366"
	long := twinA.Cert.Fingerprint.Short()
	tests := []struct {
		name      string
		opts      Options
		sets      []*stores.Set
		wantErr   string // "" for no error, else the start of the message
		wantCerts int
	}{
		{name: "the fixture shares its prefix", opts: Options{Only: []string{shared}}, sets: []*stores.Set{set(twinA), set(twinB)},
			wantErr: `only prefix "dd482366" matches 2 certificates: dd482366`, wantCerts: 2},
		{name: "ambiguous exclude within one store", opts: Options{Exclude: []string{"DD:48:23:66"}}, sets: []*stores.Set{set(twinA, twinB, rootC)},
			wantErr: `exclude prefix "DD:48:23:66" matches 2 certificates`, wantCerts: 2},
		{name: "a longer prefix names one", opts: Options{Exclude: []string{long}, Only: []string{long}}, sets: []*stores.Set{set(twinA, twinB)}},
		{name: "the same certificate in several stores is one", opts: Options{Exclude: []string{shared}}, sets: []*stores.Set{set(twinA), set(twinA)}},
		{name: "a prefix that matches nothing is no error", opts: Options{Exclude: []string{"00000000"}}, sets: []*stores.Set{set(twinA, twinB)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPrefixes(tt.opts, tt.sets...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			var ae *AmbiguousPrefixError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want an AmbiguousPrefixError", err)
			}
			if !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("message:\n got  %q\n want %q...", err.Error(), tt.wantErr)
			}
			if len(ae.Certs) != tt.wantCerts || !strings.Contains(err.Error(), "CN=Prefix Root 20348") || !strings.Contains(err.Error(), "CN=Prefix Root 52355") {
				t.Errorf("got %d certificates in %q, want %d naming both roots", len(ae.Certs), err.Error(), tt.wantCerts)
			}
			if stores.HintOf(err) == "" {
				t.Error("no hint")
			}
		})
	}
}

func TestCheckPrefix(t *testing.T) {
	tests := []struct {
		name, prefix string
		ok           bool
	}{
		{"8 hex digits", "dd482366", true},
		{"upper case with colons", "DD:48:23:66:AB", true},
		{"a full fingerprint", twinA.Cert.Fingerprint.String(), true},
		{"7 hex digits", "dd48236", false},
		{"colons do not count", "dd:48:23:6", false},
		{"not hex", "zzzzzzzz", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckPrefix(tt.prefix); (err == nil) != tt.ok {
				t.Errorf("CheckPrefix(%q) = %v, want ok=%v", tt.prefix, err, tt.ok)
			}
		})
	}
}
