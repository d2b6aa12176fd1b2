package stores

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rootsync/rootsync/internal/securefs"
)

// Secret says where a password comes from: an environment variable, a file
// or a systemd credential, never the command line. The zero Secret is "no
// password given".
type Secret struct {
	Env  string // name of an environment variable
	File string // path of a file whose first line is the password
	// Credential names a systemd credential: the file of that name in
	// $CREDENTIALS_DIRECTORY, which systemd sets for a unit that passes
	// credentials (LoadCredential=NAME:PATH, LoadCredentialEncrypted=,
	// SetCredential=).
	Credential string
}

// CredentialsDirEnv is the environment variable through which systemd tells
// a service where its credentials are.
const CredentialsDirEnv = "CREDENTIALS_DIRECTORY"

// CredentialError is a password credential that cannot be read because
// CREDENTIALS_DIRECTORY is not set (rootsync was not started by a systemd
// unit that passes credentials) or the credential's name is not a file name.
type CredentialError struct {
	Name   string
	Reason string
}

func (e *CredentialError) Error() string {
	return fmt.Sprintf("password credential %q: %s", e.Name, e.Reason)
}

// HintText says how to pass the credential.
func (e *CredentialError) HintText() string {
	return fmt.Sprintf("a systemd credential is passed by the unit that starts rootsync: add LoadCredential=%s:/etc/rootsync/%s.password "+
		"to its [Service] section (a drop-in: systemctl edit rootsync.service); outside systemd, use password-file instead", e.Name, e.Name)
}

// ErrNoSecret is returned by Secret.Value when no source is configured.
var ErrNoSecret = errors.New("no password given")

// SecretFromSpec takes password-env, password-file and password-credential
// from the spec's options, falling back to def.
func SecretFromSpec(s Spec, def Secret) Secret {
	if v := s.Option("password-env"); v != "" {
		return Secret{Env: v}
	}
	if v := s.Option("password-file"); v != "" {
		return Secret{File: v}
	}
	if v := s.Option("password-credential"); v != "" {
		return Secret{Credential: v}
	}
	return def
}

// IsZero reports whether no source is configured.
func (s Secret) IsZero() bool { return s.Env == "" && s.File == "" && s.Credential == "" }

// Value reads the password. A file's trailing newline is not part of it; an
// empty file or variable is the empty password. As root, a password file
// another user could have written (or replaced through a folder on its way)
// is refused: the error wraps securefs.ErrUnsafe and names the path. A
// credential is read as a password file in $CREDENTIALS_DIRECTORY; without
// that variable it is a *CredentialError.
func (s Secret) Value() ([]byte, error) {
	if s.Credential != "" && s.Env == "" && s.File == "" {
		if err := CheckCredentialName(s.Credential); err != nil {
			return nil, err
		}
		dir := os.Getenv(CredentialsDirEnv)
		if dir == "" {
			return nil, &CredentialError{Name: s.Credential, Reason: "$" + CredentialsDirEnv + " is not set: rootsync was not started by a systemd unit that passes credentials"}
		}
		return Secret{File: filepath.Join(dir, s.Credential)}.Value()
	}
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
	case s.Credential != "":
		return "credential " + s.Credential
	}
	return "(none)"
}

// CheckCredentialName reports whether name can name a systemd credential: a
// file name, without '/', not "." or "..", and not empty.
func CheckCredentialName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return &CredentialError{Name: name, Reason: "want a credential name as given to LoadCredential= (a file name, without '/')"}
	}
	return nil
}

// PasswordHint is the hint for a password that cannot be read from s (err
// is Value's error): the source's own where it has one (a credential says
// how to pass it), else fallback.
func PasswordHint(s Secret, err error, fallback string) string {
	if h := HintOf(err); h != "" {
		return h
	}
	return fallback
}
