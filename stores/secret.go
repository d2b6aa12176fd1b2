package stores

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/rootsync/rootsync/internal/securefs"
)

// Secret says where a password comes from: an environment variable or a file,
// never the command line. The zero Secret is "no password given".
type Secret struct {
	Env  string // name of an environment variable
	File string // path of a file whose first line is the password
}

// ErrNoSecret is returned by Secret.Value when no source is configured.
var ErrNoSecret = errors.New("no password given")

// SecretFromSpec takes password-env and password-file from the spec's options,
// falling back to def.
func SecretFromSpec(s Spec, def Secret) Secret {
	if v := s.Option("password-env"); v != "" {
		return Secret{Env: v}
	}
	if v := s.Option("password-file"); v != "" {
		return Secret{File: v}
	}
	return def
}

// IsZero reports whether no source is configured.
func (s Secret) IsZero() bool { return s.Env == "" && s.File == "" }

// Value reads the password. A file's trailing newline is not part of it; an
// empty file or variable is the empty password. As root, a password file
// another user could have written (or replaced through a folder on its way)
// is refused: the error wraps securefs.ErrUnsafe and names the path.
func (s Secret) Value() ([]byte, error) {
	switch {
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			return nil, fmt.Errorf("password variable %s is not set", s.Env)
		}
		return []byte(v), nil
	case s.File != "":
		if err := securefs.CheckFile(s.File, "password file"); err != nil {
			return nil, err
		}
		b, err := ReadFile(s.File)
		if err != nil {
			return nil, fmt.Errorf("password file %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		return []byte(strings.TrimSuffix(line, "\r")), nil
	}
	return nil, ErrNoSecret
}

// String describes the source without revealing the value.
func (s Secret) String() string {
	switch {
	case s.Env != "":
		return "$" + s.Env
	case s.File != "":
		return s.File
	}
	return "(none)"
}
