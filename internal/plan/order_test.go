package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// TestWarningListsInListingOrder: the certificates a warning names come in
// the order of a listing (stores.SortEntries), however the sets hold them:
// the roots taken from a source that cannot record purposes, a source's
// user certificates, and a target's user certificates that mirror mode
// keeps.
func TestWarningListsInListingOrder(t *testing.T) {
	var roots, users []*stores.Entry
	for i := range 40 {
		roots = append(roots, entry(testpki.Root(fmt.Sprintf("Order Root %c%d", 'z'-i%26, i)), stores.TrustAll()))
		u := entry(testpki.Root(fmt.Sprintf("Order User %c%d", 'a'+i%26, i)), stores.TrustAll())
		u.PrivateKey = true
		users = append(users, u)
	}
	inOrder := func(t *testing.T, w Warning, n int) {
		t.Helper()
		if len(w.Certs) != n {
			t.Fatalf("%s names %d certificates, want %d", w.Code, len(w.Certs), n)
		}
		if !slices.IsSortedFunc(w.Certs, func(a, b CertRef) int {
			ca, cb := findCert(roots, users, a.Fingerprint), findCert(roots, users, b.Fingerprint)
			return stores.Compare(ca, cb)
		}) {
			t.Errorf("%s names its certificates out of a listing's order", w.Code)
		}
	}
	find := func(ws []Warning, code Code) Warning {
		for _, w := range ws {
			if w.Code == code {
				return w
			}
		}
		t.Fatalf("no %s warning in %s", code, codes(ws))
		return Warning{}
	}
	copies := func(es []*stores.Entry) *stores.Set {
		s := stores.NewSet()
		for _, e := range es {
			s.Add(e) // a copy: Merge takes the entries it is given
		}
		return s
	}
	for run := range 3 {
		opts := Options{Now: now, Purposes: []stores.Purpose{stores.ServerAuth}}
		d := Merge([]Source{{Name: "bundle", Set: copies(append(slices.Clone(roots), users...))}}, opts)
		inOrder(t, find(d.Warnings, CodeNoPurposes), len(roots))
		inOrder(t, find(d.Warnings, CodeUserCert), len(users))

		opts = Options{Now: now, Mode: Mirror}
		d = Merge([]Source{{Name: "bundle", Set: copies(roots)}}, opts)
		p := For("t", d, copies(append(slices.Clone(roots), users...)), lossless, opts)
		inOrder(t, find(p.Warnings, CodeUserCert), len(users))
		if t.Failed() {
			t.Fatalf("run %d", run)
		}
	}
}

func findCert(roots, users []*stores.Entry, fp stores.Fingerprint) *stores.Certificate {
	for _, e := range append(slices.Clone(roots), users...) {
		if e.Cert.Fingerprint == fp {
			return e.Cert
		}
	}
	panic("unknown certificate")
}

// TestReasonTextsPerSources: each change's reason names exactly the sources
// that hold its certificate, when the reasons' texts are made once per list
// of sources, and changes with the same sources share one text.
func TestReasonTextsPerSources(t *testing.T) {
	var one, two, both []*stores.Entry
	for i := range 30 {
		one = append(one, entry(testpki.Root(fmt.Sprintf("Reason One %d", i)), stores.TrustAll()))
		two = append(two, entry(testpki.Root(fmt.Sprintf("Reason Two %d", i)), stores.TrustAll()))
		both = append(both, entry(testpki.Root(fmt.Sprintf("Reason Both %d", i)), stores.TrustAll()))
	}
	src := func(groups ...[]*stores.Entry) *stores.Set {
		s := stores.NewSet()
		for _, g := range groups {
			for _, e := range g {
				s.Add(e)
			}
		}
		return s
	}
	opts := Options{Now: now}
	d := Merge([]Source{{Name: "s1", Set: src(one, both)}, {Name: "s2", Set: src(two, both)}}, opts)
	p := For("t", d, stores.NewSet(), bundle, opts)
	want := map[stores.Fingerprint]string{}
	for _, e := range one {
		want[e.Cert.Fingerprint] = "trusted by s1"
	}
	for _, e := range two {
		want[e.Cert.Fingerprint] = "trusted by s2"
	}
	for _, e := range both {
		want[e.Cert.Fingerprint] = "trusted by s1, s2"
	}
	texts := map[string]string{}
	for _, c := range p.Changes {
		if w := want[c.Entry.Cert.Fingerprint]; c.Reason != w {
			t.Fatalf("%s: reason %q, want %q", c.Entry.Cert.CommonName(), c.Reason, w)
		}
		if first, ok := texts[c.Reason]; ok && unsafe.StringData(first) != unsafe.StringData(c.Reason) {
			t.Errorf("reason %q held twice", c.Reason)
		}
		texts[c.Reason] = c.Reason
	}
	if len(p.Changes) != 90 || len(texts) != 3 {
		t.Fatalf("%d changes with %d reasons, want 90 with 3", len(p.Changes), len(texts))
	}
}

// TestOneSourceAsMany: a single source, whose set becomes the desired one,
// gives the desired state, the warnings and the plans the general path
// gives for the same source beside an empty one: what it holds, trusts,
// distrusts (conflicts within the source too), filters and notes.
func TestOneSourceAsMany(t *testing.T) {
	mixed := with(rootC, stores.Trust{}.With(stores.ServerAuth, stores.Trusted).With(stores.Email, stores.Distrusted), false)
	noted := with(rootB, stores.TrustAll(), true)
	noted.Notes = []string{"alias \"b\""}
	user := with(rootA, stores.TrustAll(), false)
	user.PrivateKey = true
	entries := []*stores.Entry{user, noted, mixed, expired, leaf, client, badKU, badBC}
	copies := func() *stores.Set {
		s := stores.NewSet()
		for _, e := range entries {
			s.Add(e)
		}
		return s
	}
	for _, opts := range []Options{
		{Now: now},
		{Now: now, Mode: Mirror},
		{Now: now, Purposes: []stores.Purpose{stores.ServerAuth}},
		{Now: now, IncludeExpired: true, IncludeNonCA: true, Mode: Prune},
		{Now: now, Exclude: []string{noted.Cert.Fingerprint.Short()}},
	} {
		describe := func(d *Desired) string {
			var out []string
			for _, e := range d.entries() {
				out = append(out, fmt.Sprintf("%s %s %v %q %v", e.Cert.CommonName(), e.Trust, e.Owned, e.Notes, d.Sources(e.Cert.Fingerprint)))
			}
			for _, w := range d.Warnings {
				out = append(out, fmt.Sprintf("%s %s %v", w.Code, w.Message, w.Certs))
			}
			target := set(with(rootB, stores.TrustAll(), true), with(leaf, stores.TrustAll(), false))
			for _, caps := range []stores.Capabilities{lossless, bundle} {
				p := For("t", d, target, caps, opts)
				out = append(out, summary(p), fmt.Sprint(p.Warnings, p.Unchanged, p.Kept))
				for _, c := range p.Changes {
					out = append(out, c.Reason)
				}
			}
			return strings.Join(out, "\n")
		}
		one := describe(Merge([]Source{{Name: "s", Set: copies()}}, opts))
		many := describe(Merge([]Source{{Name: "s", Set: copies()}, {Name: "empty", Set: stores.NewSet()}}, opts))
		if one != many {
			t.Errorf("options %+v: one source gives\n%s\nthe general path\n%s", opts, one, many)
		}
	}
}
