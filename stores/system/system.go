package system

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// OwnedPrefix starts the name of every file rootsync writes.
const OwnedPrefix = "rootsync-"

// Store is the system trust store of one tree.
type Store struct {
	spec   stores.Spec
	root   string // "" for the running system
	layout *Layout
}

// Open checks the spec and picks the layout (reading os-release and marker
// files under the root). It writes nothing.
func Open(spec stores.Spec, opts stores.OpenOptions) (stores.Store, error) {
	return OpenSystem(spec)
}

// OpenSystem is Open returning the concrete type, for callers that want
// Layout or Outputs.
func OpenSystem(spec stores.Spec) (*Store, error) {
	if spec.Kind != "system" {
		return nil, fmt.Errorf("store %s: not a system spec", spec)
	}
	if err := platformError(spec); err != nil {
		return nil, err
	}
	root := ""
	if spec.Location != "" {
		abs, err := filepath.Abs(spec.Location)
		if err != nil {
			return nil, err
		}
		if abs != "/" {
			root = abs
		}
	}

	l, err := detect(root, spec.Option("family"))
	if err != nil {
		return nil, err
	}
	if root != "" && len(l.TrustPaths) > 0 && strings.ContainsAny(root, ":\n") {
		return nil, &stores.Error{Path: root, Err: errors.New("a root prefix with ':' cannot be passed to p11-kit"), Hint: "use a path without ':'"}
	}
	return &Store{spec: spec, root: root, layout: l}, nil
}

// Spec returns the spec the store was opened with.
func (s *Store) Spec() stores.Spec { return s.spec }

// Layout returns the layout in use.
func (s *Store) Layout() Layout { return *s.layout }

// Capabilities: every family marks ownership by file name; families with a
// blocklist folder can distrust; none writes per-purpose trust (rootsync
// writes plain PEM anchors).
func (s *Store) Capabilities() stores.Capabilities {
	return stores.Capabilities{PerPurpose: false, Distrust: s.layout.Blocklist != "", Ownership: true, ReadByOpenSSL: true}
}

func (s *Store) path(p string) string {
	if s.root == "" {
		return p
	}
	return filepath.Join(s.root, p)
}

// Paths lists the input folders Apply writes into.
func (s *Store) Paths() []string {
	var out []string
	for _, a := range s.layout.Anchors {
		out = append(out, s.path(a))
	}
	if s.layout.Blocklist != "" {
		out = append(out, s.path(s.layout.Blocklist))
	}
	return out
}

// Outputs lists the generated files Load reads (they are written by the
// distribution's tool, never by rootsync).
func (s *Store) Outputs() []string {
	var out []string
	for _, o := range s.layout.Outputs {
		out = append(out, s.path(o.Path))
	}
	return out
}

// inputFile is one file of an input folder.
type inputFile struct {
	path      string
	owned     bool
	blocklist bool
	certs     []*stores.Certificate
}

// inputs indexes the input folders' files by the certificates they hold.
type inputs struct {
	// exists: at least one input folder exists.
	exists bool
	files  []*inputFile
	byFP   map[stores.Fingerprint][]*inputFile
}

func (in *inputs) anchors(fp stores.Fingerprint) (out []*inputFile) {
	for _, f := range in.byFP[fp] {
		if !f.blocklist {
			out = append(out, f)
		}
	}
	return out
}

func (in *inputs) blocked(fp stores.Fingerprint) (out []*inputFile) {
	for _, f := range in.byFP[fp] {
		if f.blocklist {
			out = append(out, f)
		}
	}
	return out
}

// readInputs reads every file the tool would read from the input folders.
func (s *Store) readInputs() (*inputs, error) {
	in := &inputs{byFP: map[stores.Fingerprint][]*inputFile{}}
	dirs := s.Paths()
	for i, dir := range dirs {
		blocklist := s.layout.Blocklist != "" && i == len(dirs)-1
		if _, err := stores.StatDir(dir); errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		in.exists = true
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && p == dir {
					return nil
				}
				return err
			}
			if d.IsDir() {
				return nil
			}
			name := d.Name()
			if s.layout.OnlyExt && !strings.HasSuffix(name, s.layout.Ext) {
				return nil
			}
			if strings.HasSuffix(name, ".p11-kit") || strings.Contains(name, ".rootsync-") {
				// p11-kit's own format (not for other tools), and atomicfile's
				// temporary files.
				return nil
			}
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				return nil // a dangling link or a device: the tool skips it too
			}
			data, err := stores.ReadFile(p)
			if err != nil {
				return err
			}
			certs, err := readInputFile(data, !s.layout.OnlyExt)
			if err != nil {
				return &stores.Error{Path: p, Err: err, Hint: "fix or remove the file, it is not a PEM certificate the tool can read"}
			}
			f := &inputFile{path: p, owned: strings.HasPrefix(name, OwnedPrefix), blocklist: blocklist, certs: certs}
			in.files = append(in.files, f)
			for _, c := range certs {
				in.byFP[c.Fingerprint] = append(in.byFP[c.Fingerprint], f)
			}
			return nil
		})
		if err != nil {
			var se *stores.Error
			if errors.As(err, &se) {
				return nil, err
			}
			return nil, &stores.Error{Path: dir, Err: err}
		}
	}
	return in, nil
}

// readInputFile reads the certificates of one input file: PEM, or (where the
// tool accepts it) one DER certificate.
func readInputFile(data []byte, derOK bool) ([]*stores.Certificate, error) {
	if derOK && len(data) > 0 && data[0] == 0x30 {
		if c, err := stores.ParseCertificate(data); err == nil {
			return []*stores.Certificate{c}, nil
		}
	}
	blocks, err := readPEM(data)
	if err != nil {
		return nil, err
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("%w: no certificate", stores.ErrCorrupt)
	}
	out := make([]*stores.Certificate, len(blocks))
	for i, b := range blocks {
		out[i] = b.Cert
	}
	return out, nil
}

// readOutputs reads the generated files: the first TrustedBundle that exists
// alone, else every PEMBundle that exists (pemOnly forces the latter). It
// returns the trust per certificate, the output each was first seen in, and
// the certificates in order.
func (s *Store) readOutputs(pemOnly bool) (map[stores.Fingerprint]stores.Trust, map[stores.Fingerprint]string, []*stores.Certificate, error) {
	trust := map[stores.Fingerprint]stores.Trust{}
	where := map[stores.Fingerprint]string{}
	var order []*stores.Certificate
	read := func(o Output) (bool, error) {
		p := s.path(o.Path)
		data, err := stores.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		blocks, err := readPEM(data)
		if err != nil {
			return false, &stores.Error{Path: p, Err: err, Hint: "the generated file is damaged: run " + s.commandLine() + " to rebuild it"}
		}
		for _, b := range blocks {
			var t stores.Trust
			if o.Form == TrustedBundle {
				t = b.Trust()
			} else {
				for _, pu := range o.Purposes {
					t[pu] = stores.Trusted
				}
			}
			fp := b.Cert.Fingerprint
			if _, ok := where[fp]; !ok {
				where[fp] = p
				order = append(order, b.Cert)
			}
			trust[fp] = trust[fp].Merge(t)
		}
		return true, nil
	}
	if !pemOnly {
		for _, o := range s.layout.Outputs {
			if o.Form != TrustedBundle {
				continue
			}
			ok, err := read(o)
			if err != nil {
				return nil, nil, nil, err
			}
			if ok {
				return trust, where, order, nil
			}
		}
	}
	for _, o := range s.layout.Outputs {
		if o.Form != PEMBundle {
			continue
		}
		if _, err := read(o); err != nil {
			return nil, nil, nil, err
		}
	}
	return trust, where, order, nil
}

// Load reads what the system trusts. A tree without generated files and
// input folders is stores.ErrNotExist (the first Apply makes the input
// folder and runs the tool); a generated file or input folder of the wrong
// type (a folder where a file belongs, a pipe, a device) is an error.
func (s *Store) Load(ctx context.Context) (*stores.Set, error) {
	set, _, err := s.load()
	return set, err
}

func (s *Store) load() (*stores.Set, *inputs, error) {
	if s.root != "" {
		if _, err := stores.StatDir(s.root); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, stores.NotExist(s.root)
		} else if err != nil {
			return nil, nil, err
		}
	}
	in, err := s.readInputs()
	if err != nil {
		return nil, nil, err
	}
	trust, where, order, err := s.readOutputs(false)
	if err != nil {
		return nil, nil, err
	}
	if !in.exists && len(order) == 0 && !s.anyOutput() {
		where := s.root
		if where == "" {
			where = s.Outputs()[0]
		}
		return nil, nil, stores.NotExist(where)
	}
	set := stores.NewSet()
	entry := func(c *stores.Certificate, t stores.Trust, label string, files []*inputFile) *stores.Entry {
		e := &stores.Entry{Cert: c, Trust: t, Label: label}
		for _, f := range files {
			e.Owned = e.Owned || f.owned
		}
		if len(files) > 0 {
			e.Label = files[0].path
		}
		return e
	}
	for _, c := range order {
		fp := c.Fingerprint
		files := in.anchors(fp)
		if t := trust[fp]; t.Any(stores.Distrusted) && len(in.blocked(fp)) > 0 {
			files = in.blocked(fp)
		}
		set.Add(entry(c, trust[fp], where[fp], files))
	}
	if err := s.readCertDirs(set); err != nil {
		return nil, nil, err
	}
	// The blocklist folder distrusts its certificates whatever the bundles say
	// (p11-kit folds an anchor that is also blocklisted into one entry without
	// its reject list; the PEM bundles leave it out).
	for _, f := range in.files {
		if !f.blocklist {
			continue
		}
		for _, c := range f.certs {
			if set.Get(c.Fingerprint) == nil {
				set.Add(entry(c, stores.DistrustAll(), "", in.blocked(c.Fingerprint)))
				continue
			}
			set.Get(c.Fingerprint).Trust = stores.DistrustAll()
		}
	}
	return set, in, nil
}

// anyOutput reports whether one of the generated files exists.
func (s *Store) anyOutput() bool {
	for _, p := range s.Outputs() {
		if _, err := os.Lstat(p); err == nil {
			return true
		}
	}
	return false
}

// hashName matches OpenSSL's HHHHHHHH.N link names.
var hashName = regexp.MustCompile(`^[0-9a-f]{8}\.[0-9]+$`)

// readCertDirs adds the certificates of the layout's CertDirs that no bundle
// holds: files put there by hand, trusted by programs that read the folder.
// Files that hold no certificate are skipped, as those programs skip them.
func (s *Store) readCertDirs(set *stores.Set) error {
	for _, d := range s.layout.CertDirs {
		dir := s.path(d)
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return &stores.Error{Path: dir, Err: err}
		}
		// Named files first, so that an entry is labelled with its file
		// rather than its hash link.
		sort.SliceStable(ents, func(i, j int) bool {
			return !hashName.MatchString(ents[i].Name()) && hashName.MatchString(ents[j].Name())
		})
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			data, err := stores.ReadFile(p)
			if err != nil {
				continue
			}
			blocks, err := readPEM(data)
			if err != nil {
				continue
			}
			for _, b := range blocks {
				if set.Get(b.Cert.Fingerprint) != nil {
					continue
				}
				set.Add(&stores.Entry{Cert: b.Cert, Trust: stores.TrustAll(), Label: p, Notes: []string{
					"in " + dir + " but in no generated bundle: programs that read the folder (Go, OpenSSL's default paths) trust it, programs that read only the bundle do not"}})
			}
		}
	}
	return nil
}

// fileName is the name rootsync gives the file of c.
func (s *Store) fileName(c *stores.Certificate) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(c.CommonName()) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	slug := strings.Trim(b.String(), "-")
	if slug == "" {
		slug = "cert"
	}
	return OwnedPrefix + slug + "-" + c.Fingerprint.String()[:16] + s.layout.Ext
}

func pemOf(c *stores.Certificate) []byte { return stores.EncodeCertificatePEM(c.DER) }
