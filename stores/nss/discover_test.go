package nss

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/stores"
)

// fixtureHome builds a home folder with Chromium's database, two Firefox
// profiles listed in profiles.ini (one with spaces in its name and folder,
// one absolute), one unlisted profile, a snap Firefox profile and a Flatpak
// folder without profiles.
func fixtureHome(t *testing.T) string {
	home := filepath.Join(t.TempDir(), "home with space")
	mk := func(rel string, files ...string) {
		d := filepath.Join(home, rel)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			writeFile(t, filepath.Join(d, f), "")
		}
	}
	mk(".pki/nssdb", "cert9.db", "key4.db")
	mk(".mozilla/firefox/abcd.default-release", "cert9.db", "prefs.js")
	mk(".mozilla/firefox/My Work Profile", "prefs.js")
	mk(".mozilla/firefox/zz.unlisted", "cert9.db")
	mk(".mozilla/firefox/Crash Reports")
	mk("elsewhere/absolute profile", "cert9.db")
	writeFile(t, filepath.Join(home, ".mozilla/firefox/profiles.ini"), strings.Join([]string{
		"[Install4F96D1932A9F858E]", "Default=abcd.default-release", "",
		"[Profile1]", "Name=work stuff", "IsRelative=1", "Path=My Work Profile", "",
		"[Profile0]", "Name=default-release", "IsRelative=1", "Path=abcd.default-release", "Default=1", "",
		"[Profile2]", "Name=outside", "IsRelative=0", "Path=" + filepath.Join(home, "elsewhere/absolute profile"), "",
		"[General]", "StartWithLastProfile=1", "Version=2", "",
	}, "\n"))
	mk("snap/firefox/common/.mozilla/firefox/x1.snapprofile", "prefs.js")
	mk(".var/app/org.mozilla.firefox/.mozilla/firefox")
	mk("AppData/Roaming/Mozilla/Firefox/Profiles/wxyz.default-release", "cert9.db", "prefs.js")
	writeFile(t, filepath.Join(home, "AppData/Roaming/Mozilla/Firefox/profiles.ini"), strings.Join([]string{
		"[Profile0]", "Name=windows-release", "IsRelative=1", "Path=Profiles/wxyz.default-release", "Default=1", "",
	}, "\n"))
	return home
}

func TestDiscover(t *testing.T) {
	home := fixtureHome(t)
	old := places
	defer func() { places = old }()
	places = append(append([]place(nil), old[:len(old)-1]...), place{name: "system", browser: "system", path: filepath.Join(home, "etc/pki/nssdb")})
	got := Discover(home)
	want := []Location{
		{"chromium", "Chromium", filepath.Join(home, ".pki/nssdb"), true, false},
		{"chromium", "Chromium (XDG data folder)", filepath.Join(home, ".local/share/pki/nssdb"), false, false},
		{"chromium", "Chromium (snap)", filepath.Join(home, "snap/chromium/current/.pki/nssdb"), false, false},
		{"firefox/work stuff", "Firefox", filepath.Join(home, ".mozilla/firefox/My Work Profile"), false, false},
		{"firefox/default-release", "Firefox", filepath.Join(home, ".mozilla/firefox/abcd.default-release"), true, true},
		{"firefox/outside", "Firefox", filepath.Join(home, "elsewhere/absolute profile"), true, false},
		{"firefox/zz.unlisted", "Firefox", filepath.Join(home, ".mozilla/firefox/zz.unlisted"), true, false},
		{"firefox/x1.snapprofile", "Firefox (snap)", filepath.Join(home, "snap/firefox/common/.mozilla/firefox/x1.snapprofile"), false, false},
		{"firefox/windows-release", "Firefox (Windows)", filepath.Join(home, "AppData/Roaming/Mozilla/Firefox/Profiles/wxyz.default-release"), true, true},
		{"system", "system", filepath.Join(home, "etc/pki/nssdb"), false, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Discover:\n got %+v\nwant %+v", got, want)
	}
}

func TestResolveShorthand(t *testing.T) {
	home := fixtureHome(t)
	old := places
	defer func() { places = old }()
	sysdb := filepath.Join(home, "etc/pki/nssdb")
	places = append(append([]place(nil), old[:len(old)-1]...), place{name: "system", browser: "system", path: sysdb})
	ff := filepath.Join(home, ".mozilla/firefox")
	cases := []struct {
		loc     string
		want    []string
		wantErr string
	}{
		{loc: "chromium", want: []string{filepath.Join(home, ".pki/nssdb")}},
		{loc: "firefox", want: []string{
			filepath.Join(ff, "My Work Profile"), filepath.Join(ff, "abcd.default-release"),
			filepath.Join(home, "elsewhere/absolute profile"), filepath.Join(ff, "zz.unlisted"),
			filepath.Join(home, "snap/firefox/common/.mozilla/firefox/x1.snapprofile"),
			filepath.Join(home, "AppData/Roaming/Mozilla/Firefox/Profiles/wxyz.default-release"),
		}},
		{loc: "firefox/work stuff", want: []string{filepath.Join(ff, "My Work Profile")}},
		{loc: "firefox/abcd.default-release", want: []string{filepath.Join(ff, "abcd.default-release")}},
		{loc: "firefox/nope", wantErr: `no Firefox profile "nope"`},
		{loc: "system", wantErr: "no NSS database (cert9.db) in " + sysdb},
		{loc: "opera", wantErr: "unknown nss shorthand"},
	}
	for _, c := range cases {
		t.Run(c.loc, func(t *testing.T) {
			got, err := ResolveShorthand(c.loc, home)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
	if err := os.MkdirAll(sysdb, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(sysdb, "cert9.db"), "")
	if got, err := ResolveShorthand("system", home); err != nil || !reflect.DeepEqual(got, []string{sysdb}) {
		t.Errorf("system with its database: %q, %v", got, err)
	}
	// A home without any browser: every shorthand finds nothing, and says
	// where it looked.
	empty := t.TempDir()
	for _, loc := range []string{"chromium", "firefox", "firefox/default"} {
		got, err := ResolveShorthand(loc, empty)
		if !errors.Is(err, stores.ErrNothingFound) || !strings.Contains(err.Error(), empty) {
			t.Errorf("%s in an empty home: %q, %v; want ErrNothingFound naming the home folder", loc, got, err)
		}
	}
	if _, err := ResolveShorthand("firefox/nope", home); !errors.Is(err, stores.ErrNothingFound) {
		t.Errorf("firefox/nope: %v; want ErrNothingFound", err)
	}
}

func TestOpenLocations(t *testing.T) {
	home := fixtureHome(t)
	t.Setenv("HOME", home)
	cases := []struct{ loc, want string }{
		{"sql:" + filepath.Join(home, ".pki/nssdb"), filepath.Join(home, ".pki/nssdb")},
		{filepath.Join(home, ".pki/nssdb/cert9.db"), filepath.Join(home, ".pki/nssdb")},
		{"chromium", filepath.Join(home, ".pki/nssdb")},
		{"firefox/work stuff", filepath.Join(home, ".mozilla/firefox/My Work Profile")},
	}
	for _, c := range cases {
		s := openDir(t, c.loc).(*Store)
		if s.Dir() != c.want {
			t.Errorf("Open(%q).Dir() = %q, want %q", c.loc, s.Dir(), c.want)
		}
	}
}

// TestDiscoverSpecs: a database is named by the shorthand that resolves to
// it, every other one (and one not created yet) by its folder.
func TestDiscoverSpecs(t *testing.T) {
	home := fixtureHome(t)
	old := places
	defer func() { places = old }()
	places = append(append([]place(nil), old[:len(old)-1]...), place{name: "system", browser: "system", path: filepath.Join(home, "etc/pki/nssdb")})
	got := map[string]string{}
	for _, f := range discoverSpecs(home) {
		got[f.Path] = f.Spec
		if f.Spec != "nss:"+f.Path {
			sp, err := Kind().ParseSpec(f.Spec)
			if err != nil {
				t.Fatal(err)
			}
			if dirs, err := ResolveShorthand(sp.Location, home); err != nil || dirs[0] != f.Path {
				t.Errorf("%s resolves to %q, %v; discover names %s with it", f.Spec, dirs, err, f.Path)
			}
		}
	}
	for path, want := range map[string]string{
		filepath.Join(home, ".pki/nssdb"):                            "nss:chromium",
		filepath.Join(home, ".local/share/pki/nssdb"):                "nss:" + filepath.Join(home, ".local/share/pki/nssdb"),
		filepath.Join(home, ".mozilla/firefox/My Work Profile"):      "nss:firefox/work stuff",
		filepath.Join(home, "etc/pki/nssdb"):                         "nss:" + filepath.Join(home, "etc/pki/nssdb"),
		filepath.Join(home, ".mozilla/firefox/abcd.default-release"): "nss:firefox/default-release",
	} {
		if got[path] != want {
			t.Errorf("%s: spec %q, want %q", path, got[path], want)
		}
	}
}

// TestDefaultProfile: installs.ini (and profiles.ini's [Install...]
// sections, Firefox 67 and later) name the profile Firefox starts with;
// older files mark it Default=1.
func TestDefaultProfile(t *testing.T) {
	for _, tt := range []struct {
		name, profiles, installs, want string
	}{
		{"installs.ini", "[Profile1]\nName=default\nIsRelative=1\nPath=a.default\nDefault=1\n\n[Profile0]\nName=default-release\nIsRelative=1\nPath=b.default-release\n", "[4F96D1932A9F858E]\nDefault=b.default-release\nLocked=1\n", "b.default-release"},
		{"install section", "[Install4F96D1932A9F858E]\nDefault=b.default-release\nLocked=1\n\n[Profile1]\nName=default\nIsRelative=1\nPath=a.default\nDefault=1\n\n[Profile0]\nName=default-release\nIsRelative=1\nPath=b.default-release\n", "", "b.default-release"},
		{"Default=1", "[Profile1]\nName=default\nIsRelative=1\nPath=a.default\nDefault=1\n\n[Profile0]\nName=default-release\nIsRelative=1\nPath=b.default-release\n", "", "a.default"},
		{"none", "[Profile0]\nName=default\nIsRelative=1\nPath=a.default\n\n[Profile1]\nName=default-release\nIsRelative=1\nPath=b.default-release\n", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			ff := filepath.Join(home, ".mozilla/firefox")
			for _, d := range []string{"a.default", "b.default-release"} {
				os.MkdirAll(filepath.Join(ff, d), 0o700)
			}
			os.WriteFile(filepath.Join(ff, "profiles.ini"), []byte(tt.profiles), 0o644)
			if tt.installs != "" {
				os.WriteFile(filepath.Join(ff, "installs.ini"), []byte(tt.installs), 0o644)
			}
			var defaults []string
			for _, l := range Discover(home) {
				if l.Default {
					defaults = append(defaults, filepath.Base(l.Path))
				}
			}
			want := []string{tt.want}
			if tt.want == "" {
				want = nil
			}
			if strings.Join(defaults, ",") != strings.Join(want, ",") {
				t.Errorf("default profiles %q, want %q", defaults, want)
			}
		})
	}
}
