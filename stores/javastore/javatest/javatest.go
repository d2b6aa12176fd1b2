// Package javatest runs the real Java tools for the Java truststore tests:
// keytool with its password in an environment variable, a parser for
// keytool -list, and a small Java TLS client that trusts exactly one
// truststore. It is imported only by tests.
package javatest

import (
	"bytes"
	"crypto/tls"
	_ "embed"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
)

// PasswordEnv is the environment variable through which keytool and the TLS
// client get the store password ("-storepass:env " + PasswordEnv).
const PasswordEnv = "RS_STOREPASS"

// Require skips the test when a tool is missing, or fails it in CI.
func Require(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (CI must have it: scripts/test-packages.txt)", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
}

// Keytool runs keytool with args, the password in PasswordEnv, in English.
// It returns stdout, and an error that includes stderr.
func Keytool(password string, args ...string) (string, error) {
	return KeytoolEnv([]string{PasswordEnv + "=" + password}, args...)
}

// KeytoolEnv runs keytool with args and extra environment variables
// (NAME=VALUE), for commands that need more than one password.
func KeytoolEnv(env []string, args ...string) (string, error) {
	cmd := exec.Command("keytool", append([]string{"-J-Duser.language=en", "-J-Duser.country=US"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader("")
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("keytool %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

// ImportCert adds c to the keystore at path under alias as keytool
// -importcert does (creating the file if needed).
func ImportCert(t testing.TB, path, storetype, password, alias string, c *testpki.Cert) {
	t.Helper()
	pemFile := filepath.Join(t.TempDir(), alias+".pem")
	if err := os.WriteFile(pemFile, c.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Keytool(password, "-importcert", "-noprompt", "-alias", alias, "-file", pemFile,
		"-keystore", path, "-storetype", storetype, "-storepass:env", PasswordEnv); err != nil {
		t.Fatal(err)
	}
}

// ListEntry is one line of keytool -list.
type ListEntry struct {
	Alias  string
	Date   string // creation date as keytool prints it
	Type   string // trustedCertEntry, PrivateKeyEntry, ...
	SHA256 string // lower-case hex, no colons
}

func (e ListEntry) String() string { return e.Alias + " " + e.Type + " " + e.SHA256 }

var (
	listLine = regexp.MustCompile(`^(.+), ([A-Z][a-z]{2} \d{1,2}, \d{4}), (\w+Entry),`)
	fpLine   = regexp.MustCompile(`^Certificate fingerprint \(SHA-256\): ([0-9A-F:]+)`)
)

// ParseList reads keytool -list output, sorted by alias.
func ParseList(out string) ([]ListEntry, error) {
	var es []ListEntry
	for _, line := range strings.Split(out, "\n") {
		if m := listLine.FindStringSubmatch(line); m != nil {
			es = append(es, ListEntry{Alias: m[1], Date: m[2], Type: m[3]})
		} else if m := fpLine.FindStringSubmatch(line); m != nil {
			if len(es) == 0 || es[len(es)-1].SHA256 != "" {
				return nil, fmt.Errorf("fingerprint without an entry: %q", line)
			}
			es[len(es)-1].SHA256 = strings.ToLower(strings.ReplaceAll(m[1], ":", ""))
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Alias < es[j].Alias })
	return es, nil
}

// List runs keytool -list on a keystore and parses it.
func List(t testing.TB, path, storetype, password string) []ListEntry {
	t.Helper()
	out, err := Keytool(password, "-list", "-keystore", path, "-storetype", storetype, "-storepass:env", PasswordEnv)
	if err != nil {
		t.Fatal(err)
	}
	es, err := ParseList(out)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

//go:embed testdata/TLSClient.java
var clientSource []byte

// Client is the compiled Java TLS client.
type Client struct{ dir string }

// CompileClient compiles the TLS client with javac into a temporary folder.
func CompileClient(t testing.TB) *Client {
	t.Helper()
	Require(t, "javac", "java")
	dir := t.TempDir()
	src := filepath.Join(dir, "TLSClient.java")
	if err := os.WriteFile(src, clientSource, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("javac", "-d", dir, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	return &Client{dir: dir}
}

// Connect runs the client against 127.0.0.1:port trusting only the given
// truststore; password nil means none is set. It returns the client's
// output and whether the handshake succeeded.
func (c *Client) Connect(t testing.TB, port int, store, storetype string, password *string) (string, bool) {
	t.Helper()
	cmd := exec.Command("java", "-cp", c.dir, "TLSClient", fmt.Sprint(port))
	cmd.Env = append(os.Environ(), "RS_TRUSTSTORE="+store, "RS_TRUSTSTORE_TYPE="+storetype)
	if password != nil {
		cmd.Env = append(cmd.Env, "RS_TRUSTSTORE_PASSWORD="+*password)
	}
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("java: %v", err)
	}
	return strings.TrimSpace(string(out)), err == nil
}

// Server starts a TLS server on 127.0.0.1 whose certificate (for localhost
// and 127.0.0.1) chains through an intermediate to root. It answers "pong" to
// each connection and stops at the end of the test. It returns the port.
func Server(t testing.TB, root *testpki.Cert) int {
	t.Helper()
	inter := root.Intermediate(root.Cert.Subject.CommonName + " Intermediate")
	leaf := inter.Leaf("localhost")
	cert := tls.Certificate{Certificate: [][]byte{leaf.DER, inter.DER}, PrivateKey: leaf.Key}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 64)
				if _, err := c.Read(buf); err == nil {
					c.Write([]byte("pong\n"))
				}
			}(conn)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}
