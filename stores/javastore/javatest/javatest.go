// Package javatest runs the real Java tools for the Java truststore tests:
// keytool with its password in an environment variable, parsers for
// keytool -list and keytool -list -v, and a small Java TLS client that trusts
// exactly one truststore. It is imported only by tests; its functions take
// certificates as DER, so that tests outside this module can use it.
package javatest

import (
	"bytes"
	"crypto/tls"
	_ "embed"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
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

// ImportCert adds the certificate der to the keystore at path under alias as
// keytool -importcert does (creating the file if needed).
func ImportCert(t testing.TB, path, storetype, password, alias string, der []byte) {
	t.Helper()
	pemFile := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
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

// Listing is what keytool -list -v shows of a keystore.
type Listing struct {
	// Type is the keystore type keytool found ("JKS", "PKCS12", "JCEKS").
	Type    string
	Entries []ListEntry // sorted by alias; Date is not set
}

// Trusted returns the trustedCertEntry entries.
func (l Listing) Trusted() []ListEntry { return l.ofType("trustedCertEntry") }

// Keys returns the PrivateKeyEntry entries, each with the fingerprint of the
// first certificate of its chain.
func (l Listing) Keys() []ListEntry { return l.ofType("PrivateKeyEntry") }

func (l Listing) ofType(typ string) []ListEntry {
	var out []ListEntry
	for _, e := range l.Entries {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

var (
	verboseType  = regexp.MustCompile(`^Keystore type: (\S+)`)
	verboseAlias = regexp.MustCompile(`^Alias name: (.*)$`)
	verboseEntry = regexp.MustCompile(`^Entry type: (\w+)`)
	verboseFP    = regexp.MustCompile(`^\s*SHA256: ([0-9A-F:]+)`)
)

// ParseVerbose reads keytool -list -v output.
func ParseVerbose(out string) (Listing, error) {
	var l Listing
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if m := verboseType.FindStringSubmatch(line); m != nil {
			l.Type = m[1]
		} else if m := verboseAlias.FindStringSubmatch(line); m != nil {
			l.Entries = append(l.Entries, ListEntry{Alias: m[1]})
		} else if m := verboseEntry.FindStringSubmatch(line); m != nil && len(l.Entries) > 0 {
			l.Entries[len(l.Entries)-1].Type = m[1]
		} else if m := verboseFP.FindStringSubmatch(line); m != nil && len(l.Entries) > 0 {
			// A key entry lists its whole chain; the first is the key's.
			if e := &l.Entries[len(l.Entries)-1]; e.SHA256 == "" {
				e.SHA256 = strings.ToLower(strings.ReplaceAll(m[1], ":", ""))
			}
		}
	}
	for _, e := range l.Entries {
		if e.Type == "" {
			return l, fmt.Errorf("entry %q without an entry type", e.Alias)
		}
	}
	sort.Slice(l.Entries, func(i, j int) bool { return l.Entries[i].Alias < l.Entries[j].Alias })
	return l, nil
}

// ListVerbose runs keytool -list -v on a keystore without naming its type,
// so that keytool finds the type as Java does, and parses the output.
func ListVerbose(t testing.TB, path, password string) Listing {
	t.Helper()
	out, err := Keytool(password, "-list", "-v", "-keystore", path, "-storepass:env", PasswordEnv)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ParseVerbose(out)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TrustedPEM returns the certificates of a keystore's trusted certificate
// entries as keytool prints them (keytool -list -rfc), as one PEM bundle.
func TrustedPEM(t testing.TB, path, password string) []byte {
	t.Helper()
	out, err := Keytool(password, "-list", "-rfc", "-keystore", path, "-storepass:env", PasswordEnv)
	if err != nil {
		t.Fatal(err)
	}
	var bundle, block []byte
	var entryType string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		if m := verboseEntry.FindStringSubmatch(line); m != nil {
			entryType = m[1]
		}
		if strings.HasPrefix(line, "-----BEGIN ") || block != nil {
			block = append(block, line+"\n"...)
		}
		if strings.HasPrefix(line, "-----END ") {
			if blk, _ := pem.Decode(block); blk == nil {
				t.Fatalf("keytool -list -rfc: a PEM block that does not decode:\n%s", block)
			}
			if entryType == "trustedCertEntry" {
				bundle = append(bundle, block...)
			}
			block = nil
		}
	}
	return bundle
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

// Server starts a TLS server on 127.0.0.1 presenting cert (whose leaf should
// name localhost and 127.0.0.1). It answers "pong" to each connection and
// stops at the end of the test. It returns the port.
func Server(t testing.TB, cert tls.Certificate) int {
	t.Helper()
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
