package stores_test

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/stores"
)

// toyRegistry has a file kind without options, a kind with a password and
// shorthands, and a kind whose location is optional.
func toyRegistry(t *testing.T) *stores.Registry {
	t.Helper()
	open := func(stores.Spec, stores.OpenOptions) (stores.Store, error) { return nil, nil }
	r, err := stores.NewRegistry(
		stores.Kind{Name: "file", Location: "FILE", Open: open},
		stores.Kind{
			Name: "db", Location: "DIR", Open: open, Options: stores.PasswordOptions,
			Shorthands:  []stores.Shorthand{{Form: "here"}, {Form: "none"}},
			IsShorthand: func(loc string) bool { return loc == "here" || loc == "none" },
			Expand: func(loc, home string) ([]string, error) {
				if loc == "none" {
					return nil, stores.NothingFound("nothing under " + home)
				}
				return []string{home + "/a", home + "/b"}, nil
			},
		},
		stores.Kind{Name: "host", Location: "ROOT", LocationOptional: true, Open: open,
			Options: []stores.Option{{Name: "family", Value: "NAME"}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRegistryParseSpec(t *testing.T) {
	home, _ := os.UserHomeDir()
	r := toyRegistry(t)
	tests := []struct {
		name, in string
		want     stores.Spec
		// err is a substring of the error; option the option it names.
		err, option string
	}{
		{name: "path", in: "file:/etc/nginx/ca.pem", want: stores.Spec{Kind: "file", Location: "/etc/nginx/ca.pem"}},
		{name: "space", in: "file:dir with space", want: stores.Spec{Kind: "file", Location: "dir with space"}},
		{name: "home", in: "file:~/.pki/x", want: stores.Spec{Kind: "file", Location: home + "/.pki/x"}},
		{name: "option", in: "db:trust?password-env=PW", want: stores.Spec{Kind: "db", Location: "trust", Options: map[string]string{"password-env": "PW"}}},
		{name: "option value decoded", in: "db:t?password-file=%2Fa%20b", want: stores.Spec{Kind: "db", Location: "t", Options: map[string]string{"password-file": "/a b"}}},
		{name: "bare optional", in: "host", want: stores.Spec{Kind: "host"}},
		{name: "optional location", in: "host:/srv/chroot", want: stores.Spec{Kind: "host", Location: "/srv/chroot"}},
		{name: "options without location", in: "host?family=x:y", want: stores.Spec{Kind: "host", Options: map[string]string{"family": "x:y"}}},

		{name: "question mark escaped", in: "file:w/a%3Fb.pem", want: stores.Spec{Kind: "file", Location: "w/a?b.pem"}},
		{name: "percent escaped", in: "file:100%25.pem", want: stores.Spec{Kind: "file", Location: "100%.pem"}},
		{name: "plus stays", in: "file:a+b.pem", want: stores.Spec{Kind: "file", Location: "a+b.pem"}},
		{name: "escaped tilde", in: "file:%7E/x", want: stores.Spec{Kind: "file", Location: "~/x"}},
		{name: "first question mark starts options", in: "db:a?b?password-env=X", err: `unknown option "b?password-env"`, option: "b?password-env"},
		{name: "literal question mark is an option", in: "file:w/a?b.pem", err: `unknown option "b.pem" (file takes no options)`, option: "b.pem"},
		{name: "bad escape", in: "file:50%.pem", err: `location: bad %-escape "%.p"`},

		{name: "unknown option", in: "db:/x?password-envv=X", err: `unknown option "password-envv" (db takes password-env, password-file or password-credential)`, option: "password-envv"},
		{name: "no options taken", in: "file:/x?bogus=1", err: `unknown option "bogus" (file takes no options)`, option: "bogus"},
		{name: "option twice", in: "db:/x?password-env=A&password-env=B", err: `option "password-env" is given twice`, option: "password-env"},
		{name: "option without value", in: "db:/x?password-env=", err: `option "password-env" needs a value (password-env=VAR)`, option: "password-env"},
		{name: "option without value or =", in: "db:/x?password-env", err: `needs a value`, option: "password-env"},
		{name: "nothing after ?", in: "db:/x?", err: `nothing after '?'`},
		{name: "empty key", in: "db:/x?=1", err: `must read key=value`},
		{name: "options without a required location", in: "db?password-env=X", err: "missing location (want db:DIR)"},
		{name: "empty location", in: "file:", err: "missing location (want file:FILE)"},
		{name: "no location", in: "file", err: "missing location"},
		{name: "unknown kind", in: "bundle:/x", err: `unknown kind "bundle" (want KIND:LOCATION with KIND one of file, db, host)`},
		{name: "a path", in: "/etc/ssl/cert.pem", err: `unknown kind "/etc/ssl/cert.pem"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.ParseSpec(tt.in)
			if tt.err != "" {
				var se *stores.SpecError
				if !errors.As(err, &se) {
					t.Fatalf("ParseSpec(%q) = %+v, %v; want a *SpecError containing %q", tt.in, got, err, tt.err)
				}
				if !strings.Contains(se.Reason, tt.err) || se.Option != tt.option || se.Spec != tt.in {
					t.Errorf("ParseSpec(%q): %#v; want reason containing %q, option %q", tt.in, se, tt.err, tt.option)
				}
				if want := `store "` + tt.in + `": ` + se.Reason; err.Error() != want {
					t.Errorf("error text %q, want %q", err, want)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseSpec(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			again, err := r.ParseSpec(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("round trip of %q through %q: %+v, %v", tt.in, got.String(), again, err)
			}
		})
	}
}

func TestKindParseSpecRefusesOtherKind(t *testing.T) {
	k, _ := toyRegistry(t).Lookup("file")
	if _, err := k.ParseSpec("db:/x"); err == nil || !strings.Contains(err.Error(), "not a file: spec") {
		t.Errorf("file kind parsing db:/x: %v", err)
	}
}

func TestSpecStringEscapes(t *testing.T) {
	s := stores.Spec{Kind: "file", Location: "/a?b%c d", Options: map[string]string{"z": "1 2", "a": "&"}}
	if got, want := s.String(), "file:/a%3Fb%25c d?a=%26&z=1+2"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestRegistryExpand(t *testing.T) {
	r := toyRegistry(t)
	opts := map[string]string{"password-env": "PW"}
	got, err := r.Expand(stores.Spec{Kind: "db", Location: "here", Options: opts}, "/h")
	want := []stores.Spec{{Kind: "db", Location: "/h/a", Options: opts}, {Kind: "db", Location: "/h/b", Options: opts}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Expand(here) = %+v, %v; want %+v", got, err, want)
	}
	plain := stores.Spec{Kind: "db", Location: "/srv/db"}
	if got, err := r.Expand(plain, "/h"); err != nil || !reflect.DeepEqual(got, []stores.Spec{plain}) {
		t.Errorf("Expand(a path) = %+v, %v; want the spec itself", got, err)
	}
	_, err = r.Expand(stores.Spec{Kind: "db", Location: "none"}, "/h")
	if !errors.Is(err, stores.ErrNothingFound) || err.Error() != "store db:none: nothing under /h" {
		t.Errorf("Expand(none) = %v; want ErrNothingFound naming the store and where it looked", err)
	}
	if _, err := r.Open(stores.Spec{Kind: "db", Location: "none"}, stores.OpenOptions{}); !errors.Is(err, stores.ErrNothingFound) {
		t.Errorf("Open(none) = %v; want ErrNothingFound", err)
	}
}

func TestNewRegistryRefusesBadLists(t *testing.T) {
	open := func(stores.Spec, stores.OpenOptions) (stores.Store, error) { return nil, nil }
	ok := stores.Kind{Name: "a", Location: "FILE", Open: open}
	tests := []struct {
		name  string
		kinds []stores.Kind
	}{
		{"twice", []stores.Kind{ok, ok}},
		{"bad name", []stores.Kind{{Name: "A:", Location: "FILE", Open: open}}},
		{"no open", []stores.Kind{{Name: "b", Location: "FILE"}}},
		{"no location name", []stores.Kind{{Name: "b", Open: open}}},
		{"shorthands without expand", []stores.Kind{{Name: "b", Location: "DIR", Open: open, Shorthands: []stores.Shorthand{{Form: "x"}}}}},
		{"option twice", []stores.Kind{{Name: "b", Location: "DIR", Open: open, Options: []stores.Option{{Name: "o"}, {Name: "o"}}}}},
	}
	for _, tt := range tests {
		if _, err := stores.NewRegistry(tt.kinds...); err == nil {
			t.Errorf("%s: NewRegistry accepted it", tt.name)
		}
	}
	if _, err := stores.NewRegistry(ok); err != nil {
		t.Errorf("NewRegistry(a good kind): %v", err)
	}
}
