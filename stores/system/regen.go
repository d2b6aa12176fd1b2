package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// command is one regeneration step.
type command struct {
	argv []string
	env  []string // nil: the process environment
	// userns runs the command in a new user namespace where the user is not 0
	// (p11-kit ignores per-user module files for uid 0).
	userns bool
}

// runCommand runs one command and returns its combined output. Tests replace
// it to simulate a failing or absent tool.
var runCommand = func(ctx context.Context, c command) ([]byte, error) {
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Env = c.env
	if c.userns {
		cmd.SysProcAttr = userNamespace()
	}
	return cmd.CombinedOutput()
}

// commands returns the regeneration commands for this store, and a cleanup
// function for the temporary folders they use.
func (s *Store) commands(fresh bool) ([]command, func(), error) {
	cleanup := func() {}
	if s.root == "" {
		var out []command
		for i, argv := range s.layout.Regenerate {
			a := append([]string(nil), argv...)
			if i == 0 && fresh {
				a = append(a, s.layout.FreshArgs...)
			}
			out = append(out, command{argv: a})
		}
		return out, cleanup, nil
	}
	if len(s.layout.Rooted) == 0 {
		return nil, cleanup, fmt.Errorf("the %s layout has no way to regenerate a tree under a root prefix", s.layout.Family)
	}
	tmp, err := os.MkdirTemp("", "rootsync-system-")
	if err != nil {
		return nil, cleanup, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	hooks := filepath.Join(tmp, "hooks")
	if err := os.Mkdir(hooks, 0o700); err != nil {
		cleanup()
		return nil, func() {}, err
	}
	expand := func(a string) string {
		return strings.NewReplacer("{root}", s.root, "{hooks}", hooks).Replace(a)
	}
	var env []string
	userns := false
	if len(s.layout.TrustPaths) > 0 {
		var paths []string
		for _, p := range s.layout.TrustPaths {
			paths = append(paths, expand(p))
		}
		modules := filepath.Join(tmp, "config", "pkcs11", "modules")
		if err := os.MkdirAll(modules, 0o755); err != nil {
			cleanup()
			return nil, func() {}, err
		}
		conf := "module: p11-kit-trust.so\ntrust-policy: yes\nx-init-reserved: paths=" + strings.Join(paths, ":") + "\n"
		if err := os.WriteFile(filepath.Join(modules, "p11-kit-trust.module"), []byte(conf), 0o644); err != nil {
			cleanup()
			return nil, func() {}, err
		}
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); k == "P11_KIT_NO_USER_CONFIG" || k == "XDG_CONFIG_HOME" || k == "HOME" {
				continue
			}
			env = append(env, kv)
		}
		env = append(env, "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"), "HOME="+tmp)
		userns = os.Getuid() == 0
		// The module file must be readable from inside the namespace.
		if err := os.Chmod(tmp, 0o755); err != nil {
			cleanup()
			return nil, func() {}, err
		}
	}
	var out []command
	for i, argv := range s.layout.Rooted {
		var a []string
		for _, arg := range argv {
			a = append(a, expand(arg))
		}
		if i == 0 && fresh {
			a = append(a, s.layout.FreshArgs...)
		}
		out = append(out, command{argv: a, env: env, userns: userns})
	}
	return out, cleanup, nil
}

// regenerate runs the regeneration commands. Under a root prefix it first
// creates the folders the outputs go to (the tools do not).
func (s *Store) regenerate(ctx context.Context, fresh bool) ([]byte, error) {
	cmds, cleanup, err := s.commands(fresh)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	if s.root != "" {
		for _, o := range s.Outputs() {
			if err := os.MkdirAll(filepath.Dir(o), 0o755); err != nil {
				return nil, err
			}
		}
	}
	var all bytes.Buffer
	for _, c := range cmds {
		out, err := runCommand(ctx, c)
		all.Write(out)
		if err != nil {
			return all.Bytes(), fmt.Errorf("%s: %w", quoteArgv(c.argv), err)
		}
	}
	return all.Bytes(), nil
}

// commandLine is the regeneration command as a person would type it.
func (s *Store) commandLine() string {
	if s.root == "" || len(s.layout.Rooted) == 0 {
		return quoteArgv(s.layout.Regenerate[0])
	}
	var a []string
	for _, arg := range s.layout.Rooted[0] {
		a = append(a, strings.NewReplacer("{root}", s.root, "{hooks}", "EMPTYDIR").Replace(arg))
	}
	return quoteArgv(a)
}

func quoteArgv(argv []string) string {
	var out []string
	for _, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`;&|<>(){}*?!#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

// isPermission reports whether err or a tool's output says the process lacks
// the privilege to write.
func isPermission(err error, output []byte) bool {
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EPERM) {
		return true
	}
	o := string(output)
	return strings.Contains(o, "Permission denied") || strings.Contains(o, "Read-only file system") ||
		strings.Contains(o, "Operation not permitted")
}
