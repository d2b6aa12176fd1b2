package nss

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// Location is one NSS database a browser or the system uses.
type Location struct {
	// Name is the store shorthand that names it: "chromium", "system",
	// "firefox/PROFILE".
	Name string
	// Browser is who uses it, for people: "Chromium", "Firefox (snap)", ...
	Browser string
	// Path is the database folder.
	Path string
	// Exists reports whether cert9.db is there yet. A browser creates its
	// database on first start; rootsync creates one on the first write.
	Exists bool
	// Default marks the profile Firefox starts with: the Default= of an
	// install in installs.ini or profiles.ini ([Install...] sections,
	// Firefox 67 and later), else the profile profiles.ini marks Default=1.
	Default bool
}

// place is one row of the location table.
type place struct {
	name    string // shorthand; Firefox rows get "/PROFILE" appended
	browser string
	path    string // relative to the home folder unless absolute
	// profiles: path is a Firefox folder holding profiles.ini and profile
	// folders, each of which is a database.
	profiles bool
}

// places lists where NSS databases live (on Linux, and Firefox's on
// Windows), in the order Discover
// reports them. Tests may replace it.
var places = []place{
	// Chromium and Google Chrome: the shared NSS database of the user.
	{name: "chromium", browser: "Chromium", path: ".pki/nssdb"},
	// The XDG location recent upstream Chromium documentation names.
	{name: "chromium", browser: "Chromium (XDG data folder)", path: ".local/share/pki/nssdb"},
	// Chromium installed as a snap keeps its own home.
	{name: "chromium", browser: "Chromium (snap)", path: "snap/chromium/current/.pki/nssdb"},
	// Firefox keeps one database per profile.
	{name: "firefox", browser: "Firefox", path: ".mozilla/firefox", profiles: true},
	// Newer Firefox builds follow XDG.
	{name: "firefox", browser: "Firefox (XDG config folder)", path: ".config/mozilla/firefox", profiles: true},
	{name: "firefox", browser: "Firefox (snap)", path: "snap/firefox/common/.mozilla/firefox", profiles: true},
	{name: "firefox", browser: "Firefox (Flatpak)", path: ".var/app/org.mozilla.firefox/.mozilla/firefox", profiles: true},
	// Firefox on Windows: %APPDATA%\Mozilla\Firefox.
	{name: "firefox", browser: "Firefox (Windows)", path: "AppData/Roaming/Mozilla/Firefox", profiles: true},
	// The system-wide database of Fedora-family systems.
	{name: "system", browser: "system (NSS system database)", path: "/etc/pki/nssdb"},
}

// Discover lists the NSS databases of the user whose home folder is home:
// every fixed location of places (whether or not its database exists yet)
// and every Firefox profile found, from profiles.ini where present and from
// the profile folders themselves. It never fails: what cannot be read is
// left out.
func Discover(home string) []Location {
	var out []Location
	for _, p := range places {
		dir := p.path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(home, dir)
		}
		if !p.profiles {
			out = append(out, Location{Name: p.name, Browser: p.browser, Path: dir, Exists: hasDB(dir)})
			continue
		}
		for _, prof := range firefoxProfiles(dir) {
			out = append(out, Location{Name: p.name + "/" + prof.name, Browser: p.browser, Path: prof.path, Exists: hasDB(prof.path), Default: prof.isDefault})
		}
	}
	return out
}

// DiscoverUser is Discover for the current user.
func DiscoverUser() ([]Location, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil, err
	}
	return Discover(home), nil
}

func hasDB(dir string) bool {
	ok, _ := exists(filepath.Join(dir, certFile))
	return ok
}

type profile struct {
	name, path string
	isDefault  bool
}

// iniSections reads an ini file into its sections' keys, in file order.
func iniSections(path string) []map[string]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			out = append(out, map[string]string{"": strings.Trim(line, "[]")})
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && len(out) > 0 {
			out[len(out)-1][k] = v
		}
	}
	return out
}

// defaultProfile is the folder of the profile Firefox under root starts
// with, "" when the files do not say.
func defaultProfile(root string) string {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(root, filepath.FromSlash(p))
	}
	for _, sec := range iniSections(filepath.Join(root, "installs.ini")) {
		if d := sec["Default"]; d != "" {
			return abs(d)
		}
	}
	profiles := iniSections(filepath.Join(root, "profiles.ini"))
	for _, sec := range profiles {
		if strings.HasPrefix(sec[""], "Install") && sec["Default"] != "" {
			return abs(sec["Default"])
		}
	}
	for _, sec := range profiles {
		if strings.HasPrefix(strings.ToLower(sec[""]), "profile") && sec["Default"] == "1" && sec["Path"] != "" {
			if sec["IsRelative"] == "0" {
				return filepath.Clean(sec["Path"])
			}
			return abs(sec["Path"])
		}
	}
	return ""
}

// firefoxProfiles lists the profiles under a Firefox folder: those
// profiles.ini names (by their Name=), then any other folder holding
// cert9.db or prefs.js (named by folder name). A profiles.ini that is not a
// regular file (a named pipe) is not read.
func firefoxProfiles(root string) []profile {
	var out []profile
	seen := map[string]bool{}
	if f, err := stores.OpenFile(filepath.Join(root, "profiles.ini")); err == nil {
		var name, path string
		relative, inProfile := true, false
		flush := func() {
			if inProfile && path != "" {
				p := path
				if relative {
					p = filepath.Join(root, filepath.FromSlash(path))
				}
				p = filepath.Clean(p)
				if name == "" {
					name = filepath.Base(p)
				}
				if !seen[p] {
					seen[p] = true
					out = append(out, profile{name: name, path: p})
				}
			}
			name, path, relative, inProfile = "", "", true, false
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			switch {
			case strings.HasPrefix(line, "["):
				flush()
				inProfile = strings.HasPrefix(strings.ToLower(line), "[profile")
			case strings.HasPrefix(line, "Name="):
				name = strings.TrimPrefix(line, "Name=")
			case strings.HasPrefix(line, "Path="):
				path = strings.TrimPrefix(line, "Path=")
			case strings.HasPrefix(line, "IsRelative="):
				relative = strings.TrimPrefix(line, "IsRelative=") != "0"
			}
		}
		flush()
		f.Close()
	}
	ents, _ := os.ReadDir(root)
	var extra []profile
	for _, e := range ents {
		p := filepath.Join(root, e.Name())
		if !e.IsDir() || seen[p] {
			continue
		}
		if ok, _ := exists(filepath.Join(p, certFile)); !ok {
			if ok, _ := exists(filepath.Join(p, "prefs.js")); !ok {
				continue
			}
		}
		seen[p] = true
		extra = append(extra, profile{name: e.Name(), path: p})
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i].name < extra[j].name })
	out = append(out, extra...)
	if d := defaultProfile(root); d != "" {
		for i := range out {
			out[i].isDefault = out[i].path == d
		}
	}
	return out
}

// IsShorthand reports whether an nss store location is a shorthand
// (chromium, firefox, firefox/PROFILE, system) rather than a folder.
func IsShorthand(loc string) bool {
	base, _, _ := strings.Cut(loc, "/")
	switch base {
	case "chromium", "system":
		return !strings.Contains(loc, "/")
	case "firefox":
		return true
	}
	return false
}

// ResolveShorthand turns an nss store shorthand into database folders, for
// the user whose home folder is home:
//
//	chromium          the first Chromium location whose database exists
//	firefox           every Firefox profile
//	firefox/PROFILE   the profile with that name (profiles.ini Name=) or folder name
//	system            /etc/pki/nssdb, when its database exists
//
// A shorthand that finds nothing is an error matching stores.ErrNothingFound
// that names where it looked: a shorthand never stands for a database that
// is not there yet (to create one, name its folder).
func ResolveShorthand(loc, home string) ([]string, error) {
	locs := Discover(home)
	base, prof, hasProf := strings.Cut(loc, "/")
	switch {
	case base == "chromium" && !hasProf, base == "system" && !hasProf:
		var looked []string
		for _, l := range locs {
			if l.Name != base {
				continue
			}
			if l.Exists {
				return []string{l.Path}, nil
			}
			looked = append(looked, l.Path)
		}
		return nil, stores.NothingFound(fmt.Sprintf("no NSS database (%s) in %s", certFile, strings.Join(looked, ", ")))
	case base == "firefox":
		var out, names []string
		for _, l := range locs {
			if !strings.HasPrefix(l.Name, "firefox/") {
				continue
			}
			name := strings.TrimPrefix(l.Name, "firefox/")
			names = append(names, name)
			if !hasProf || name == prof || filepath.Base(l.Path) == prof {
				out = append(out, l.Path)
			}
		}
		if len(out) > 0 {
			return out, nil
		}
		if !hasProf || len(names) == 0 {
			return nil, stores.NothingFound("no Firefox profile under " + home)
		}
		return nil, stores.NothingFound(fmt.Sprintf("no Firefox profile %q (profiles: %s)", prof, strings.Join(names, ", ")))
	}
	return nil, fmt.Errorf("unknown nss shorthand %q (want chromium, firefox, firefox/PROFILE or system)", loc)
}

// discoverSpecs is Discover as the registry reports it: a database is named
// by the shorthand that resolves to it (nss:chromium for the first Chromium
// database that exists, nss:firefox/PROFILE for the first profile of that
// name), every other by its folder, which is also how a database that does
// not exist yet is created.
func discoverSpecs(home string) []stores.Found {
	var out []stores.Found
	named := map[string]bool{}
	for _, l := range Discover(home) {
		loc := l.Path
		if !named[l.Name] && (l.Exists || strings.HasPrefix(l.Name, "firefox/")) {
			loc, named[l.Name] = l.Name, true
		}
		spec := stores.Spec{Kind: "nss", Location: loc}.String()
		out = append(out, stores.Found{Spec: spec, UsedBy: l.Browser, Path: l.Path, Exists: l.Exists, Default: l.Default})
	}
	return out
}
