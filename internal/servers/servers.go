// Package servers finds the CA files and folders that servers on the host
// are configured to trust, by reading their configuration where the
// distributions put it: nginx (ssl_client_certificate,
// ssl_trusted_certificate), Apache (SSLCACertificateFile,
// SSLCACertificatePath) and HAProxy (ca-file), following includes. It only
// reads files; it never runs a server or changes anything, and what it
// cannot read is left out (Find reports it as a problem).
package servers

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Syntax is a configuration file format.
type Syntax int

const (
	// Nginx: directives end with ';', blocks in braces, '#' comments,
	// include with globs relative to the main file's folder.
	Nginx Syntax = iota + 1
	// Apache: one directive a line, case-insensitive names, Include and
	// IncludeOptional with globs (a folder means every file in it),
	// relative to ServerRoot.
	Apache
	// HAProxy: one statement a line; ca-file is an option of bind and
	// server lines, relative to ca-base.
	HAProxy
)

// Directive is a configuration directive that names CA certificates.
type Directive struct {
	Name string
	// Kind is the store kind of what it names: pem (a file of PEM
	// certificates) or capath (a hashed folder).
	Kind string
}

// Server is one server program: where its configuration starts and what in
// it names CA certificates.
type Server struct {
	Name string
	// Configs are the main configuration files (on the running system; a
	// root prefix is put in front), tried in order; every one that exists
	// is read.
	Configs []string
	Syntax  Syntax
	// Root is the folder relative paths are resolved against ("" for the
	// main file's folder).
	Root       string
	Directives []Directive
	// Reload is the command that makes the running server read its CA
	// files again, for messages.
	Reload string
}

// Servers is the table of known servers. Tests may replace it.
var Servers = []Server{
	{
		Name:    "nginx",
		Configs: []string{"/etc/nginx/nginx.conf", "/usr/local/nginx/conf/nginx.conf", "/usr/local/etc/nginx/nginx.conf"},
		Syntax:  Nginx,
		Directives: []Directive{
			{Name: "ssl_client_certificate", Kind: "pem"},
			{Name: "ssl_trusted_certificate", Kind: "pem"},
			{Name: "proxy_ssl_trusted_certificate", Kind: "pem"},
		},
		Reload: "systemctl reload nginx (or nginx -s reload)",
	},
	{
		// Debian's layout (apache2.conf, ServerRoot /etc/apache2).
		Name:    "apache2",
		Configs: []string{"/etc/apache2/apache2.conf"},
		Syntax:  Apache,
		Root:    "/etc/apache2",
		Directives: []Directive{
			{Name: "SSLCACertificateFile", Kind: "pem"},
			{Name: "SSLCACertificatePath", Kind: "capath"},
			{Name: "SSLProxyCACertificateFile", Kind: "pem"},
			{Name: "SSLProxyCACertificatePath", Kind: "capath"},
		},
		Reload: "systemctl reload apache2 (or apache2ctl graceful)",
	},
	{
		// Fedora's and RHEL's layout (ServerRoot /etc/httpd).
		Name:    "httpd",
		Configs: []string{"/etc/httpd/conf/httpd.conf"},
		Syntax:  Apache,
		Root:    "/etc/httpd",
		Directives: []Directive{
			{Name: "SSLCACertificateFile", Kind: "pem"},
			{Name: "SSLCACertificatePath", Kind: "capath"},
			{Name: "SSLProxyCACertificateFile", Kind: "pem"},
			{Name: "SSLProxyCACertificatePath", Kind: "capath"},
		},
		Reload: "systemctl reload httpd (or apachectl graceful)",
	},
	{
		Name:       "haproxy",
		Configs:    []string{"/etc/haproxy/haproxy.cfg"},
		Syntax:     HAProxy,
		Directives: []Directive{{Name: "ca-file", Kind: "pem"}},
		Reload:     "systemctl reload haproxy",
	},
}

// Use is one CA file or folder a server's configuration names.
type Use struct {
	Server    string
	Directive string
	// Spec is the store spec of the file or folder (pem:FILE, capath:DIR),
	// its path on the running system.
	Spec string
	// Path is where it is read from (under the root prefix).
	Path string
	// Config and Line are where the directive is.
	Config string
	Line   int
	Reload string
}

// maxIncludes bounds how many files one server's configuration may pull in
// (an include loop, a glob matching a huge folder).
const maxIncludes = 1000

// Find reads the configuration of every server in Servers under root ("" or
// "/" for the running system) and returns what each names, sorted by path
// then server, and the files it could not read.
func Find(root string) (uses []Use, problems []string) {
	if root == "/" {
		root = ""
	}
	for _, s := range Servers {
		for _, c := range s.Configs {
			main := root + c
			if _, err := os.Stat(main); err != nil {
				continue
			}
			f := &finder{root: root, server: s, seen: map[string]bool{}}
			f.base = filepath.Dir(main)
			if s.Root != "" {
				f.base = root + s.Root
			}
			f.read(main)
			uses = append(uses, f.uses...)
			problems = append(problems, f.problems...)
		}
	}
	sort.SliceStable(uses, func(i, j int) bool {
		if uses[i].Path != uses[j].Path {
			return uses[i].Path < uses[j].Path
		}
		return uses[i].Server < uses[j].Server
	})
	return uses, problems
}

type finder struct {
	root     string
	server   Server
	base     string // relative paths are resolved against it
	caBase   string // HAProxy's ca-base
	seen     map[string]bool
	uses     []Use
	problems []string
}

// resolve turns a path written in the configuration into the path to read
// (under the root) and the path on the running system.
func (f *finder) resolve(p, base string) (read, onHost string) {
	if filepath.IsAbs(p) {
		return filepath.Join(f.root, p), filepath.Clean(p)
	}
	read = filepath.Join(base, p)
	onHost = read
	if f.root != "" {
		if rel, err := filepath.Rel(f.root, read); err == nil && !strings.HasPrefix(rel, "..") {
			onHost = "/" + rel
		}
	}
	return read, onHost
}

func (f *finder) read(path string) {
	if f.seen[path] {
		return
	}
	if len(f.seen) >= maxIncludes {
		f.problems = append(f.problems, fmt.Sprintf("%s: more than %d configuration files; the rest is not read", f.server.Name, maxIncludes))
		return
	}
	f.seen[path] = true
	data, err := os.ReadFile(path)
	if err != nil {
		f.problems = append(f.problems, fmt.Sprintf("%s: %v", f.server.Name, err))
		return
	}
	switch f.server.Syntax {
	case Nginx:
		f.nginx(path, data)
	case Apache:
		f.apache(path, data)
	case HAProxy:
		f.haproxy(path, data)
	}
}

// include reads every file a glob pattern matches, in name order; with dirs,
// a folder matched means every file in it (Apache).
func (f *finder) include(pattern, base string, dirs bool) {
	read, _ := f.resolve(pattern, base)
	matches, err := filepath.Glob(read)
	if err != nil {
		f.problems = append(f.problems, fmt.Sprintf("%s: include %s: %v", f.server.Name, pattern, err))
		return
	}
	sort.Strings(matches)
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			if !dirs {
				continue
			}
			ents, _ := os.ReadDir(m)
			for _, e := range ents {
				if !e.IsDir() {
					f.read(filepath.Join(m, e.Name()))
				}
			}
			continue
		}
		f.read(m)
	}
}

func (f *finder) use(d Directive, value, base, config string, line int) {
	read, onHost := f.resolve(value, base)
	f.uses = append(f.uses, Use{Server: f.server.Name, Directive: d.Name, Spec: d.Kind + ":" + onHost, Path: read,
		Config: config, Line: line, Reload: f.server.Reload})
}

// nginx reads nginx's syntax: tokens separated by blanks, quoted strings,
// '#' comments, statements ending with ';' or starting a '{' block.
func (f *finder) nginx(path string, data []byte) {
	var words []string
	line, start := 1, 1
	flush := func() {
		if len(words) >= 2 {
			name := words[0]
			switch {
			case name == "include":
				f.include(words[1], f.base, false)
			default:
				for _, d := range f.server.Directives {
					if d.Name == name {
						f.use(d, words[1], f.base, path, start)
					}
				}
			}
		}
		words = nil
	}
	for i := 0; i < len(data); i++ {
		ch := data[i]
		switch {
		case ch == '\n':
			line++
		case ch == ' ' || ch == '\t' || ch == '\r':
		case ch == '#':
			for i < len(data) && data[i] != '\n' {
				i++
			}
			line++
		case ch == ';' || ch == '{' || ch == '}':
			flush()
		case ch == '"' || ch == '\'':
			j := i + 1
			var w []byte
			for j < len(data) && data[j] != ch {
				if data[j] == '\\' && j+1 < len(data) {
					j++
				}
				if data[j] == '\n' {
					line++
				}
				w = append(w, data[j])
				j++
			}
			if len(words) == 0 {
				start = line
			}
			words = append(words, string(w))
			i = j
		default:
			j := i
			for j < len(data) && !bytes.ContainsRune([]byte(" \t\r\n;{}#\"'"), rune(data[j])) {
				j++
			}
			if len(words) == 0 {
				start = line
			}
			words = append(words, string(data[i:j]))
			i = j - 1
		}
	}
}

// fields splits a line into words, honouring double quotes.
func fields(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, have = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// apache reads Apache's syntax: one directive a line (a trailing backslash
// continues it), '#' comments, ServerRoot, Include and IncludeOptional.
func (f *finder) apache(path string, data []byte) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n, start := 0, 0
	var acc string
	for sc.Scan() {
		n++
		text := strings.TrimSpace(sc.Text())
		if acc == "" {
			start = n
		}
		if strings.HasSuffix(text, "\\") {
			acc += strings.TrimSuffix(text, "\\") + " "
			continue
		}
		text, acc = acc+text, ""
		if text == "" || strings.HasPrefix(text, "#") || strings.HasPrefix(text, "<") {
			continue
		}
		w := fields(text)
		if len(w) < 2 {
			continue
		}
		switch name := strings.ToLower(w[0]); name {
		case "serverroot":
			f.base, _ = f.resolve(w[1], f.base)
		case "include", "includeoptional":
			f.include(w[1], f.base, true)
		default:
			for _, d := range f.server.Directives {
				if strings.EqualFold(d.Name, name) {
					f.use(d, w[1], f.base, path, start)
				}
			}
		}
	}
}

// haproxy reads HAProxy's syntax: ca-base sets the folder of relative
// ca-file paths; ca-file is an option on bind and server lines.
func (f *finder) haproxy(path string, data []byte) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		w := fields(text)
		for i := 0; i+1 < len(w); i++ {
			if w[i] == "ca-base" && i == 0 {
				f.caBase, _ = f.resolve(w[1], filepath.Dir(path))
			}
			for _, d := range f.server.Directives {
				if w[i] == d.Name {
					base := f.caBase
					if base == "" {
						base = filepath.Dir(path)
					}
					f.use(d, w[i+1], base, path, n)
				}
			}
		}
	}
}
