package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/plan"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func entry(name string, t stores.Trust, owned bool, opts ...testpki.Option) *stores.Entry {
	return &stores.Entry{Cert: stores.MustParse(testpki.Root(name, opts...).DER), Trust: t, Owned: owned, Label: name + ".pem"}
}

// sampleRun is a diff of two sources into a bundle and an NSS-like target,
// with warnings of each kind the engine produces here.
func sampleRun() *Run {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	expired := testpki.Validity(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	src := stores.NewSet()
	src.Add(entry("Golden Root A", stores.TrustAll(), false))
	src.Add(entry("Golden Client Root", stores.Trust{}.With(stores.ClientAuth, stores.Trusted), false))
	src.Add(entry("Golden Old Root", stores.TrustAll(), false, expired))
	bad := stores.NewSet()
	bad.Add(entry("Golden Bad Root", stores.DistrustAll(), false))
	opts := plan.Options{Mode: plan.Prune, Now: now}
	d := plan.Merge([]plan.Source{{Name: "pem:/src.pem", Set: src}, {Name: "nss:/db", Set: bad}}, opts)

	bundle := stores.NewSet()
	bundle.Add(entry("Golden Bad Root", stores.TrustAll(), true))
	bundle.Add(entry("Golden Admin Root", stores.TrustAll(), false))
	nss := stores.NewSet()
	nss.Add(entry("Golden Root A", stores.Trust{}.With(stores.ServerAuth, stores.Trusted), false))
	return &Run{
		Command: "diff", Mode: opts.Mode, DryRun: true,
		Sources:  []Source{{"pem:/src.pem", 3}, {"nss:/db", 1}},
		Warnings: d.Warnings,
		Targets: []Target{
			{Plan: plan.For("pem:/etc/nginx/client-ca.pem", d, bundle, stores.Capabilities{Ownership: true}, opts)},
			{Plan: plan.For("nss:/home/u/.pki/nssdb", d, nss, stores.Capabilities{PerPurpose: true, Distrust: true, Ownership: true}, opts)},
		},
	}
}

func TestTextGolden(t *testing.T) {
	var b bytes.Buffer
	if err := Text(&b, sampleRun()); err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.txt", b.Bytes())
}

func TestJSONGolden(t *testing.T) {
	var b bytes.Buffer
	if err := JSON(&b, sampleRun()); err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil || v["schema"] != PlanSchema {
		t.Fatalf("not a %s document: %v", PlanSchema, err)
	}
	golden(t, "plan.json", b.Bytes())
}

func TestListGolden(t *testing.T) {
	s := stores.NewSet()
	s.Add(entry("Golden Root A", stores.TrustAll(), true))
	s.Add(entry("Golden Client Root", stores.Trust{}.With(stores.ClientAuth, stores.Trusted).With(stores.Email, stores.Distrusted), false))
	l := Listing{Store: "nss:/db", Set: s, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		Flags: func(e *stores.Entry) string { return "C,," }, Notes: []string{"a store note"}}
	var txt, js bytes.Buffer
	if err := ListText(&txt, l); err != nil {
		t.Fatal(err)
	}
	if err := ListJSON(&js, l); err != nil {
		t.Fatal(err)
	}
	golden(t, "list.txt", txt.Bytes())
	golden(t, "list.json", js.Bytes())
}

// refusedRun is a diff in mirror mode whose plan the mass-removal guard
// refuses: the source lost three of the target's four roots.
func refusedRun() *Run {
	src := stores.NewSet()
	src.Add(entry("Golden Kept Root", stores.TrustAll(), false))
	target := stores.NewSet()
	for _, n := range []string{"Golden Kept Root", "Golden Lost Root 1", "Golden Lost Root 2", "Golden Lost Root 3"} {
		target.Add(entry(n, stores.TrustAll(), false))
	}
	opts := plan.Options{Mode: plan.Mirror, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	d := plan.Merge([]plan.Source{{Name: "pem:/src.pem", Set: src}}, opts)
	return &Run{
		Command: "diff", Mode: opts.Mode, DryRun: true,
		Sources: []Source{{"pem:/src.pem", 1}},
		Targets: []Target{{Plan: plan.For("pem:/etc/ssl/app.pem", d, target, stores.Capabilities{Ownership: true}, opts)}},
	}
}

func TestRefusedGolden(t *testing.T) {
	r := refusedRun()
	if r.Targets[0].Plan.Refused == nil {
		t.Fatal("the plan was not refused")
	}
	var txt, js bytes.Buffer
	if err := Text(&txt, r); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&js, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "refused.txt", txt.Bytes())
	golden(t, "refused.json", js.Bytes())
}
