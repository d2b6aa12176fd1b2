package pem

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// CheckKind refuses a file that is not a PEM bundle, so that rootsync never
// reads a keystore, a database or a key file as an empty bundle and never
// appends certificates to one. data is the file's content and f what
// ParseFile made of it. A bundle (or a DER certificate file) holds no NUL
// byte and no private key, and either at least one certificate block or
// nothing but blank lines, comment lines (starting with '#') and titles
// underlined with '=' or '-' (the shape of curl's cacert.pem). An empty file
// is a bundle. The error wraps stores.ErrWrongKind and names path.
func CheckKind(path string, data []byte, f *File) error {
	if f.IsDER() {
		return nil
	}
	const hint = "point the store at a PEM bundle of CA certificates, or use the spec kind that matches the file"
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return stores.WrongKind(path, "a PEM bundle", fmt.Sprintf("it holds binary data (a NUL byte at offset %d)", i), hint)
	}
	others := map[string]bool{}
	for _, b := range f.Blocks() {
		if strings.Contains(b.Type, "PRIVATE KEY") {
			return stores.WrongKind(path, "a CA bundle", fmt.Sprintf("%s is a private key (%s)", b.Label(), b.Type),
				"a CA bundle holds no keys: point the store at the bundle, not at a key or a certificate-and-key file")
		}
		if b.Cert == nil {
			others[b.Type] = true
		}
	}
	if len(f.Certificates()) > 0 {
		return nil
	}
	if len(others) > 0 {
		var types []string
		for t := range others {
			types = append(types, t)
		}
		sort.Strings(types)
		return stores.WrongKind(path, "a CA bundle", "it holds no certificate, only "+strings.Join(types, ", ")+" blocks", hint)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || underline(l) {
			continue
		}
		if i+1 < len(lines) && underline(strings.TrimSpace(lines[i+1])) {
			continue // a title
		}
		return stores.WrongKind(path, "a PEM bundle", fmt.Sprintf("line %d is neither a PEM block, a comment nor a title", i+1), hint)
	}
	return nil
}

// underline reports whether l is a title's underline: at least three '=' or
// '-' characters and nothing else.
func underline(l string) bool {
	return len(l) >= 3 && strings.Trim(l, "=-") == ""
}
