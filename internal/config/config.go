// Package config reads rootsync's configuration file: named jobs (sources,
// targets with their hooks, mode and filters) and global settings for
// unattended runs. It parses and validates the whole file and reports every
// mistake it finds, each with the file, the line and what is wrong, before
// the caller touches anything.
//
// The package reads the one file it is given and nothing else: it never opens
// a store, never runs a hook and never logs. The format is documented in
// docs/config.md.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rootsync/rootsync/internal/plan"
	"github.com/rootsync/rootsync/internal/securefs"
	"github.com/rootsync/rootsync/internal/storekinds"
	"github.com/rootsync/rootsync/stores"
)

// Defaults for the global settings.
const (
	DefaultKeepBackups = 10
	DefaultLockWait    = 30 * time.Second
	DefaultHookTimeout = time.Minute
)

// Config is a validated configuration file.
type Config struct {
	// Path is the file it was read from.
	Path string
	// StateDir is where backups, the lock and the journal live; "" means the
	// caller's default.
	StateDir string
	// KeepBackups is how many backups of each store to keep (0 keeps all).
	KeepBackups int
	// LockWait is how long a run waits for another run to finish.
	LockWait time.Duration
	// Jobs in the order the file gives them.
	Jobs []*Job
}

// Job is one named synchronisation: its targets are changed all together or
// not at all.
type Job struct {
	Name    string
	Line    int
	Sources []*Store
	Targets []*Store
	Options plan.Options // Now is left zero for the caller to set
}

// Store is a source or target: its spec, where its password comes from, and
// (targets only) the commands to run after it changed.
type Store struct {
	Raw      string // the spec as written
	Line     int
	Spec     stores.Spec
	Password stores.Secret
	Hooks    []Hook
}

// Hook is one command, as an argument list run without a shell.
type Hook struct {
	Argv    []string
	Timeout time.Duration
}

// Problem is one mistake in the file.
type Problem struct {
	File string
	Line int // 0 when the mistake has no line (an empty file)
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// Error lists every mistake found in a file, in line order.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	var lines []string
	for _, p := range e.Problems {
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "\n")
}

// DefaultPath is where a run looks for its
// configuration when none is given: for root the system-wide
// /etc/rootsync/config.yaml; for everyone else $XDG_CONFIG_HOME/rootsync/config.yaml
// or, without XDG_CONFIG_HOME, ~/.config/rootsync/config.yaml. getenv and home
// come from the caller, so this does no I/O.
func DefaultPath(euid int, getenv func(string) string, home string) string {
	if euid == 0 {
		return "/etc/rootsync/config.yaml"
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "rootsync", "config.yaml")
	}
	return filepath.Join(home, ".config", "rootsync", "config.yaml")
}

// Load reads and validates the file at path. A file that cannot be read (or
// is not a regular file: see stores.ReadFile) is returned as that error
// (wrapped, naming the file); mistakes in it as an *Error listing all of them.
// As root, a file (or a folder on the way to it) that another user could have
// written is refused before it is read: the error wraps securefs.ErrUnsafe and
// names the path.
func Load(path string) (*Config, error) {
	if err := securefs.CheckFile(path, "configuration file"); err != nil {
		return nil, err
	}
	data, err := stores.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configuration %w", err)
	}
	return Parse(path, data)
}

// Parse validates data, read from file (used in messages only).
func Parse(file string, data []byte) (*Config, error) {
	p := &parser{file: file}
	cfg := p.parse(data)
	if len(p.problems) > 0 {
		sort.SliceStable(p.problems, func(i, j int) bool { return p.problems[i].Line < p.problems[j].Line })
		return nil, &Error{Problems: p.problems}
	}
	return cfg, nil
}

type parser struct {
	file     string
	problems []Problem
}

func (p *parser) errf(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (p *parser) parse(data []byte) *Config {
	cfg := &Config{Path: p.file, KeepBackups: DefaultKeepBackups, LockWait: DefaultLockWait}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		err = nil // an empty file, reported below
	}
	if err == nil {
		var next yaml.Node
		if dec.Decode(&next) == nil {
			p.errf(&next, "a second YAML document (after ---): a configuration file holds one; merge the jobs into the first")
			return nil
		}
	}
	if err != nil {
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ := strconv.Atoi(m[1])
			p.problems = append(p.problems, Problem{File: p.file, Line: line, Msg: "not valid YAML: " + m[2]})
		} else {
			p.problems = append(p.problems, Problem{File: p.file, Msg: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")})
		}
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.errf(nil, "the file is empty: it needs at least a jobs: section (see docs/config.md)")
		return nil
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		p.errf(root, "the top level must be a mapping with keys state-dir, keep-backups, lock-wait and jobs")
		return nil
	}
	var jobsNode *yaml.Node
	p.fields(root, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "state-dir":
			if s, ok := p.str(v, "state-dir"); ok {
				if !filepath.IsAbs(s) {
					p.errf(v, "state-dir %q: give an absolute path", s)
				}
				cfg.StateDir = filepath.Clean(s)
			}
		case "keep-backups":
			var n int
			if err := v.Decode(&n); err != nil || n < 0 {
				p.errf(v, "keep-backups %q: want a whole number, 0 or more (0 keeps all)", v.Value)
			} else {
				cfg.KeepBackups = n
			}
		case "lock-wait":
			if d, ok := p.duration(v, "lock-wait"); ok {
				cfg.LockWait = d
			}
		case "jobs":
			jobsNode = v
		default:
			p.errf(k, "unknown setting %q (want state-dir, keep-backups, lock-wait or jobs)", key)
		}
	})
	if jobsNode == nil {
		p.errf(root, "no jobs: section: nothing to do")
		return cfg
	}
	if jobsNode.Kind != yaml.MappingNode {
		p.errf(jobsNode, "jobs: want a mapping of job names to jobs")
		return cfg
	}
	if len(jobsNode.Content) == 0 {
		p.errf(jobsNode, "jobs: is empty: nothing to do")
	}
	p.fields(jobsNode, "", func(name string, k, v *yaml.Node) {
		if j := p.job(name, k, v); j != nil {
			cfg.Jobs = append(cfg.Jobs, j)
		}
	})
	p.crossCheck(cfg)
	return cfg
}

var jobName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (p *parser) job(name string, k, v *yaml.Node) *Job {
	if !jobName.MatchString(name) {
		p.errf(k, "job %q: a job name is letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	ctx := fmt.Sprintf("job %q: ", name)
	if v.Kind != yaml.MappingNode {
		p.errf(v, "%swant a mapping with sources, targets and options", ctx)
		return nil
	}
	j := &Job{Name: name, Line: k.Line}
	var srcNode, tgtNode *yaml.Node
	p.fields(v, ctx, func(key string, kn, vn *yaml.Node) {
		switch key {
		case "sources":
			srcNode = vn
		case "targets":
			tgtNode = vn
		case "mode":
			if s, ok := p.str(vn, ctx+"mode"); ok {
				m, err := plan.ParseMode(s)
				if err != nil {
					p.errf(vn, "%smode: %v", ctx, err)
				}
				j.Options.Mode = m
			}
		case "purposes":
			for _, n := range p.list(vn, ctx+"purposes") {
				if s, ok := p.str(n, ctx+"purposes"); ok {
					pp, err := stores.ParsePurpose(s)
					if err != nil {
						p.errf(n, "%spurposes: %v", ctx, err)
						continue
					}
					j.Options.Purposes = append(j.Options.Purposes, pp)
				}
			}
		case "origin":
			if s, ok := p.str(vn, ctx+"origin"); ok {
				o, err := plan.ParseOrigin(s)
				if err != nil {
					p.errf(vn, "%sorigin: %v", ctx, err)
				}
				j.Options.Origin = o
			}
		case "exclude":
			for _, n := range p.list(vn, ctx+"exclude") {
				if s, ok := p.str(n, ctx+"exclude"); ok {
					if err := plan.CheckPrefix(s); err != nil {
						p.errf(n, "%sexclude %q: %v", ctx, s, err)
						continue
					}
					j.Options.Exclude = append(j.Options.Exclude, s)
				}
			}
		case "include-expired":
			j.Options.IncludeExpired = p.boolean(vn, ctx+"include-expired")
		case "include-non-ca":
			j.Options.IncludeNonCA = p.boolean(vn, ctx+"include-non-ca")
		case "max-removals":
			var n int
			if vn.Kind != yaml.ScalarNode || vn.Tag != "!!int" || vn.Decode(&n) != nil || n < 0 {
				p.errf(vn, "%smax-removals %q: want a whole number, 0 or more (the removals a target may lose even when that is most of it or all of it)", ctx, vn.Value)
				return
			}
			j.Options.MaxRemovals = n
		default:
			p.errf(kn, "%sunknown key %q (want sources, targets, mode, purposes, origin, exclude, include-expired, include-non-ca or max-removals)", ctx, key)
		}
	})
	j.Sources = p.stores(k, srcNode, ctx, "source")
	j.Targets = p.stores(k, tgtNode, ctx, "target")
	return j
}

// stores reads a job's list of sources or targets (role "source" or
// "target"); a job needs at least one of each.
func (p *parser) stores(job, node *yaml.Node, ctx, role string) []*Store {
	if node == nil {
		p.errf(job, "%sno %ss: a job needs at least one %s store", ctx, role, role)
		return nil
	}
	var out []*Store
	for _, n := range p.list(node, ctx+role+"s") {
		if s := p.store(n, ctx, role); s != nil {
			out = append(out, s)
		}
	}
	if len(node.Content) == 0 && node.Kind == yaml.SequenceNode {
		p.errf(node, "%s%ss: is empty: a job needs at least one %s store", ctx, role, role)
	}
	return out
}

// store reads a source or target: either a spec string, or a mapping with
// store: SPEC and options.
func (p *parser) store(n *yaml.Node, ctx, role string) *Store {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		return p.spec(n, ctx, role, n.Value)
	}
	if n.Kind != yaml.MappingNode {
		p.errf(n, "%s%s: want a store spec such as pem:/etc/nginx/client-ca.pem, or a mapping with store:", ctx, role)
		return nil
	}
	var specNode *yaml.Node
	var passEnv, passFile, passCred, hooks, timeout *yaml.Node
	p.fields(n, ctx, func(key string, kn, vn *yaml.Node) {
		switch key {
		case "store":
			specNode = vn
		case "password-env":
			passEnv = vn
		case "password-file":
			passFile = vn
		case "password-credential":
			passCred = vn
		case "hooks":
			hooks = vn
		case "hook-timeout":
			timeout = vn
		default:
			p.errf(kn, "%s%s: unknown key %q (want store, password-env, password-file, password-credential, hooks or hook-timeout)", ctx, role, key)
		}
	})
	if specNode == nil {
		p.errf(n, "%s%s: missing store: (the store spec, such as nss:/root/.pki/nssdb)", ctx, role)
		return nil
	}
	raw, ok := p.str(specNode, ctx+role+" store")
	if !ok {
		return nil
	}
	s := p.spec(specNode, ctx, role, raw)
	if s == nil {
		return nil
	}
	where := fmt.Sprintf("%s%s %q: ", ctx, role, raw)
	p.password(s, where, passEnv, passFile, passCred)
	p.hooks(s, where, role, hooks, timeout)
	return s
}

// password reads a store's password-env, password-file and
// password-credential keys (each may be nil) into s.
func (p *parser) password(s *Store, where string, passEnv, passFile, passCred *yaml.Node) {
	if passEnv != nil {
		if v, ok := p.str(passEnv, where+"password-env"); ok {
			if !envName.MatchString(v) {
				p.errf(passEnv, "%spassword-env %q: want the name of an environment variable", where, v)
			}
			s.Password.Env = v
		}
	}
	if passFile != nil {
		if v, ok := p.str(passFile, where+"password-file"); ok {
			if !filepath.IsAbs(v) {
				p.errf(passFile, "%spassword-file %q: give an absolute path", where, v)
			}
			s.Password.File = v
		}
	}
	if passCred != nil {
		if v, ok := p.str(passCred, where+"password-credential"); ok {
			if err := stores.CheckCredentialName(v); err != nil {
				p.errf(passCred, "%spassword-credential %q: want a credential name as given to LoadCredential= (a file name, without '/')", where, v)
			}
			s.Password.Credential = v
		}
	}
	if countSet(passEnv, passFile, passCred) > 1 {
		p.errf(lastOf(passFile, passCred), "%sgive one of password-env, password-file and password-credential", where)
	}
}

// hooks reads a store's hooks and hook-timeout keys (either may be nil) into
// s; only targets have hooks.
func (p *parser) hooks(s *Store, where, role string, hooks, timeout *yaml.Node) {
	if hooks != nil && role != "target" {
		p.errf(hooks, "%shooks: only targets have hooks (they run after the target changed)", where)
	}
	if timeout != nil && role != "target" {
		p.errf(timeout, "%shook-timeout: only targets have hooks", where)
	}
	to := DefaultHookTimeout
	if timeout != nil {
		if d, ok := p.duration(timeout, where+"hook-timeout"); ok {
			if d <= 0 {
				p.errf(timeout, "%shook-timeout: want a positive duration such as 30s", where)
			}
			to = d
		}
	}
	if hooks != nil && role == "target" {
		for _, hn := range p.list(hooks, where+"hooks") {
			hn = deref(hn)
			if hn.Kind != yaml.SequenceNode {
				p.errf(hn, "%shooks: each hook is a list of arguments, such as [\"nginx\", \"-t\"] (no shell)", where)
				continue
			}
			h := Hook{Timeout: to}
			for _, an := range hn.Content {
				if a, ok := p.str(an, where+"hook argument"); ok {
					h.Argv = append(h.Argv, a)
				}
			}
			if len(hn.Content) == 0 {
				p.errf(hn, "%shooks: empty hook: give the command and its arguments", where)
				continue
			}
			if len(h.Argv) > 0 && h.Argv[0] == "" {
				p.errf(hn, "%shooks: the command name is empty", where)
			}
			if len(h.Argv) == 1 && strings.ContainsAny(h.Argv[0], " \t|;&") {
				p.errf(hn, "%shooks: %q looks like a shell command line; hooks run without a shell: write it as a list, [\"nginx\", \"-s\", \"reload\"]", where, h.Argv[0])
			}
			s.Hooks = append(s.Hooks, h)
		}
	}
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (p *parser) spec(n *yaml.Node, ctx, role, raw string) *Store {
	if n.Tag != "" && n.Tag != "!!str" {
		p.errf(n, "%s%s: want a store spec such as pem:/etc/nginx/client-ca.pem, not %s", ctx, role, describe(n))
		return nil
	}
	where := fmt.Sprintf("%s%s %q: ", ctx, role, raw)
	reg := storekinds.Registry()
	sp, err := reg.ParseSpec(raw)
	if err != nil {
		reason := err.Error()
		if se := (*stores.SpecError)(nil); errors.As(err, &se) {
			reason = se.Reason // the spec is named already
		}
		p.errf(n, "%s%s", where, reason)
		return nil
	}
	if sp.Location != "" && !filepath.IsAbs(sp.Location) && !reg.IsShorthand(sp) {
		p.errf(n, "%sgive an absolute path (or ~/..., or an nss shorthand such as nss:chromium): unattended runs start in /", where)
		return nil
	}
	return &Store{Raw: raw, Line: n.Line, Spec: sp}
}

// crossCheck finds mistakes that span entries: a store that is both source
// and target of a job, a target named twice in one job.
func (p *parser) crossCheck(cfg *Config) {
	for _, j := range cfg.Jobs {
		srcs := map[string]bool{}
		for _, s := range j.Sources {
			srcs[storeKey(s.Spec)] = true
		}
		seen := map[string]bool{}
		for _, t := range j.Targets {
			key := storeKey(t.Spec)
			if srcs[key] {
				p.problems = append(p.problems, Problem{p.file, t.Line, fmt.Sprintf("job %q: target %q is also a source of this job", j.Name, t.Raw)})
			}
			if seen[key] {
				p.problems = append(p.problems, Problem{p.file, t.Line, fmt.Sprintf("job %q: target %q is named twice", j.Name, t.Raw)})
			}
			seen[key] = true
		}
	}
}

func storeKey(s stores.Spec) string {
	return s.Kind + ":" + filepath.Clean(s.Location)
}

// fields walks a mapping's keys, reporting duplicate and non-string keys.
func (p *parser) fields(m *yaml.Node, ctx string, f func(key string, k, v *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], deref(m.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errf(k, "%sa key must be a plain word", ctx)
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.errf(k, "%s%q is given twice (first on line %d)", ctx, k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		f(k.Value, k, v)
	}
}

func (p *parser) list(n *yaml.Node, what string) []*yaml.Node {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errf(n, "%s: want a list, not %s", what, describe(n))
		return nil
	}
	return n.Content
}

func (p *parser) str(n *yaml.Node, what string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float") || n.Value == "" {
		p.errf(n, "%s: want a non-empty string, not %s", what, describe(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) boolean(n *yaml.Node, what string) bool {
	var b bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
		p.errf(n, "%s: want true or false, not %s", what, describe(n))
	}
	return b
}

func (p *parser) duration(n *yaml.Node, what string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errf(n, "%s: want a duration such as 30s or 2m, not %s", what, describe(n))
		return 0, false
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil || d < 0 {
		p.errf(n, "%s %q: want a duration such as 30s or 2m", what, n.Value)
		return 0, false
	}
	return d, true
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "nothing"
		case "!!str":
			if n.Value == "" {
				return "an empty string"
			}
			return fmt.Sprintf("%q", n.Value)
		}
		return fmt.Sprintf("%s %s", strings.TrimPrefix(n.Tag, "!!"), n.Value)
	}
	return "this"
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// IsNotExist reports whether err is a configuration file that does not exist.
func IsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

// Job returns the job named name, or nil.
func (c *Config) Job(name string) *Job {
	for _, j := range c.Jobs {
		if j.Name == name {
			return j
		}
	}
	return nil
}

// Names lists the job names in file order.
func (c *Config) Names() []string {
	var out []string
	for _, j := range c.Jobs {
		out = append(out, j.Name)
	}
	return out
}

// countSet counts the nodes that are there.
func countSet(nodes ...*yaml.Node) int {
	n := 0
	for _, x := range nodes {
		if x != nil {
			n++
		}
	}
	return n
}

// lastOf is the last of the nodes that is there, to point a message at.
func lastOf(a, b *yaml.Node) *yaml.Node {
	if b != nil {
		return b
	}
	return a
}
