package storekinds

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/stores"
)

func TestRegistry(t *testing.T) {
	want := []string{"pem", "capath", "nss", "p12", "jks", "system", "windows"}
	if got := Registry().Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("kinds %q, want %q", got, want)
	}
	for _, k := range Registry().Kinds() {
		if k.Summary == "" || k.What == "" || k.CanRecord == "" {
			t.Errorf("kind %s: Summary, What and CanRecord are for the help and the README; all are needed", k.Name)
		}
	}
}

// TestEveryKindRefusesUnknownOptions: an option a kind does not take is an
// error naming the option and the options the kind takes, for every kind.
func TestEveryKindRefusesUnknownOptions(t *testing.T) {
	for _, k := range Registry().Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			var accepted []string
			for _, o := range k.Options {
				accepted = append(accepted, o.Name)
				spec := k.Name + ":/x?" + o.Name + "=v"
				if _, err := Registry().ParseSpec(spec); err != nil {
					t.Errorf("ParseSpec(%q): %v", spec, err)
				}
			}
			for _, bad := range []string{"bogus", "password-envv", "pasword-file", "Family"} {
				spec := k.Name + ":/x?" + bad + "=v"
				_, err := Registry().ParseSpec(spec)
				var se *stores.SpecError
				if !errors.As(err, &se) || se.Option != bad || !strings.Contains(err.Error(), `unknown option "`+bad+`"`) {
					t.Errorf("ParseSpec(%q) = %v; want an unknown-option error naming %q", spec, err, bad)
					continue
				}
				for _, a := range accepted {
					if !strings.Contains(se.Reason, a) {
						t.Errorf("ParseSpec(%q): %q does not list the accepted option %q", spec, se.Reason, a)
					}
				}
				if len(accepted) == 0 && !strings.Contains(se.Reason, "takes no options") {
					t.Errorf("ParseSpec(%q): %q does not say the kind takes no options", spec, se.Reason)
				}
			}
		})
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in   string
		want stores.Spec
		err  string
	}{
		{in: "nss:chromium", want: stores.Spec{Kind: "nss", Location: "chromium"}},
		{in: "nss:firefox/My%20Profile", want: stores.Spec{Kind: "nss", Location: "firefox/My Profile"}},
		{in: "p12:/t.p12?password-env=PW", want: stores.Spec{Kind: "p12", Location: "/t.p12", Options: map[string]string{"password-env": "PW"}}},
		{in: "system", want: stores.Spec{Kind: "system"}},
		{in: "system?family=debian", want: stores.Spec{Kind: "system", Options: map[string]string{"family": "debian"}}},
		{in: "system:/srv/root?family=fedora", want: stores.Spec{Kind: "system", Location: "/srv/root", Options: map[string]string{"family": "fedora"}}},
		{in: "pem:w/a%3Fb.pem", want: stores.Spec{Kind: "pem", Location: "w/a?b.pem"}},
		{in: "pem:w/a?b.pem", err: `store "pem:w/a?b.pem": unknown option "b.pem" (pem takes no options)`},
		{in: "nss:/db?password-envv=X", err: `store "nss:/db?password-envv=X": unknown option "password-envv" (nss takes password-env, password-file or password-credential)`},
		{in: "capath:/d?bogus=1", err: `store "capath:/d?bogus=1": unknown option "bogus" (capath takes no options)`},
		{in: "system?password-env=X", err: `unknown option "password-env" (system takes family)`},
		{in: "jks:", err: `store "jks:": missing location (want jks:FILE)`},
		{in: "windows:CurrentUser/Root", want: stores.Spec{Kind: "windows", Location: "CurrentUser/Root"}},
		{in: "windows:CurrentUser/Root?bogus=1", err: `unknown option "bogus" (windows takes disallowed)`},
		{in: "winders:CurrentUser/Root", err: `unknown kind "winders" (want KIND:LOCATION with KIND one of pem, capath, nss, p12, jks, system, windows)`},
	}
	for _, tt := range tests {
		got, err := Registry().ParseSpec(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseSpec(%q) = %+v, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// TestShorthands: NSS shorthands expand to what they find, and to an error
// matching ErrNothingFound in a home without browsers.
func TestShorthands(t *testing.T) {
	home := t.TempDir()
	db := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	r := Registry()
	chromium, _ := r.ParseSpec("nss:chromium")
	for _, loc := range []string{"chromium", "firefox", "firefox/PROFILE", "system"} {
		if !r.IsShorthand(stores.Spec{Kind: "nss", Location: loc}) {
			t.Errorf("nss:%s is not a shorthand", loc)
		}
	}
	if r.IsShorthand(stores.Spec{Kind: "pem", Location: "chromium"}) || r.IsShorthand(stores.Spec{Kind: "nss", Location: "/x/chromium"}) {
		t.Error("a path is taken for a shorthand")
	}
	// A folder without its database is not found.
	if _, err := r.Expand(chromium, home); !errors.Is(err, stores.ErrNothingFound) || !strings.Contains(err.Error(), db) {
		t.Errorf("nss:chromium without a database: %v; want ErrNothingFound naming %s", err, db)
	}
	if err := os.WriteFile(filepath.Join(db, "cert9.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Expand(chromium, home); err != nil || len(got) != 1 || got[0].Location != db {
		t.Errorf("nss:chromium = %+v, %v; want %s", got, err, db)
	}
	firefox, _ := r.ParseSpec("nss:firefox")
	if _, err := r.Expand(firefox, home); !errors.Is(err, stores.ErrNothingFound) {
		t.Errorf("nss:firefox without a profile: %v; want ErrNothingFound", err)
	}
}

// TestKindCapabilities: what a kind says every store of it can express,
// a store of it opened on a fresh location can express.
func TestKindCapabilities(t *testing.T) {
	for _, k := range Registry().Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			spec := stores.Spec{Kind: k.Name, Location: filepath.Join(t.TempDir(), "store")}
			st, err := k.Open(spec, stores.OpenOptions{})
			if err != nil && k.Discover != nil {
				// A kind that needs more than a path (system: a known
				// distribution) is tried on what it finds on this host.
				for _, f := range k.Discover(t.TempDir()) {
					if sp, perr := k.ParseSpec(f.Spec); perr == nil && f.Exists {
						if st, err = k.Open(sp, stores.OpenOptions{}); err == nil {
							break
						}
					}
				}
			}
			if err != nil {
				t.Skipf("no store of kind %s can be opened here: %v", k.Name, err)
			}
			kc, sc := k.Capabilities, st.Capabilities()
			if (kc.PerPurpose && !sc.PerPurpose) || (kc.Distrust && !sc.Distrust) || (kc.Ownership && !sc.Ownership) {
				t.Errorf("kind says %+v, a store of it says %+v", kc, sc)
			}
		})
	}
}
