package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/plan"
	"github.com/rootsync/rootsync/stores"
)

func TestExampleParses(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "packaging", "config.example.yaml"))
	if err != nil {
		t.Fatalf("packaging/config.example.yaml: %v", err)
	}
	if got, want := cfg.Names(), []string{"nginx-clients", "system-to-apps"}; !reflect.DeepEqual(got, want) {
		t.Errorf("jobs = %q, want %q", got, want)
	}
	if cfg.StateDir != "/var/lib/rootsync" || cfg.KeepBackups != 10 || cfg.LockWait != 30*time.Second {
		t.Errorf("globals = %q %d %s", cfg.StateDir, cfg.KeepBackups, cfg.LockWait)
	}
	nj := cfg.Job("nginx-clients")
	if len(nj.Targets) != 1 || len(nj.Targets[0].Hooks) != 2 {
		t.Fatalf("nginx-clients targets = %+v", nj.Targets)
	}
	if got, want := nj.Targets[0].Hooks[1].Argv, []string{"nginx", "-s", "reload"}; !reflect.DeepEqual(got, want) {
		t.Errorf("hook = %q, want %q", got, want)
	}
	if nj.Targets[0].Hooks[0].Timeout != 30*time.Second {
		t.Errorf("hook timeout = %s", nj.Targets[0].Hooks[0].Timeout)
	}
	if nj.Options.Origin != plan.OriginLocal || cfg.Job("system-to-apps").Options.Origin != plan.OriginAll {
		t.Errorf("origins = %v, %v", nj.Options.Origin, cfg.Job("system-to-apps").Options.Origin)
	}
	if !reflect.DeepEqual(nj.Options.Purposes, []stores.Purpose{stores.ClientAuth}) {
		t.Errorf("purposes = %v", nj.Options.Purposes)
	}
	sj := cfg.Job("system-to-apps")
	if sj.Options.Mode != plan.Prune || len(sj.Targets) != 3 || sj.Sources[0].Spec.Kind != "system" {
		t.Errorf("system-to-apps = %+v", sj)
	}
	if sj.Targets[1].Password.File != "/etc/rootsync/myapp-truststore.password" || sj.Targets[2].Password.File != "/etc/rootsync/legacy-cacerts.password" {
		t.Errorf("passwords = %+v %+v", sj.Targets[1].Password, sj.Targets[2].Password)
	}
}

func TestMaxRemovals(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("jobs:\n  a:\n    sources: [nss:/n]\n    targets: [pem:/p]\n    mode: mirror\n    max-removals: 40\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Jobs[0].Options.MaxRemovals; got != 40 {
		t.Errorf("max-removals: got %d, want 40", got)
	}
}

func TestMinimalDefaults(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("jobs:\n  a:\n    sources: [nss:/n, nss:chromium, nss:firefox/default]\n    targets: [pem:/p]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "" || cfg.KeepBackups != DefaultKeepBackups || cfg.LockWait != DefaultLockWait {
		t.Errorf("defaults = %q %d %s", cfg.StateDir, cfg.KeepBackups, cfg.LockWait)
	}
	j := cfg.Jobs[0]
	if j.Options.Mode != plan.AddOnly || j.Options.IncludeExpired || j.Options.IncludeNonCA || len(j.Options.Purposes) != 0 || j.Options.MaxRemovals != 0 {
		t.Errorf("job options = %+v", j.Options)
	}
	if j.Targets[0].Spec.String() != "pem:/p" || j.Targets[0].Line != 4 || len(j.Targets[0].Hooks) != 0 {
		t.Errorf("target = %+v", j.Targets[0])
	}
}

// TestMistakes checks that each mistake is reported as FILE:LINE: message.
func TestMistakes(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown kind", `
jobs:
  nginx-clients:
    sources: [nss:/root/.pki/nssdb]
    targets:
      - pemm:/x
`, []string{`c.yaml:6: job "nginx-clients": target "pemm:/x": unknown kind "pemm" (want KIND:LOCATION with KIND one of pem, capath, nss, p12, jks, system, windows)`}},
		{"unknown top-level key", "jobz: {}\n", []string{
			`c.yaml:1: unknown setting "jobz" (want state-dir, keep-backups, lock-wait or jobs)`,
			`c.yaml:1: no jobs: section: nothing to do`}},
		{"unknown job key", `
jobs:
  a:
    sources: [nss:/n]
    targets: [pem:/p]
    purpose: [client-auth]
`, []string{`c.yaml:6: job "a": unknown key "purpose" (want sources, targets, mode, purposes, origin, exclude, include-expired, include-non-ca or max-removals)`}},
		{"unknown origin", `
jobs:
  a:
    sources: [nss:/n]
    targets: [pem:/p]
    origin: web
`, []string{`c.yaml:6: job "a": origin: unknown origin "web" (want local, public or all)`}},
		{"second document", `
jobs:
  a:
    sources: [nss:/n]
    targets: [pem:/p]
---
jobs:
  b:
    sources: [nss:/n]
    targets: [pem:/q]
`, []string{`c.yaml:6: a second YAML document (after ---): a configuration file holds one; merge the jobs into the first`}},
		{"max-removals", `
jobs:
  a:
    sources: [nss:/n]
    targets: [pem:/p]
    max-removals: -1
  b:
    sources: [nss:/n]
    targets: [pem:/p]
    max-removals: lots
`, []string{
			`c.yaml:6: job "a": max-removals "-1": want a whole number, 0 or more (the removals a target may lose even when that is most of it or all of it)`,
			`c.yaml:10: job "b": max-removals "lots": want a whole number, 0 or more (the removals a target may lose even when that is most of it or all of it)`,
		}},
		{"unknown target key", `
jobs:
  a:
    sources: [nss:/n]
    targets:
      - store: pem:/p
        hook: [[nginx, -t]]
`, []string{`c.yaml:7: job "a": target: unknown key "hook" (want store, password-env, password-file, password-credential, hooks or hook-timeout)`}},
		{"all mistakes at once", `
state-dir: relative/state
keep-backups: -1
lock-wait: soon
jobs:
  a:
    sources: [nss:/n]
    targets: [pem:/p]
    mode: sideways
    purposes: [client-auth, lunch]
    exclude: [abc, "zzzzzzzzzz"]
    include-expired: maybe
  b:
    targets: [capath:relative]
`, []string{
			`c.yaml:2: state-dir "relative/state": give an absolute path`,
			`c.yaml:3: keep-backups "-1": want a whole number, 0 or more (0 keeps all)`,
			`c.yaml:4: lock-wait "soon": want a duration such as 30s or 2m`,
			`c.yaml:9: job "a": mode: unknown mode "sideways" (want add, prune or mirror)`,
			`c.yaml:10: job "a": purposes: unknown purpose "lunch" (want one of server-auth, client-auth, email, code-signing)`,
			`c.yaml:11: job "a": exclude "abc": give at least 8 hex digits of the certificate's SHA-256 fingerprint (as rootsync list prints them)`,
			`c.yaml:11: job "a": exclude "zzzzzzzzzz": give at least 8 hex digits of the certificate's SHA-256 fingerprint (as rootsync list prints them)`,
			`c.yaml:12: job "a": include-expired: want true or false, not "maybe"`,
			`c.yaml:13: job "b": no sources: a job needs at least one source store`,
			`c.yaml:14: job "b": target "capath:relative": give an absolute path (or ~/..., or an nss shorthand such as nss:chromium): unattended runs start in /`,
		}},
		{"hooks", `
jobs:
  a:
    sources:
      - store: nss:/n
        hooks: [[true]]
    targets:
      - store: pem:/p
        hooks:
          - nginx -s reload
          - ["nginx -s reload"]
          - []
        hook-timeout: 0s
`, []string{
			`c.yaml:6: job "a": source "nss:/n": hooks: only targets have hooks (they run after the target changed)`,
			`c.yaml:10: job "a": target "pem:/p": hooks: each hook is a list of arguments, such as ["nginx", "-t"] (no shell)`,
			`c.yaml:11: job "a": target "pem:/p": hooks: "nginx -s reload" looks like a shell command line; hooks run without a shell: write it as a list, ["nginx", "-s", "reload"]`,
			`c.yaml:12: job "a": target "pem:/p": hooks: empty hook: give the command and its arguments`,
			`c.yaml:13: job "a": target "pem:/p": hook-timeout: want a positive duration such as 30s`,
		}},
		{"passwords", `
jobs:
  a:
    sources: [nss:/n]
    targets:
      - store: p12:/t.p12
        password-env: "not a name"
        password-file: rel.txt
`, []string{
			`c.yaml:7: job "a": target "p12:/t.p12": password-env "not a name": want the name of an environment variable`,
			`c.yaml:8: job "a": target "p12:/t.p12": password-file "rel.txt": give an absolute path`,
			`c.yaml:8: job "a": target "p12:/t.p12": give one of password-env, password-file and password-credential`,
		}},
		{"password credential", `
jobs:
  a:
    sources: [nss:/n]
    targets:
      - store: p12:/t.p12
        password-credential: ../shadow
      - store: jks:/t.jks
        password-file: /etc/pw
        password-credential: jks
`, []string{
			`c.yaml:7: job "a": target "p12:/t.p12": password-credential "../shadow": want a credential name as given to LoadCredential= (a file name, without '/')`,
			`c.yaml:10: job "a": target "jks:/t.jks": give one of password-env, password-file and password-credential`,
		}},
		{"cross checks", `
jobs:
  a:
    sources: [pem:/same]
    targets: [pem:/same, nss:/n, nss:/n/]
`, []string{
			`c.yaml:5: job "a": target "pem:/same" is also a source of this job`,
			`c.yaml:5: job "a": target "nss:/n/" is named twice`,
		}},
		{"duplicate keys and names", `
jobs:
  a:
    sources: [nss:/n]
    targets: [pem:/p]
  a:
    sources: [nss:/n]
    targets: [pem:/p]
  "bad name":
    sources: [nss:/n]
    targets: [pem:/p]
`, []string{
			`c.yaml:6: "a" is given twice (first on line 3)`,
			`c.yaml:9: job "bad name": a job name is letters, digits, '.', '_' and '-', starting with a letter or digit`,
		}},
		{"wrong shapes", `
jobs:
  a:
    sources: nss:/n
    targets: [{password-env: X}]
  b: just a string
`, []string{
			`c.yaml:4: job "a": sources: want a list, not "nss:/n"`,
			`c.yaml:5: job "a": target: missing store: (the store spec, such as nss:/root/.pki/nssdb)`,
			`c.yaml:6: job "b": want a mapping with sources, targets and options`,
		}},
		{"empty file", "", []string{`c.yaml: the file is empty: it needs at least a jobs: section (see docs/config.md)`}},
		{"bad yaml", "jobs:\n  a: [\n", []string{`c.yaml:2: not valid YAML: did not find expected node content`}},
		{"missing location", `
jobs:
  a:
    sources: [nss:/n]
    targets: ["pem:"]
`, []string{`c.yaml:5: job "a": target "pem:": missing location (want pem:FILE)`}},
		{"unknown spec options", `
jobs:
  a:
    sources: ["nss:/n?password-envv=X"]
    targets: ["capath:/d?bogus=1", "pem:/w/a?b.pem", "pem:/w/a%3Fb.pem"]
`, []string{
			`c.yaml:4: job "a": source "nss:/n?password-envv=X": unknown option "password-envv" (nss takes password-env, password-file or password-credential)`,
			`c.yaml:5: job "a": target "capath:/d?bogus=1": unknown option "bogus" (capath takes no options)`,
			`c.yaml:5: job "a": target "pem:/w/a?b.pem": unknown option "b.pem" (pem takes no options)`,
		}},
		{"relative system root", `
jobs:
  a:
    sources: [system:srv/root]
    targets: [pem:/p]
`, []string{`c.yaml:4: job "a": source "system:srv/root": give an absolute path (or ~/..., or an nss shorthand such as nss:chromium): unattended runs start in /`}},
		{"empty lists", `
jobs:
  a:
    sources: []
    targets: []
`, []string{
			`c.yaml:4: job "a": sources: is empty: a job needs at least one source store`,
			`c.yaml:5: job "a": targets: is empty: a job needs at least one target store`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("c.yaml", []byte(tt.yaml))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %+v, %v; want *Error", cfg, err)
			}
			var got []string
			for _, p := range ce.Problems {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tt.want, "\n      "))
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !IsNotExist(err) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("Load(missing) = %v; want a not-exist error naming the file", err)
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("jobs:\n  a:\n    sources: [nss:/n]\n    targets: [pemm:/x]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + `:4: job "a": target "pemm:/x": unknown kind "pemm"`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Load = %v, want prefix %s", err, want)
	}
}

func TestDefaultPath(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		euid int
		env  map[string]string
		want string
	}{
		{"root", 0, map[string]string{"XDG_CONFIG_HOME": "/x"}, "/etc/rootsync/config.yaml"},
		{"user with XDG", 1000, map[string]string{"XDG_CONFIG_HOME": "/home/u/cfg"}, "/home/u/cfg/rootsync/config.yaml"},
		{"user without XDG", 1000, nil, "/home/u/.config/rootsync/config.yaml"},
		{"relative XDG ignored", 1000, map[string]string{"XDG_CONFIG_HOME": "cfg"}, "/home/u/.config/rootsync/config.yaml"},
	}
	for _, tt := range tests {
		if got := DefaultPath(tt.euid, env(tt.env), "/home/u"); got != tt.want {
			t.Errorf("%s: DefaultPath = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	ex, _ := os.ReadFile(filepath.Join("..", "..", "packaging", "config.example.yaml"))
	f.Add(ex)
	f.Add([]byte("jobs:\n  a:\n    sources: [nss:/n]\n    targets: [pem:/p]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.yaml", data)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v: want exactly one", cfg, err)
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error %v is not an *Error with problems", err)
			}
		}
	})
}

func TestPasswordCredential(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte("jobs:\n  a:\n    sources: [nss:/n]\n    targets:\n      - store: p12:/t.p12\n        password-credential: truststore\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Jobs[0].Targets[0].Password; got != (stores.Secret{Credential: "truststore"}) {
		t.Errorf("password = %+v, want the credential truststore", got)
	}
}
