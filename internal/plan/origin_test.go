package plan

import (
	"strings"
	"testing"

	"github.com/rootsync/rootsync/stores"
)

func TestParseOrigin(t *testing.T) {
	for _, s := range []string{"local", "public", "all"} {
		o, err := ParseOrigin(s)
		if err != nil || o.String() != s {
			t.Errorf("ParseOrigin(%q) = %v, %v", s, o, err)
		}
	}
	for _, s := range []string{"", "default", "Local", "web"} {
		if _, err := ParseOrigin(s); err == nil {
			t.Errorf("ParseOrigin(%q) accepted", s)
		}
	}
}

// TestOriginMessages checks that the plan says how to settle what an origin
// leaves out: the default's kept roots name --origin and --max-removals, an
// explicit origin's refusal names --origin all.
func TestOriginMessages(t *testing.T) {
	public := map[stores.Fingerprint]bool{rootA.Cert.Fingerprint: true, rootB.Cert.Fingerprint: true, rootC.Cert.Fingerprint: true}
	owned := set(with(rootA, stores.TrustAll(), true), with(rootB, stores.TrustAll(), true), with(rootC, stores.TrustAll(), true))
	srcs := []Source{{Name: "system", Set: set(rootA, rootB, rootC)}}
	opts := Options{Mode: Prune, Purposes: []stores.Purpose{stores.ClientAuth}, Now: now, Public: public}

	p := For("pem:/etc/nginx/client-ca.pem", Merge(srcs, opts), owned, bundle, opts)
	if p.Refused != nil || len(p.Warnings) != 1 {
		t.Fatalf("default origin: refused %v, warnings %+v", p.Refused, p.Warnings)
	}
	for _, want := range []string{"--origin local", "--max-removals", "--origin all", "pem:/etc/nginx/client-ca.pem"} {
		if !strings.Contains(p.Warnings[0].Message, want) {
			t.Errorf("origin-kept message %q does not name %q", p.Warnings[0].Message, want)
		}
	}

	opts.Origin = OriginLocal
	p = For("pem:/etc/nginx/client-ca.pem", Merge(srcs, opts), owned, bundle, opts)
	if p.Refused == nil {
		t.Fatal("explicit --origin local removing every root was not refused")
	}
	for _, want := range []string{"--max-removals 3", "--origin all"} {
		if !strings.Contains(p.Refused.Message, want) {
			t.Errorf("refusal %q does not name %q", p.Refused.Message, want)
		}
	}
	if r := p.Changes[0].ReasonCode; r != string(CodeOrigin) {
		t.Errorf("reason code %q, want %q", r, CodeOrigin)
	}
}

func TestPurposeUnspecifiedNamesCertutil(t *testing.T) {
	e := with(rootA, stores.Trust{}.With(stores.ServerAuth, stores.Trusted), false)
	e.Label = "Corp Root"
	opts := Options{Purposes: []stores.Purpose{stores.ClientAuth}, Now: now}
	d := Merge([]Source{{Name: "nss:/home/alice/.pki/nssdb", Set: set(e), PerPurpose: true}}, opts)
	if len(d.Warnings) != 1 || d.Warnings[0].Code != CodePurposeUnspecified {
		t.Fatalf("warnings %+v", d.Warnings)
	}
	want := "certutil -M -n 'Corp Root' -t CT,, -d sql:/home/alice/.pki/nssdb"
	if !strings.Contains(d.Warnings[0].Message, want) {
		t.Errorf("message %q does not hold %q", d.Warnings[0].Message, want)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"abc": "abc", "a b": "'a b'", "it's": `'it'\''s'`, "": "''", "/x/y:z": "/x/y:z"} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
