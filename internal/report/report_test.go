package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/check"
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
	if err := Text(&b, sampleRun(), Style{}); err != nil {
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

// sampleListings are an NSS-like store with flags and notes, and a bundle
// with an expired root.
func sampleListings() []Listing {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := stores.NewSet()
	s.Add(entry("Golden Root A", stores.TrustAll(), true))
	s.Add(entry("Golden Client Root", stores.Trust{}.With(stores.ClientAuth, stores.Trusted).With(stores.Email, stores.Distrusted), false))
	expired := testpki.Validity(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	b := stores.NewSet()
	b.Add(entry("Golden Old Root", stores.TrustAll(), false, expired))
	return []Listing{
		{Store: "nss:/db", Set: s, Now: now, Flags: func(e *stores.Entry) string { return "C,," }, Notes: []string{"a store note"}},
		{Store: "pem:/etc/ssl/bundle.pem", Set: b, Now: now},
	}
}

func TestListGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		ls   []Listing
	}{{"list", sampleListings()[:1]}, {"list-several", sampleListings()}} {
		var txt, js bytes.Buffer
		if err := ListText(&txt, c.ls); err != nil {
			t.Fatal(err)
		}
		if err := ListJSON(&js, c.ls); err != nil {
			t.Fatal(err)
		}
		golden(t, c.name+".txt", txt.Bytes())
		golden(t, c.name+".json", js.Bytes())
	}
}

// TestListOneDocument: several stores are one rootsync.list/v2 document
// with one element per store, in order; one store has the same shape.
func TestListOneDocument(t *testing.T) {
	for n := 1; n <= 2; n++ {
		var js bytes.Buffer
		if err := ListJSON(&js, sampleListings()[:n]); err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(&js)
		var doc struct {
			Schema string `json:"schema"`
			Stores []struct {
				Store        string            `json:"store"`
				Certificates []json.RawMessage `json:"certificates"`
			} `json:"stores"`
		}
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if dec.More() {
			t.Errorf("%d stores: more than one JSON document", n)
		}
		if doc.Schema != "rootsync.list/v2" || len(doc.Stores) != n || doc.Stores[0].Store != "nss:/db" || len(doc.Stores[0].Certificates) != 2 {
			t.Errorf("%d stores: %+v", n, doc)
		}
	}
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
	if err := Text(&txt, r, Style{}); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&js, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "refused.txt", txt.Bytes())
	golden(t, "refused.json", js.Bytes())
}

// TestPlanJSONContract: what a program reading `diff -o json` relies on is
// there for every target and change: the target's spec, each change's
// action, fingerprint, subject, trust before and after and reason code,
// warnings with codes, the refusal, and whether the target was applied or
// rolled back.
func TestPlanJSONContract(t *testing.T) {
	r := sampleRun()
	r.Targets[1].Applied, r.Targets[1].RolledBack = true, true
	var b bytes.Buffer
	if err := JSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Targets []map[string]json.RawMessage `json:"targets"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, tg := range doc.Targets {
		for _, k := range []string{"store", "changes", "warnings", "applied", "rolled_back"} {
			if _, ok := tg[k]; !ok {
				t.Errorf("target without %q: %s", k, b.Bytes())
			}
		}
		var changes []map[string]any
		json.Unmarshal(tg["changes"], &changes)
		for _, c := range changes {
			for _, k := range []string{"action", "fingerprint", "subject", "reason_code"} {
				if c[k] == nil || c[k] == "" {
					t.Errorf("change without %q: %v", k, c)
				}
			}
			// Trust before the change (remove, trust) and after it (add, trust).
			before, after := c["from"] != nil, c["trust"] != nil
			switch c["action"] {
			case "add":
				if !after || before {
					t.Errorf("add: want trust after only: %v", c)
				}
			case "remove":
				if !before || after {
					t.Errorf("remove: want trust before only: %v", c)
				}
			case "trust":
				if !before || !after {
					t.Errorf("trust: want trust before and after: %v", c)
				}
			}
		}
		var ws []map[string]any
		json.Unmarshal(tg["warnings"], &ws)
		for _, w := range ws {
			if w["code"] == nil || w["code"] == "" {
				t.Errorf("warning without a code: %v", w)
			}
		}
	}
	if !bytes.Contains(b.Bytes(), []byte(`"applied": true`)) || !bytes.Contains(b.Bytes(), []byte(`"rolled_back": true`)) {
		t.Errorf("applied and rolled_back not rendered:\n%s", b.Bytes())
	}
	b.Reset()
	if err := JSON(&b, refusedRun()); err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Targets []struct {
			Refused *struct {
				Code      string `json:"code"`
				Removals  int    `json:"removals"`
				Removable int    `json:"removable"`
			} `json:"refused"`
		} `json:"targets"`
	}
	if err := json.Unmarshal(b.Bytes(), &ref); err != nil || len(ref.Targets) != 1 || ref.Targets[0].Refused == nil ||
		ref.Targets[0].Refused.Code != "mass-removal" || ref.Targets[0].Refused.Removals != 3 || ref.Targets[0].Refused.Removable != 4 {
		t.Errorf("refusal not rendered (%v):\n%s", err, b.Bytes())
	}
}

// TestColor: escape codes only with Style.Color, on + and - lines and the
// check verdict, and the columns stay aligned.
func TestColor(t *testing.T) {
	var plain, colour bytes.Buffer
	if err := Text(&plain, sampleRun(), Style{}); err != nil {
		t.Fatal(err)
	}
	if err := Text(&colour, sampleRun(), Style{Color: true}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain.Bytes(), []byte("\x1b[")) {
		t.Errorf("escape codes without colour:\n%q", plain.String())
	}
	for _, want := range []string{"\x1b[32m  + add     Golden Client Root  ", "\x1b[31m  - remove  Golden Bad Root     "} {
		if !strings.Contains(colour.String(), want+"") {
			t.Errorf("coloured text lacks %q:\n%s", want, colour.String())
		}
	}
	stripped := strings.NewReplacer(green, "", red, "", reset, "").Replace(colour.String())
	if stripped != plain.String() {
		t.Errorf("colour changed the text:\n%s\nwant\n%s", stripped, plain.String())
	}
	for _, accepted := range []bool{true, false} {
		var b bytes.Buffer
		c := sampleCheck(accepted)
		if err := CheckText(&b, c, Style{Color: true}); err != nil {
			t.Fatal(err)
		}
		want := red + "rejected" + reset + ": "
		if accepted {
			want = green + "accepted" + reset + ": "
		}
		if !strings.HasPrefix(b.String(), want) {
			t.Errorf("check text starts %q, want %q", b.String(), want)
		}
	}
}

// sampleCheck checks a client certificate against a bundle that holds its
// root (accepted) or does not (rejected, with a fix from another store).
func sampleCheck(accepted bool) Check {
	root := testpki.Root("Golden Check Root")
	leaf := root.Leaf("alice")
	other := stores.NewSet()
	other.Add(&stores.Entry{Cert: stores.MustParse(root.DER), Trust: stores.TrustAll(), Label: "Golden Check Root"})
	server := stores.NewSet()
	if accepted {
		server = other
	}
	in := check.Input{
		Now:    time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		Leaf:   stores.MustParse(leaf.DER),
		Stores: []check.Store{{Name: "pem:/etc/nginx/client-ca.pem", Caps: stores.Capabilities{}, Set: server}},
		Others: []check.Store{{Name: "nss:/root/.pki/nssdb", Caps: stores.Capabilities{PerPurpose: true, Distrust: true}, Set: other}},
	}
	return Check{Result: check.Evaluate(in), Stores: []string{"pem:/etc/nginx/client-ca.pem"}, Notes: []string{"system not searched: a note"}}
}

func TestCheckGolden(t *testing.T) {
	for _, accepted := range []bool{true, false} {
		name := "check-" + map[bool]string{true: "accepted", false: "rejected"}[accepted]
		var txt, js bytes.Buffer
		if err := CheckText(&txt, sampleCheck(accepted), Style{}); err != nil {
			t.Fatal(err)
		}
		if err := CheckJSON(&js, sampleCheck(accepted)); err != nil {
			t.Fatal(err)
		}
		golden(t, name+".txt", txt.Bytes())
		golden(t, name+".json", js.Bytes())
	}
}

// sampleJobs is a run of two jobs: one applied to one target of two, with
// the other in sync, one that failed and was rolled back.
func sampleJobs(dryRun bool) Jobs {
	ok := sampleRun()
	ok.Command, ok.DryRun = "sync", dryRun
	ok.Targets[0].Applied = !dryRun
	ok.Targets[0].Backup = "/var/lib/rootsync/backups/20300101T000000Z-1"
	in := stores.NewSet()
	in.Add(entry("Golden Root A", stores.TrustAll(), false))
	opts := plan.Options{Mode: plan.AddOnly}
	d := plan.Merge([]plan.Source{{Name: "pem:/src.pem", Set: in}}, opts)
	ok.Targets[1] = Target{Plan: plan.For("pem:/etc/ssl/in-sync.pem", d, in, stores.Capabilities{}, opts)}
	bad := refusedRun()
	bad.Command, bad.DryRun = "sync", dryRun
	bad.Targets[0].Plan.Refused = nil
	bad.Targets[0].RolledBack = !dryRun
	bad.Targets[0].Err = errors.New("hook \"nginx -s reload\" failed: exit status 1")
	j := Jobs{DryRun: dryRun, Jobs: []Job{{Name: "nginx-clients", Run: ok}, {Name: "apps", Run: bad, Err: errors.New("a target failed")}, {Name: "broken", Err: errors.New("source pem:/gone.pem: no such file")}}}
	return j
}

func TestJobsGolden(t *testing.T) {
	for _, dry := range []bool{false, true} {
		name := "run"
		if dry {
			name = "run-dry"
		}
		j := sampleJobs(dry)
		var txt, cron, js bytes.Buffer
		if err := JobsText(&txt, j, Style{}); err != nil {
			t.Fatal(err)
		}
		if err := JobsCron(&cron, j); err != nil {
			t.Fatal(err)
		}
		if err := JobsJSON(&js, j); err != nil {
			t.Fatal(err)
		}
		golden(t, name+".txt", txt.Bytes())
		golden(t, name+"-cron.txt", cron.Bytes())
		golden(t, name+".json", js.Bytes())
	}
}

// TestCronLinesNameChanges: one line per changed target, naming each change
// by subject and short fingerprint, at most maxCron of them.
func TestCronLinesNameChanges(t *testing.T) {
	var b bytes.Buffer
	if err := JobsCron(&b, sampleJobs(false)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line (one target applied, one in sync, one rolled back), got %q", b.String())
	}
	for _, want := range []string{"job nginx-clients: pem:/etc/nginx/client-ca.pem: added 2, removed 1, changed trust of 0: ",
		"+ Golden Client Root (a98944ad974fde4e)", "- Golden Bad Root (5bc672316d392136)"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("cron line lacks %q: %q", want, lines[0])
		}
	}
	src := stores.NewSet()
	for i := range maxCron + 3 {
		src.Add(entry(fmt.Sprintf("Golden Many %d", i), stores.TrustAll(), false))
	}
	opts := plan.Options{Mode: plan.AddOnly}
	p := plan.For("pem:/x.pem", plan.Merge([]plan.Source{{Name: "pem:/s.pem", Set: src}}, opts), stores.NewSet(), stores.Capabilities{}, opts)
	got := Changes(p, maxCron)
	if len(got) != maxCron+1 || got[maxCron] != "and 3 more" {
		t.Errorf("Changes of %d with max %d = %q", maxCron+3, maxCron, got)
	}
}

func TestDiscoverGolden(t *testing.T) {
	three, one, zero := 3, 1, 0
	found := Discover{Stores: []Found{
		{Spec: "nss:chromium", Kind: "nss", UsedBy: "Chromium", Path: "/home/u/.pki/nssdb", Exists: true, Roots: &one, Local: &one},
		{Spec: "nss:firefox/default-release", Kind: "nss", UsedBy: "Firefox", Path: "/home/u/.mozilla/firefox/x.default-release", Exists: true, Default: true, Roots: &zero, Local: &zero},
		{Spec: "nss:/home/u/.mozilla/firefox/x.default", Kind: "nss", UsedBy: "Firefox", Path: "/home/u/.mozilla/firefox/x.default", Exists: false},
		{Spec: "pem:/etc/nginx/client-ca.pem", Kind: "pem", UsedBy: "nginx ssl_client_certificate", Path: "/etc/nginx/client-ca.pem", Exists: true,
			Roots: &three, Local: &one, Server: "nginx", Config: "/etc/nginx/sites-enabled/default:12"},
		{Spec: "jks:/etc/ssl/certs/java/cacerts", Kind: "jks", UsedBy: "Java", Path: "/etc/ssl/certs/java/cacerts", Exists: true, Error: "keystore password incorrect"},
	}, Problems: []string{"apache2: open /etc/apache2/x.conf: permission denied"}}
	var txt, js, none bytes.Buffer
	if err := DiscoverText(&txt, found); err != nil {
		t.Fatal(err)
	}
	if err := DiscoverJSON(&js, found); err != nil {
		t.Fatal(err)
	}
	if err := DiscoverJSON(&none, Discover{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "discover.txt", txt.Bytes())
	golden(t, "discover.json", js.Bytes())
	golden(t, "discover-none.json", none.Bytes())
}

func TestRestoreGolden(t *testing.T) {
	t.Setenv("TZ", "UTC") // the text shows local time
	bs := Backups{StateDir: "/var/lib/rootsync", Backups: []Backup{
		{ID: "20300102T000000Z-2", Created: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC), Store: "pem:/etc/ssl/app.pem", Dir: "/var/lib/rootsync/backups/20300102T000000Z-2"},
		{ID: "20300101T000000Z-1", Created: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), Store: "nss:/root/.pki/nssdb", Dir: "/var/lib/rootsync/backups/20300101T000000Z-1"},
	}}
	r := Restored{Store: "pem:/etc/ssl/app.pem", From: "20300101T000000Z-1", Undo: "20300102T000000Z-2"}
	for _, c := range []struct {
		name string
		f    func(io.Writer) error
	}{
		{"backups.txt", func(w io.Writer) error { return BackupsText(w, bs) }},
		{"backups.json", func(w io.Writer) error { return BackupsJSON(w, bs) }},
		{"backups-none.txt", func(w io.Writer) error { return BackupsText(w, Backups{StateDir: "/var/lib/rootsync"}) }},
		{"backups-none.json", func(w io.Writer) error { return BackupsJSON(w, Backups{StateDir: "/var/lib/rootsync"}) }},
		{"restore.txt", func(w io.Writer) error { return RestoredText(w, r) }},
		{"restore.json", func(w io.Writer) error { return RestoredJSON(w, r) }},
	} {
		var b bytes.Buffer
		if err := c.f(&b); err != nil {
			t.Fatal(err)
		}
		golden(t, c.name, b.Bytes())
	}
}
