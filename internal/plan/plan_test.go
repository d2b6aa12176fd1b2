package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

var (
	now     = time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	rootA   = entry(testpki.Root("Plan Root A"), stores.TrustAll())
	rootB   = entry(testpki.Root("Plan Root B"), stores.TrustAll())
	rootC   = entry(testpki.Root("Plan Root C"), stores.TrustAll())
	expired = entry(testpki.Root("Plan Expired Root", testpki.Validity(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))), stores.TrustAll())
	leaf    = entry(testpki.Root("Plan Root A").Leaf("leaf.test"), stores.TrustAll())
	client  = entry(testpki.Root("Plan Client Root"), stores.Trust{}.With(stores.ClientAuth, stores.Trusted))
	// badKU is a leaf and badBC a root whose CA status cannot be determined:
	// the parser refuses their malformed extensions.
	badKU = &stores.Entry{Cert: stores.MustParse(testpki.Root("Plan Root A").LeafDER("bad-ku.test", testpki.MalformedKeyUsage())), Trust: stores.TrustAll()}
	badBC = &stores.Entry{Cert: stores.MustParse(testpki.RootDER("Plan Bad BC Root", testpki.MalformedBasicConstraints())), Trust: stores.TrustAll()}
)

func entry(c *testpki.Cert, t stores.Trust) *stores.Entry {
	return &stores.Entry{Cert: stores.MustParse(c.DER), Trust: t}
}

func with(e *stores.Entry, t stores.Trust, owned bool) *stores.Entry {
	cp := *e
	cp.Trust, cp.Owned = t, owned
	return &cp
}

func set(es ...*stores.Entry) *stores.Set {
	s := stores.NewSet()
	for _, e := range es {
		s.Add(e)
	}
	return s
}

var (
	lossless = stores.Capabilities{PerPurpose: true, Distrust: true, Ownership: true}
	bundle   = stores.Capabilities{Ownership: true}
)

// summary renders a plan as "add:A remove:B trust:C=..." for comparison.
func summary(p *Plan) string {
	var parts []string
	for _, c := range p.Changes {
		s := c.Action.String() + ":" + c.Entry.Cert.CommonName()
		if c.Action != stores.Remove {
			s += "=" + c.Entry.Trust.String()
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func codes(ws []Warning) string {
	var out []string
	for _, w := range ws {
		out = append(out, string(w.Code))
	}
	return strings.Join(out, ",")
}

func TestPlans(t *testing.T) {
	distrustA := with(rootA, stores.DistrustAll(), false)
	tests := []struct {
		name         string
		sources      [][]*stores.Entry
		target       *stores.Set
		caps         stores.Capabilities
		mode         Mode
		purposes     []stores.Purpose
		includeNonCA bool
		want         string
		wantWarn     string // target warnings
		wantMergeW   string // desired-state warnings
		wantKept     int
		wantUnchange int
		// bundleSrc: the sources cannot record purposes.
		bundleSrc bool
		// origin, public (the packaged root set) and target (default
		// spec, default "test:target") for the origin cases.
		origin      Origin
		public      []*stores.Entry
		spec        string
		wantRefused bool
	}{
		{name: "adds missing roots", sources: [][]*stores.Entry{{rootA, rootB}}, target: set(), caps: bundle,
			want: "add:Plan Root A=all add:Plan Root B=all"},
		{name: "in sync is empty", sources: [][]*stores.Entry{{rootA}}, target: set(rootA), caps: bundle, wantUnchange: 1},
		{name: "add mode keeps foreign and owned extras", sources: [][]*stores.Entry{{rootA}},
			target: set(rootA, rootB, with(rootC, stores.TrustAll(), true)), caps: bundle, wantKept: 2, wantUnchange: 1},
		{name: "prune removes only owned extras", sources: [][]*stores.Entry{{rootA}}, mode: Prune,
			target: set(rootA, rootB, with(rootC, stores.TrustAll(), true)), caps: bundle,
			want: "remove:Plan Root C", wantKept: 1, wantUnchange: 1},
		{name: "mirror removes foreign extras too", sources: [][]*stores.Entry{{rootA}}, mode: Mirror,
			target: set(rootB, with(rootC, stores.TrustAll(), true)), caps: bundle,
			want: "remove:Plan Root B remove:Plan Root C add:Plan Root A=all"},
		{name: "distrust wins across sources", sources: [][]*stores.Entry{{rootA}, {distrustA}}, target: set(), caps: lossless,
			want: "add:Plan Root A=distrusted", wantMergeW: "conflict"},
		{name: "distrust into a bundle means absence", sources: [][]*stores.Entry{{distrustA}}, target: set(), caps: bundle},
		{name: "distrust of a foreign bundle entry in add mode warns", sources: [][]*stores.Entry{{distrustA}}, target: set(rootA), caps: bundle,
			wantWarn: "still-trusted", wantKept: 1},
		{name: "distrust removes an owned bundle entry in prune mode", sources: [][]*stores.Entry{{distrustA}}, mode: Prune,
			target: set(with(rootA, stores.TrustAll(), true)), caps: bundle, want: "remove:Plan Root A", wantRefused: true},
		{name: "distrust changes trust in a lossless store even in add mode", sources: [][]*stores.Entry{{distrustA}},
			target: set(rootA), caps: lossless, want: "trust:Plan Root A=distrusted"},
		{name: "add mode never narrows trust", sources: [][]*stores.Entry{{client}},
			target: set(with(client, stores.TrustAll(), false)), caps: lossless, wantUnchange: 1},
		{name: "add mode widens trust", sources: [][]*stores.Entry{{rootA}},
			target: set(with(rootA, stores.Trust{}.With(stores.ServerAuth, stores.Trusted), false)), caps: lossless,
			want: "trust:Plan Root A=all"},
		{name: "mirror narrows trust exactly", sources: [][]*stores.Entry{{client}}, mode: Mirror,
			target: set(with(client, stores.TrustAll(), false)), caps: lossless, want: "trust:Plan Client Root=client-auth"},
		{name: "add mode keeps the target's own distrust", sources: [][]*stores.Entry{{rootA}},
			target: set(distrustA), caps: lossless, wantWarn: "kept-distrust", wantUnchange: 1},
		{name: "per-purpose trust into a bundle is lossy", sources: [][]*stores.Entry{{client}}, target: set(), caps: bundle,
			want: "add:Plan Client Root=all", wantWarn: "lossy-purpose"},
		{name: "purpose filter makes it exact", sources: [][]*stores.Entry{{client, rootA}}, target: set(), caps: bundle,
			purposes: []stores.Purpose{stores.ClientAuth}, want: "add:Plan Client Root=all add:Plan Root A=all"},
		{name: "purpose filter drops roots not trusted for it", sources: [][]*stores.Entry{{client, with(rootB, stores.Trust{}.With(stores.ServerAuth, stores.Trusted), false)}},
			target: set(), caps: lossless, purposes: []stores.Purpose{stores.ClientAuth}, want: "add:Plan Client Root=client-auth",
			wantMergeW: "purpose-unspecified"},
		{name: "a purpose filter on a source that cannot record purposes warns", sources: [][]*stores.Entry{{rootA}}, bundleSrc: true,
			target: set(), caps: bundle, purposes: []stores.Purpose{stores.ClientAuth}, want: "add:Plan Root A=all", wantMergeW: "no-purposes"},
		{name: "without a purpose filter a source that cannot record purposes is no news", sources: [][]*stores.Entry{{rootA}}, bundleSrc: true,
			target: set(), caps: bundle, want: "add:Plan Root A=all"},
		{name: "client-auth into a pem target takes only local roots by default", sources: [][]*stores.Entry{{rootA, rootB}}, bundleSrc: true,
			public: []*stores.Entry{rootA}, spec: "pem:/client-ca.pem", caps: bundle, purposes: []stores.Purpose{stores.ClientAuth},
			want: "add:Plan Root B=all", wantMergeW: "no-purposes", wantWarn: "origin"},
		{name: "client-auth into a capath target takes only local roots by default", sources: [][]*stores.Entry{{rootA, rootB}},
			public: []*stores.Entry{rootA}, spec: "capath:/ca", caps: bundle, purposes: []stores.Purpose{stores.ClientAuth},
			want: "add:Plan Root B=all", wantWarn: "origin"},
		{name: "--origin all copies public roots for client-auth", sources: [][]*stores.Entry{{rootA, rootB}}, origin: OriginAll,
			public: []*stores.Entry{rootA}, spec: "pem:/client-ca.pem", caps: bundle, purposes: []stores.Purpose{stores.ClientAuth},
			want: "add:Plan Root A=all add:Plan Root B=all"},
		{name: "server-auth into a pem target takes every root by default", sources: [][]*stores.Entry{{rootA, rootB}},
			public: []*stores.Entry{rootA}, spec: "pem:/ca.pem", caps: bundle, purposes: []stores.Purpose{stores.ServerAuth},
			want: "add:Plan Root A=all add:Plan Root B=all"},
		{name: "--origin public takes only public roots", sources: [][]*stores.Entry{{rootA, rootB}}, origin: OriginPublic,
			public: []*stores.Entry{rootA}, spec: "pem:/ca.pem", caps: bundle, want: "add:Plan Root A=all", wantWarn: "origin"},
		{name: "an nss target gets no public roots by default", sources: [][]*stores.Entry{{rootA, rootB}},
			public: []*stores.Entry{rootA}, spec: "nss:/db", caps: lossless, want: "add:Plan Root B=all", wantWarn: "origin"},
		{name: "an nss target still gets distrust of a public root", sources: [][]*stores.Entry{{with(rootA, stores.DistrustAll(), false), rootB}},
			public: []*stores.Entry{rootA}, spec: "nss:/db", caps: lossless, want: "add:Plan Root A=distrusted add:Plan Root B=all"},
		{name: "prune keeps public roots it added when the local origin is only the default", sources: [][]*stores.Entry{{rootA, rootB, rootC}},
			public: []*stores.Entry{rootA, rootB, rootC}, mode: Prune, spec: "pem:/client-ca.pem", caps: bundle, purposes: []stores.Purpose{stores.ClientAuth},
			bundleSrc: true, wantMergeW: "no-purposes",
			target:   set(with(rootA, stores.TrustAll(), true), with(rootB, stores.TrustAll(), true), with(rootC, stores.TrustAll(), true)),
			wantWarn: "origin-kept", wantKept: 3},
		{name: "prune with an explicit --origin local removes public roots it added, under the guard", sources: [][]*stores.Entry{{rootA, rootB, rootC}},
			public: []*stores.Entry{rootA, rootB, rootC}, mode: Prune, origin: OriginLocal, spec: "pem:/client-ca.pem", caps: bundle,
			target: set(with(rootA, stores.TrustAll(), true), with(rootB, stores.TrustAll(), true), with(rootC, stores.TrustAll(), true)),
			want:   "remove:Plan Root A remove:Plan Root B remove:Plan Root C", wantRefused: true},
		{name: "add mode keeps a public root the target holds, and says so", sources: [][]*stores.Entry{{rootA}},
			public: []*stores.Entry{rootA}, spec: "nss:/db", caps: lossless, target: set(rootA), wantWarn: "origin-kept", wantKept: 1},
		{name: "expired roots are left out", sources: [][]*stores.Entry{{expired, rootA}}, target: set(), caps: bundle,
			want: "add:Plan Root A=all", wantMergeW: "expired"},
		{name: "prune removes an owned root that expired", sources: [][]*stores.Entry{{expired}}, mode: Prune,
			target: set(with(expired, stores.TrustAll(), true)), caps: bundle, want: "remove:Plan Expired Root", wantMergeW: "expired", wantRefused: true},
		{name: "non-CA certificates are left out", sources: [][]*stores.Entry{{leaf}}, target: set(), caps: bundle, wantMergeW: "not-ca"},
		{name: "a certificate of undetermined CA status is not added", sources: [][]*stores.Entry{{badKU, rootA}}, target: set(), caps: lossless,
			want: "add:Plan Root A=all", wantMergeW: "ca-undetermined"},
		{name: "--include-non-ca adds a certificate of undetermined CA status", sources: [][]*stores.Entry{{badBC}}, target: set(), caps: bundle,
			includeNonCA: true, want: "add:CN=Plan Bad BC Root,O=rootsync tests=all", wantMergeW: "unparsed"},
		{name: "mirror keeps a certificate of undetermined CA status the sources trust", sources: [][]*stores.Entry{{rootA, badBC}}, mode: Mirror,
			target: set(rootA, badBC), caps: bundle, wantMergeW: "ca-undetermined", wantKept: 1, wantUnchange: 1},
		{name: "prune keeps an owned certificate of undetermined CA status the sources trust", sources: [][]*stores.Entry{{badKU}}, mode: Prune,
			target: set(with(badKU, stores.TrustAll(), true)), caps: lossless, wantMergeW: "ca-undetermined", wantKept: 1},
		{name: "distrust of a certificate of undetermined CA status still reaches the target", sources: [][]*stores.Entry{{with(badKU, stores.DistrustAll(), false)}},
			target: set(), caps: lossless, want: "add:CN=bad-ku.test,O=rootsync tests=distrusted", wantMergeW: "unparsed"},
		{name: "mirror removes a certificate of undetermined CA status that no source holds", sources: [][]*stores.Entry{{rootA}}, mode: Mirror,
			target: set(rootA, badKU), caps: bundle, want: "remove:CN=bad-ku.test,O=rootsync tests", wantUnchange: 1},
		{name: "silent entries are not trust anchors", sources: [][]*stores.Entry{{with(rootA, stores.Trust{}, false)}}, target: set(), caps: lossless},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var srcs []Source
			for i, es := range tt.sources {
				srcs = append(srcs, Source{Name: "src" + string(rune('1'+i)), Set: set(es...), PerPurpose: !tt.bundleSrc})
			}
			opts := Options{Mode: tt.mode, Purposes: tt.purposes, Now: now, IncludeNonCA: tt.includeNonCA, Origin: tt.origin}
			if tt.public != nil {
				opts.Public = map[stores.Fingerprint]bool{}
				for _, e := range tt.public {
					opts.Public[e.Cert.Fingerprint] = true
				}
			}
			name := tt.spec
			if name == "" {
				name = "test:target"
			}
			current := tt.target
			if current == nil {
				current = set()
			}
			d := Merge(srcs, opts)
			p := For(name, d, current, tt.caps, opts)
			if (p.Refused != nil) != tt.wantRefused {
				t.Errorf("refused = %v, want %v", p.Refused, tt.wantRefused)
			}
			if got := summary(p); got != tt.want {
				t.Errorf("changes:\n got  %q\n want %q", got, tt.want)
			}
			if got := codes(p.Warnings); got != tt.wantWarn {
				t.Errorf("target warnings = %q, want %q", got, tt.wantWarn)
			}
			if got := codes(d.Warnings); got != tt.wantMergeW {
				t.Errorf("merge warnings = %q, want %q", got, tt.wantMergeW)
			}
			if p.Kept != tt.wantKept || p.Unchanged != tt.wantUnchange {
				t.Errorf("kept=%d unchanged=%d, want kept=%d unchanged=%d", p.Kept, p.Unchanged, tt.wantKept, tt.wantUnchange)
			}
			for _, c := range p.Changes {
				if c.Reason == "" || c.ReasonCode == "" {
					t.Errorf("%s %s has no reason (%q) or no reason code (%q)", c.Action, c.Entry.Cert.Subject, c.Reason, c.ReasonCode)
				}
				if c.Action == stores.Add && c.Entry.Owned != tt.caps.Ownership {
					t.Errorf("added entry owned=%v, want %v", c.Entry.Owned, tt.caps.Ownership)
				}
			}
		})
	}
}

func TestExcludeByShortFingerprint(t *testing.T) {
	prefix := rootA.Cert.Fingerprint.Short()[:10]
	opts := Options{Exclude: []string{strings.ToUpper(prefix)}, Now: now}
	d := Merge([]Source{{Name: "s", Set: set(rootA, rootB)}}, opts)
	if d.Set.Get(rootA.Cert.Fingerprint) != nil || d.Set.Get(rootB.Cert.Fingerprint) == nil {
		t.Fatalf("exclusion by %s: desired holds A=%v B=%v", prefix, d.Set.Get(rootA.Cert.Fingerprint) != nil, d.Set.Get(rootB.Cert.Fingerprint) != nil)
	}
	if codes(d.Warnings) != "excluded" {
		t.Errorf("warnings = %q, want excluded", codes(d.Warnings))
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	srcs := []Source{{Name: "s", Set: set(rootC, rootA, rootB, client)}}
	opts := Options{Now: now}
	first := summary(For("t", Merge(srcs, opts), set(), bundle, opts))
	for i := 0; i < 20; i++ {
		if got := summary(For("t", Merge(srcs, opts), set(), bundle, opts)); got != first {
			t.Fatalf("run %d gave %q, first gave %q", i, got, first)
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{AddOnly, Prune, Mirror} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseMode("all"); err == nil {
		t.Error("ParseMode(all) accepted")
	}
}

func TestOnlySelectsAndLeavesTheRestAlone(t *testing.T) {
	opts := Options{Mode: Mirror, Only: []string{rootB.Cert.Fingerprint.Short()}, Now: now}
	d := Merge([]Source{{Name: "s", Set: set(rootA, rootB)}}, opts)
	p := For("t", d, set(rootC), bundle, opts)
	if got := summary(p); got != "add:Plan Root B=all" {
		t.Fatalf("mirror with --only B: %q (Root C must stay, Root A must not be added)", got)
	}
}

func TestReasonCodes(t *testing.T) {
	tests := []struct {
		name     string
		sources  []*stores.Entry
		target   *stores.Set
		mode     Mode
		wantCode Code
		wantText string
	}{
		{name: "added because a source trusts it", sources: []*stores.Entry{rootA}, target: set(),
			wantCode: ReasonTrusted, wantText: "trusted by s"},
		{name: "removed because a source distrusts it", sources: []*stores.Entry{with(rootA, stores.DistrustAll(), false)}, mode: Prune,
			target: set(with(rootA, stores.TrustAll(), true)), wantCode: ReasonDistrusted, wantText: "distrusted by s"},
		{name: "prune removes what the sources dropped", sources: nil, mode: Prune,
			target: set(with(rootA, stores.TrustAll(), true)), wantCode: ReasonDropped, wantText: "added by rootsync earlier; no source holds it now"},
		{name: "mirror removes what no source holds", sources: nil, mode: Mirror,
			target: set(rootA), wantCode: ReasonNotInSources, wantText: "mirror mode removes what no source holds"},
		{name: "prune removes what expired", sources: []*stores.Entry{expired}, mode: Prune,
			target: set(with(expired, stores.TrustAll(), true)), wantCode: CodeExpired, wantText: "expired on 2020-01-01"},
		{name: "mirror removes what is not a CA", sources: []*stores.Entry{leaf}, mode: Mirror,
			target: set(leaf), wantCode: CodeNotCA, wantText: "not a CA certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Mode: tt.mode, Now: now}
			p := For("t", Merge([]Source{{Name: "s", Set: set(tt.sources...)}}, opts), tt.target, bundle, opts)
			if len(p.Changes) != 1 {
				t.Fatalf("changes: got %q, want one", summary(p))
			}
			c := p.Changes[0]
			if got := Code(c.ReasonCode); got != tt.wantCode {
				t.Errorf("reason code: got %q, want %q", got, tt.wantCode)
			}
			if c.Reason != tt.wantText {
				t.Errorf("reason: got %q, want %q", c.Reason, tt.wantText)
			}
		})
	}
}

func TestExcludedReason(t *testing.T) {
	prefix := rootA.Cert.Fingerprint.Short()
	opts := Options{Mode: Mirror, Exclude: []string{prefix}, Now: now}
	p := For("t", Merge([]Source{{Name: "s", Set: set(rootA, rootB)}}, opts), set(rootA, rootB), bundle, opts)
	if got := summary(p); got != "remove:Plan Root A" {
		t.Fatalf("changes: got %q, want the excluded root removed", got)
	}
	if c := p.Changes[0]; Code(c.ReasonCode) != CodeExcluded || c.Reason != "excluded by --exclude "+prefix {
		t.Errorf("reason: got %q (%s), want excluded by --exclude %s", c.Reason, c.ReasonCode, prefix)
	}
}
