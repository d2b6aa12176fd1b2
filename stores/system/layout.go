package system

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// Form is how a generated output file is written.
type Form int

const (
	// PEMBundle: concatenated CERTIFICATE blocks; every certificate in it is
	// trusted for the output's purposes.
	PEMBundle Form = iota + 1
	// TrustedBundle: p11-kit's openssl-bundle, TRUSTED CERTIFICATE blocks whose
	// X509_AUX carries per-purpose trust and reject lists.
	TrustedBundle
)

// Output is one file the regeneration command writes and Load reads back.
type Output struct {
	// Path on the running system; a root prefix is put in front of it.
	Path string
	Form Form
	// Purposes a PEMBundle's certificates are trusted for (ignored for a
	// TrustedBundle, which says so per certificate).
	Purposes []stores.Purpose
}

// Layout is how one family of distributions keeps its trust store: where the
// administrator puts certificates, which command turns them into the files
// programs read, and where those files are.
type Layout struct {
	// Family is the name ?family= takes.
	Family string
	// IDs are /etc/os-release ID or ID_LIKE values that select this layout.
	IDs []string
	// Markers are files (on the running system; a root prefix is put in front)
	// whose presence selects this layout when os-release names nothing known.
	Markers []string
	// Anchors are the administrator's input folders of trusted certificates.
	// rootsync writes into the first; Load reads them all to tell whose an
	// entry is.
	Anchors []string
	// Blocklist is the input folder of distrusted certificates, "" if the
	// family has none.
	Blocklist string
	// Ext is the file name extension of the files rootsync writes. With
	// OnlyExt the tool reads no other files (Debian reads only *.crt).
	Ext     string
	OnlyExt bool
	// Regenerate are the commands (argv, run without a shell, in order) that
	// rebuild the outputs on the running system.
	Regenerate [][]string
	// FreshArgs are appended to the first Regenerate or Rooted command when
	// Apply removed an input file (Debian: --fresh, so that the links to a
	// removed file go too).
	FreshArgs []string
	// Rooted are the commands used instead of Regenerate for a root prefix
	// (system:/ROOT). In each argument "{root}" becomes the root prefix and
	// "{hooks}" a new empty folder (so that no hook of the host or of the tree
	// runs). Nil means the family cannot be regenerated under a root prefix.
	Rooted [][]string
	// TrustPaths, when set, makes the Rooted commands run against p11-kit's
	// trust module configured with these paths ("{root}" replaced), through a
	// temporary per-user module file (see regen.go).
	TrustPaths []string
	// Outputs are the generated files Load reads, most informative first: the
	// first TrustedBundle that exists is read alone; otherwise every PEMBundle
	// that exists is read.
	Outputs []Output
	// CertDirs are generated folders of certificate files that programs read
	// besides the bundles (Debian's /etc/ssl/certs: Go reads every file in
	// it, OpenSSL's default verify paths its hash links). A certificate placed
	// there by hand is trusted by those programs although no bundle holds it.
	CertDirs []string
	// DistrustHint says how to distrust a certificate on a family without a
	// blocklist folder ("" when Blocklist is set).
	DistrustHint string
	// Packaged are the folders (searched recursively) where the
	// distribution's package keeps the public roots it ships: the packaged
	// root set, against which a root is public rather than local (added by
	// the organisation). See Packaged.
	Packaged []string
}

var tlsPurposes = []stores.Purpose{stores.ServerAuth, stores.ClientAuth}

// Layouts is the table of known distribution families, consulted in order:
// first an exact os-release ID match, then an ID_LIKE match, then markers.
// Tests may replace it.
var Layouts = []Layout{
	{
		// Debian, Ubuntu and Gentoo ship Debian's update-ca-certificates shell
		// script. It reads only *.crt (PEM) below /usr/local/share/ca-certificates
		// and packaged certificates named in /etc/ca-certificates.conf, links them
		// into /etc/ssl/certs and concatenates them into ca-certificates.crt.
		Family:       "debian",
		IDs:          []string{"debian", "ubuntu", "gentoo", "linuxmint", "pop", "raspbian", "kali", "devuan"},
		Markers:      []string{"/etc/debian_version", "/etc/gentoo-release"},
		Anchors:      []string{"/usr/local/share/ca-certificates"},
		Ext:          ".crt",
		OnlyExt:      true,
		Regenerate:   [][]string{{"update-ca-certificates"}},
		FreshArgs:    []string{"--fresh"},
		DistrustHint: "Debian can only deselect packaged certificates: put a line !PATH in /etc/ca-certificates.conf (or run dpkg-reconfigure ca-certificates) and run update-ca-certificates",
		// The script's own options point every path it uses under the root;
		// links it makes in {root}/etc/ssl/certs are absolute and carry the
		// prefix (run update-ca-certificates --fresh inside the tree to redo them).
		Rooted: [][]string{{"update-ca-certificates",
			"--certsconf", "{root}/etc/ca-certificates.conf",
			"--certsdir", "{root}/usr/share/ca-certificates",
			"--localcertsdir", "{root}/usr/local/share/ca-certificates",
			"--etccertsdir", "{root}/etc/ssl/certs",
			"--hooksdir", "{hooks}"}},
		Outputs:  []Output{{Path: "/etc/ssl/certs/ca-certificates.crt", Form: PEMBundle, Purposes: stores.Purposes}},
		CertDirs: []string{"/etc/ssl/certs"},
		// The ca-certificates package's Mozilla roots, one .crt each.
		Packaged: []string{"/usr/share/ca-certificates/mozilla"},
	},
	{
		// Fedora and the RHEL family: p11-kit's trust module reads
		// /etc/pki/ca-trust/source and /usr/share/pki/ca-trust-source;
		// update-ca-trust extract writes per-purpose bundles.
		Family:     "fedora",
		IDs:        []string{"fedora", "rhel", "centos", "almalinux", "rocky", "amzn", "ol", "fedora-asahi-remix"},
		Markers:    []string{"/etc/fedora-release", "/etc/redhat-release", "/etc/system-release"},
		Anchors:    []string{"/etc/pki/ca-trust/source/anchors"},
		Blocklist:  "/etc/pki/ca-trust/source/blocklist",
		Ext:        ".pem",
		Regenerate: [][]string{{"update-ca-trust", "extract"}},
		Rooted:     p11kitExtract("{root}/etc/pki/ca-trust/extracted/pem/", "{root}/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt"),
		TrustPaths: []string{"{root}/etc/pki/ca-trust/source", "{root}/usr/share/pki/ca-trust-source"},
		// ca-certificates' ca-bundle.trust.p11-kit (PEM blocks among p11-kit
		// attributes) and any anchors other packages put there.
		Packaged: []string{"/usr/share/pki/ca-trust-source"},
		Outputs: []Output{
			{Path: "/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt", Form: TrustedBundle},
			{Path: "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", Form: PEMBundle, Purposes: tlsPurposes},
			{Path: "/etc/pki/ca-trust/extracted/pem/email-ca-bundle.pem", Form: PEMBundle, Purposes: []stores.Purpose{stores.Email}},
			{Path: "/etc/pki/ca-trust/extracted/pem/objsign-ca-bundle.pem", Form: PEMBundle, Purposes: []stores.Purpose{stores.CodeSigning}},
		},
	},
	{
		// Arch and derivatives: the same p11-kit tooling under
		// /etc/ca-certificates. Arch's p11-kit reads
		// /etc/ca-certificates/trust-source and
		// /usr/share/ca-certificates/trust-source, and update-ca-trust
		// (ca-certificates-utils; "trust extract-compat" runs it) writes into
		// DEST=/etc/ca-certificates/extracted with, among others:
		//   trust extract --overwrite --comment --format=pem-bundle --filter=ca-anchors --purpose=server-auth "$dest/tls-ca-bundle.pem"
		//   trust extract --overwrite --comment --format=pem-bundle --filter=ca-anchors --purpose=email "$dest/email-ca-bundle.pem"
		//   trust extract --overwrite --comment --format=pem-bundle --filter=ca-anchors --purpose=code-signing "$dest/objsign-ca-bundle.pem"
		//   trust extract --overwrite --comment --format=openssl-bundle --filter=certificates "$dest/ca-bundle.trust.crt"
		//   trust extract --overwrite --format=pem-directory-hash --filter=ca-anchors --purpose=server-auth "$dest/cadir"
		// (the script as carried in eweOS/packages at 4bb9b3a51ae7; Arch's
		// ca-certificates 20150402-1 has the same lines without --comment).
		// It also writes java-cacerts.jks and edk2-cacerts.bin and links the
		// cadir files into /etc/ssl/certs; under a root prefix rootsync
		// writes the bundles and cadir, not those.
		// TestDistroScriptsAgree runs these lines against a sandboxed tree.
		Family:     "arch",
		IDs:        []string{"arch", "archarm", "manjaro", "endeavouros", "artix"},
		Markers:    []string{"/etc/arch-release"},
		Anchors:    []string{"/etc/ca-certificates/trust-source/anchors"},
		Blocklist:  "/etc/ca-certificates/trust-source/blocklist",
		Ext:        ".pem",
		Regenerate: [][]string{{"update-ca-trust"}},
		Rooted:     archExtract(),
		TrustPaths: []string{"{root}/etc/ca-certificates/trust-source", "{root}/usr/share/ca-certificates/trust-source"},
		Packaged:   []string{"/usr/share/ca-certificates/trust-source"},
		Outputs: []Output{
			{Path: "/etc/ca-certificates/extracted/ca-bundle.trust.crt", Form: TrustedBundle},
			{Path: "/etc/ca-certificates/extracted/tls-ca-bundle.pem", Form: PEMBundle, Purposes: tlsPurposes},
			{Path: "/etc/ca-certificates/extracted/email-ca-bundle.pem", Form: PEMBundle, Purposes: []stores.Purpose{stores.Email}},
			{Path: "/etc/ca-certificates/extracted/objsign-ca-bundle.pem", Form: PEMBundle, Purposes: []stores.Purpose{stores.CodeSigning}},
		},
	},
	{
		// openSUSE and SLES: a p11-kit based update-ca-certificates (a shell
		// script running the hooks in /usr/lib/ca-certificates/update.d); the
		// distrust folder is still called blacklist, and p11-kit reads
		// /etc/pki/trust and /usr/share/pki/trust. The hooks' command lines
		// (openSUSE/ca-certificates: certbundle.run and etc_ssl.run at
		// 0e1769784fc2, openssl.run at 0934a7e4ec5b; statedir is
		// /var/lib/ca-certificates):
		//   trust extract --format=pem-bundle --purpose=server-auth --filter=ca-anchors $cafile.tmp
		//     (then a comment header is put in front and it is renamed to $statedir/ca-bundle.pem)
		//   trust extract --purpose=server-auth --filter=ca-anchors --format=pem-directory-hash -f "${destdir}$pemdir"
		//     ($statedir/pem; /etc/ssl/certs is a link to it)
		//   trust extract --format=openssl-directory --filter=ca-anchors --overwrite $cadir
		//     ($statedir/openssl)
		// java.run writes java-cacerts, which rootsync leaves to the tool.
		// TestDistroScriptsAgree runs these lines against a sandboxed tree.
		Family:     "suse",
		IDs:        []string{"opensuse", "opensuse-leap", "opensuse-tumbleweed", "opensuse-microos", "sles", "sled", "suse"},
		Markers:    []string{"/etc/SUSE-brand", "/etc/SuSE-release"},
		Anchors:    []string{"/etc/pki/trust/anchors"},
		Blocklist:  "/etc/pki/trust/blacklist",
		Ext:        ".pem",
		Regenerate: [][]string{{"update-ca-certificates"}},
		Rooted: [][]string{
			{"trust", "extract", "--format=pem-bundle", "--filter=ca-anchors", "--purpose", "server-auth",
				"--overwrite", "{root}/var/lib/ca-certificates/ca-bundle.pem"},
			{"trust", "extract", "--format=pem-directory-hash", "--filter=ca-anchors", "--purpose", "server-auth",
				"--overwrite", "{root}/var/lib/ca-certificates/pem"},
			{"trust", "extract", "--format=openssl-directory", "--filter=ca-anchors",
				"--overwrite", "{root}/var/lib/ca-certificates/openssl"},
		},
		TrustPaths: []string{"{root}/etc/pki/trust", "{root}/usr/share/pki/trust"},
		Packaged:   []string{"/usr/share/pki/trust"},
		Outputs:    []Output{{Path: "/var/lib/ca-certificates/ca-bundle.pem", Form: PEMBundle, Purposes: tlsPurposes}},
	},
	{
		// Alpine: its own update-ca-certificates (update-ca.c in
		// alpinelinux/ca-certificates, no p11-kit) reads every regular file in
		// /usr/local/share/ca-certificates. It has no options to move its paths,
		// so a root prefix runs the tree's own tool through chroot; it cannot
		// run here, so this layout is tested against fixture trees only.
		Family:       "alpine",
		IDs:          []string{"alpine", "postmarketos"},
		Markers:      []string{"/etc/alpine-release"},
		Anchors:      []string{"/usr/local/share/ca-certificates"},
		Ext:          ".crt",
		Regenerate:   [][]string{{"update-ca-certificates"}},
		Rooted:       [][]string{{"chroot", "{root}", "update-ca-certificates"}},
		DistrustHint: "Alpine has no distrust list: remove the certificate from /etc/ca-certificates.conf or the package",
		Outputs:      []Output{{Path: "/etc/ssl/certs/ca-certificates.crt", Form: PEMBundle, Purposes: stores.Purposes}},
		CertDirs:     []string{"/etc/ssl/certs"},
		Packaged:     []string{"/usr/share/ca-certificates/mozilla"},
	},
}

// p11kitExtract is what update-ca-trust extract does, written as p11-kit trust
// commands with explicit output files: PEM bundles per purpose under pemDir and
// the openssl-bundle with per-purpose trust at trustFile.
func p11kitExtract(pemDir, trustFile string) [][]string {
	bundle := func(purpose, file string) []string {
		return []string{"trust", "extract", "--format=pem-bundle", "--filter=ca-anchors", "--purpose", purpose, "--overwrite", pemDir + file}
	}
	return [][]string{
		bundle("server-auth", "tls-ca-bundle.pem"),
		bundle("email", "email-ca-bundle.pem"),
		bundle("code-signing", "objsign-ca-bundle.pem"),
		{"trust", "extract", "--format=openssl-bundle", "--filter=certificates", "--overwrite", trustFile},
	}
}

// archExtract is p11kitExtract plus the hashed folder Arch's update-ca-trust
// writes (its files are linked into /etc/ssl/certs on the running system).
func archExtract() [][]string {
	return append(p11kitExtract("{root}/etc/ca-certificates/extracted/", "{root}/etc/ca-certificates/extracted/ca-bundle.trust.crt"),
		[]string{"trust", "extract", "--format=pem-directory-hash", "--filter=ca-anchors", "--purpose", "server-auth",
			"--overwrite", "{root}/etc/ca-certificates/extracted/cadir"})
}

// Families lists the family names of the table, for messages.
func Families() []string {
	var out []string
	for _, l := range Layouts {
		out = append(out, l.Family)
	}
	return out
}

// osRelease is what detection takes from an os-release file.
type osRelease struct {
	path   string // the file read, "" if none
	id     string
	idLike []string
}

// osReleaseFiles are read in order under the root; the first that exists counts.
var osReleaseFiles = []string{"/etc/os-release", "/usr/lib/os-release"}

func readOSRelease(root string) (osRelease, error) {
	for _, f := range osReleaseFiles {
		p := filepath.Join(root, f)
		b, err := stores.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return osRelease{path: p}, err
		}
		r := osRelease{path: p}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
			if !ok {
				continue
			}
			v = strings.Trim(v, `"'`)
			switch k {
			case "ID":
				r.id = strings.ToLower(v)
			case "ID_LIKE":
				r.idLike = strings.Fields(strings.ToLower(v))
			}
		}
		return r, nil
	}
	return osRelease{}, nil
}

// ErrUnknownDistribution is wrapped when no layout matches.
var ErrUnknownDistribution = errors.New("unknown distribution")

// detect picks the layout for the tree at root ("" or "/" for the running
// system), or the one named by family when it is not "".
func detect(root, family string) (*Layout, error) {
	if family != "" {
		for i := range Layouts {
			if Layouts[i].Family == family {
				return &Layouts[i], nil
			}
		}
		return nil, &stores.Error{Path: "system", Err: fmt.Errorf("unknown family %q", family),
			Hint: "use ?family= with one of " + strings.Join(Families(), ", ")}
	}
	rel, err := readOSRelease(root)
	if err != nil {
		return nil, err
	}
	if rel.id != "" {
		for i := range Layouts {
			if contains(Layouts[i].IDs, rel.id) {
				return &Layouts[i], nil
			}
		}
	}
	for _, like := range rel.idLike {
		for i := range Layouts {
			if contains(Layouts[i].IDs, like) {
				return &Layouts[i], nil
			}
		}
	}
	var tried []string
	for i := range Layouts {
		for _, m := range Layouts[i].Markers {
			p := filepath.Join(root, m)
			tried = append(tried, p)
			if _, err := os.Stat(p); err == nil {
				return &Layouts[i], nil
			}
		}
	}
	found := "no os-release file (looked for " + strings.Join(prefixed(root, osReleaseFiles), ", ") + ")"
	if rel.path != "" {
		found = fmt.Sprintf("%s says ID=%q ID_LIKE=%q", rel.path, rel.id, strings.Join(rel.idLike, " "))
	}
	return nil, &stores.Error{
		Path: "system",
		Err:  fmt.Errorf("%w: %s, and none of %s exists", ErrUnknownDistribution, found, strings.Join(tried, ", ")),
		Hint: "force a layout with system?family=NAME (or system:/ROOT?family=NAME), NAME one of " + strings.Join(Families(), ", "),
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func prefixed(root string, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Join(root, p)
	}
	return out
}
