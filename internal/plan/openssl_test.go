package plan

import (
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// visibleName is a Name whose common name is a VisibleString, a string type
// OpenSSL does not decode.
func visibleName(cn string) []byte {
	atv := append([]byte{0x30, byte(5 + 2 + len(cn)), 0x06, 0x03, 0x55, 0x04, 0x03, 0x1a, byte(len(cn))}, cn...)
	set := append([]byte{0x31, byte(len(atv))}, atv...)
	return append([]byte{0x30, byte(len(set))}, set...)
}

// TestOpenSSLCannotLoad: a certificate OpenSSL cannot load is not added to a
// target read with OpenSSL (warning openssl-cannot-load naming it), is added
// to other targets, and does not stop the other certificates.
func TestOpenSSLCannotLoad(t *testing.T) {
	visible := &stores.Entry{Cert: stores.MustParse(testpki.RootDER("Plan Visible Root", testpki.RawSubject(visibleName("Plan Visible Root")))), Trust: stores.TrustAll()}
	d := Merge([]Source{{Name: "pem:src", Set: set(rootA, visible)}}, Options{Now: now})
	openssl := stores.Capabilities{Ownership: true, ReadByOpenSSL: true}
	for _, tc := range []struct {
		name string
		caps stores.Capabilities
		want string
		warn bool
	}{
		{"read by OpenSSL", openssl, "add:Plan Root A=all", true},
		{"not read by OpenSSL", bundle, "add:CN=Plan Visible Root=all add:Plan Root A=all", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := For("pem:target", d, stores.NewSet(), tc.caps, Options{Now: now})
			if got := summary(p); got != tc.want {
				t.Errorf("plan %q, want %q", got, tc.want)
			}
			var found *Warning
			for i, w := range p.Warnings {
				if w.Code == CodeOpenSSLCannotLoad {
					found = &p.Warnings[i]
				}
			}
			if (found != nil) != tc.warn {
				t.Fatalf("warnings %+v; want openssl-cannot-load: %v", p.Warnings, tc.warn)
			}
			if found != nil && (len(found.Certs) != 1 || found.Certs[0].Fingerprint != visible.Cert.Fingerprint) {
				t.Errorf("warning names %+v, want the VisibleString root", found.Certs)
			}
		})
	}
}

// TestOpenSSLCannotLoadHeld: a target read with OpenSSL that already holds
// such a certificate (an earlier version added it) loses it where the mode
// allows (prune for rootsync's own entry, mirror for any), and otherwise
// keeps it with a warning that names the mode that would remove it.
func TestOpenSSLCannotLoadHeld(t *testing.T) {
	visible := &stores.Entry{Cert: stores.MustParse(testpki.RootDER("Plan Visible Root", testpki.RawSubject(visibleName("Plan Visible Root")))), Trust: stores.TrustAll()}
	d := Merge([]Source{{Name: "pem:src", Set: set(rootA, visible)}}, Options{Now: now})
	openssl := stores.Capabilities{Ownership: true, ReadByOpenSSL: true}
	for _, tc := range []struct {
		name    string
		mode    Mode
		owned   bool
		want    string
		warning string
	}{
		{"add mode keeps it", AddOnly, true, "", "add mode does not remove them (use --mode prune)"},
		{"prune removes rootsync's", Prune, true, "remove:CN=Plan Visible Root", ""},
		{"prune keeps a foreign one", Prune, false, "", "prune mode does not remove them (use --mode mirror)"},
		{"mirror removes any", Mirror, false, "remove:CN=Plan Visible Root", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			current := set(with(rootA, stores.TrustAll(), true), with(visible, stores.TrustAll(), tc.owned))
			p := For("pem:target", d, current, openssl, Options{Now: now, Mode: tc.mode})
			if got := summary(p); got != tc.want {
				t.Errorf("plan %q, want %q", got, tc.want)
			}
			for _, c := range p.Changes {
				if c.ReasonCode != string(CodeOpenSSLCannotLoad) {
					t.Errorf("reason code %q, want %s", c.ReasonCode, CodeOpenSSLCannotLoad)
				}
			}
			var msg string
			for _, w := range p.Warnings {
				if w.Code == CodeOpenSSLCannotLoad {
					msg = w.Message
				}
			}
			if (msg != "") != (tc.warning != "") || !strings.Contains(msg, tc.warning) {
				t.Errorf("warning %q, want one containing %q", msg, tc.warning)
			}
		})
	}
}
