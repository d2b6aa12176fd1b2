//go:build linux

package adversarial

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/testpki"
)

// nobody is the user (and group) the "unreadable" cases run rootsync as when
// the tests run as root, as they do in CI: root reads any file.
const nobody = 65534

// password is the password of the fixtures' keystores and NSS database.
const password = "right-password"

var (
	// base is a folder every user may enter (0755): the binary, the
	// fixtures and each case's folder live below it.
	base string
	// bin is the rootsync binary, built once for the run.
	bin string
	// fixtures holds one good store of each kind, made by rootsync itself.
	fixtures string
	rootA    = testpki.Root("Adversarial Root A")
	rootB    = testpki.Root("Adversarial Root B")
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if base, err = os.MkdirTemp("", "rootsync-adversarial-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_, file, _, _ := runtime.Caller(0)
	bin = filepath.Join(base, "rootsync")
	build := exec.Command("go", "build", "-o", bin, "./cmd/rootsync")
	build.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building rootsync: %v\n%s", err, out)
		return 1
	}
	if err := makeFixtures(); err != nil {
		fmt.Fprintf(os.Stderr, "making fixtures: %v\n", err)
		return 1
	}
	return m.Run()
}

// makeFixtures writes good stores holding roots A and B: good.pem, and the
// others made from it by rootsync sync (so each is what rootsync itself
// reads and writes), and a Debian tree for the system kind.
func makeFixtures() error {
	fixtures = filepath.Join(base, "fixtures")
	if err := os.Mkdir(fixtures, 0o755); err != nil {
		return err
	}
	good := filepath.Join(fixtures, "good.pem")
	if err := os.WriteFile(good, append(rootA.PEM(), rootB.PEM()...), 0o644); err != nil {
		return err
	}
	for _, target := range []string{
		"capath:" + filepath.Join(fixtures, "capath"),
		"nss:" + filepath.Join(fixtures, "nssdb"),
		"nss:" + filepath.Join(fixtures, "nsspw") + "?password-env=RS_PW",
		"p12:" + filepath.Join(fixtures, "good.p12") + "?password-env=RS_PW",
		"jks:" + filepath.Join(fixtures, "good.jks") + "?password-env=RS_PW",
	} {
		r := rootsync(context.Background(), fixtures, false, "sync", "pem:"+good, "--to", target)
		if r.code != 0 {
			return fmt.Errorf("sync into %s: %v", target, r)
		}
	}
	tree := filepath.Join(fixtures, "system")
	for p, data := range map[string][]byte{
		"etc/os-release":                    []byte("ID=debian\n"),
		"etc/ssl/certs/ca-certificates.crt": append(rootA.PEM(), rootB.PEM()...),
	} {
		if err := os.MkdirAll(filepath.Join(tree, filepath.Dir(p)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tree, p), data, 0o644); err != nil {
			return err
		}
	}
	return os.MkdirAll(filepath.Join(tree, "usr/local/share/ca-certificates"), 0o755)
}

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// rootsync runs the binary in dir with a state folder of its own; asNobody
// runs it as user nobody when the test runs as root. A run that does not end
// within 20 seconds is killed and reported as exit -1.
func rootsync(ctx context.Context, dir string, asNobody bool, args ...string) result {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	state, err := os.MkdirTemp(base, "state-")
	if err != nil {
		return result{stderr: err.Error(), code: -2}
	}
	defer os.RemoveAll(state)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "ROOTSYNC_STATE_DIR=" + state, "RS_PW=" + password, "RS_WRONG=wrong-password"}
	if asNobody && os.Geteuid() == 0 {
		if err := os.Chown(state, nobody, nobody); err != nil {
			return result{stderr: err.Error(), code: -2}
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	switch {
	case ctx.Err() != nil:
		r.code = -1
		r.stderr += "\n(killed: still running after 20 seconds)"
	case err != nil && cmd.ProcessState == nil:
		r.code = -2
		r.stderr += err.Error()
	default:
		r.code = cmd.ProcessState.ExitCode()
	}
	return r
}

// snapshot describes every name under dir without following links or
// opening anything but regular files: type, mode, owner, size and SHA-256 of
// regular files, target of links.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode().IsRegular():
			if fi.Size() > 64<<20 || (fi.Mode().Perm()&0o400 == 0 && os.Geteuid() != 0) {
				// A sparse giant, or unreadable to a test not run as root.
				desc += fmt.Sprintf(" size %d mtime %d", fi.Size(), fi.ModTime().UnixNano())
				break
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc += " " + hex.EncodeToString(sum[:])
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot of %s: %v", dir, err)
	}
	return out
}

func compare(t *testing.T, before, after map[string]string) {
	t.Helper()
	var names []string
	for n := range before {
		names = append(names, n)
	}
	for n := range after {
		if _, ok := before[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if before[n] != after[n] {
			t.Errorf("%s changed:\n  before: %q\n  after:  %q", n, before[n], after[n])
		}
	}
}

// copyTree copies the fixture src (a file or a folder of regular files and
// links) to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			return os.MkdirAll(to, 0o755)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, data, 0o644))
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	must(t, err)
	return b
}

// truncated cuts b three quarters of the way: inside the last of two
// certificate blocks, inside a keystore's or database's content.
func truncated(b []byte) []byte { return b[:len(b)*3/4] }

// kind is one store kind: how to name a store at a path, and where in that
// store the file that the file-level conditions damage lives.
type kind struct {
	name string
	// spec names the store at loc, with options (a password) where needed.
	spec func(loc string) string
	// good puts a good store holding roots A and B at loc.
	good func(t *testing.T, loc string)
	// file is the store's main file for a store at loc: the file itself,
	// cert9.db of a database, the generated bundle of a system tree. For
	// capath, "" (a folder of files).
	file func(loc string) string
}

var kinds = []kind{
	{
		name: "pem",
		spec: func(loc string) string { return "pem:" + loc },
		good: func(t *testing.T, loc string) { writeFile(t, loc, fixture(t, "good.pem")) },
		file: func(loc string) string { return loc },
	},
	{
		name: "capath",
		spec: func(loc string) string { return "capath:" + loc },
		good: func(t *testing.T, loc string) { copyTree(t, filepath.Join(fixtures, "capath"), loc) },
	},
	{
		name: "nss",
		spec: func(loc string) string { return "nss:" + loc + "?password-env=RS_PW" },
		good: func(t *testing.T, loc string) { copyTree(t, filepath.Join(fixtures, "nsspw"), loc) },
		file: func(loc string) string { return filepath.Join(loc, "cert9.db") },
	},
	{
		name: "p12",
		spec: func(loc string) string { return "p12:" + loc + "?password-env=RS_PW" },
		good: func(t *testing.T, loc string) { writeFile(t, loc, fixture(t, "good.p12")) },
		file: func(loc string) string { return loc },
	},
	{
		name: "jks",
		spec: func(loc string) string { return "jks:" + loc + "?password-env=RS_PW" },
		good: func(t *testing.T, loc string) { writeFile(t, loc, fixture(t, "good.jks")) },
		file: func(loc string) string { return loc },
	},
	{
		name: "system",
		spec: func(loc string) string { return "system:" + loc },
		good: func(t *testing.T, loc string) { copyTree(t, filepath.Join(fixtures, "system"), loc) },
		file: func(loc string) string { return filepath.Join(loc, "etc/ssl/certs/ca-certificates.crt") },
	},
}

// condition is one way a store's path can be wrong. make turns the store at
// loc (absent when make is called) into the bad one and returns the spec
// location to use (loc, or another path such as /dev/zero); it returns ""
// when the condition does not apply to the kind.
type condition struct {
	name string
	make func(t *testing.T, k kind, loc string) string
	// asNobody runs rootsync as user nobody.
	asNobody bool
}

var conditions = []condition{
	{name: "missing", make: func(t *testing.T, k kind, loc string) string { return loc }},
	{name: "folder where a file belongs", make: func(t *testing.T, k kind, loc string) string {
		if k.file == nil {
			return ""
		}
		if k.file(loc) != loc {
			k.good(t, loc)
			must(t, os.Remove(k.file(loc)))
		}
		must(t, os.MkdirAll(filepath.Join(k.file(loc), "sub"), 0o755))
		return loc
	}},
	{name: "file where a folder belongs", make: func(t *testing.T, k kind, loc string) string {
		if k.file != nil && k.file(loc) == loc {
			return ""
		}
		writeFile(t, loc, fixture(t, "good.pem"))
		return loc
	}},
	{name: "wrong kind", make: func(t *testing.T, k kind, loc string) string {
		switch k.name {
		case "pem":
			writeFile(t, loc, fixture(t, "good.jks"))
		case "capath":
			copyTree(t, filepath.Join(fixtures, "nssdb"), loc)
		case "nss":
			copyTree(t, filepath.Join(fixtures, "capath"), loc)
		case "p12":
			writeFile(t, loc, fixture(t, "good.jks"))
		case "jks":
			writeFile(t, loc, fixture(t, "good.p12"))
		case "system":
			// A folder that is no distribution tree: a capath folder.
			copyTree(t, filepath.Join(fixtures, "capath"), loc)
		}
		return loc
	}},
	{name: "truncated", make: func(t *testing.T, k kind, loc string) string {
		k.good(t, loc)
		if k.file == nil {
			// A capath folder: one of its certificate files cut in half.
			ents, err := os.ReadDir(loc)
			must(t, err)
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".pem") {
					p := filepath.Join(loc, e.Name())
					b, err := os.ReadFile(p)
					must(t, err)
					must(t, os.WriteFile(p, truncated(b), 0o644))
					return loc
				}
			}
			t.Fatal("no .pem file in the capath fixture")
		}
		b, err := os.ReadFile(k.file(loc))
		must(t, err)
		must(t, os.WriteFile(k.file(loc), truncated(b), 0o644))
		return loc
	}},
	{name: "named pipe", make: func(t *testing.T, k kind, loc string) string {
		p := loc
		if k.file != nil && k.file(loc) != loc {
			k.good(t, loc)
			p = k.file(loc)
			must(t, os.Remove(p))
		}
		must(t, syscall.Mkfifo(p, 0o644))
		return loc
	}},
	{name: "dev zero", make: func(t *testing.T, k kind, loc string) string {
		if k.file == nil || k.file(loc) == loc {
			return "/dev/zero"
		}
		k.good(t, loc)
		must(t, os.Remove(k.file(loc)))
		must(t, os.Symlink("/dev/zero", k.file(loc)))
		return loc
	}},
	{name: "over 1 GiB", make: func(t *testing.T, k kind, loc string) string {
		if k.file == nil {
			return ""
		}
		if k.file(loc) == loc {
			writeFile(t, loc, nil)
		} else {
			k.good(t, loc)
		}
		f, err := os.Create(k.file(loc))
		must(t, err)
		defer f.Close()
		must(t, f.Truncate(1<<30+1)) // sparse: no disk used
		return loc
	}},
	{name: "symlink loop", make: func(t *testing.T, k kind, loc string) string {
		must(t, os.Symlink(filepath.Base(loc)+".loop", loc))
		must(t, os.Symlink(filepath.Base(loc), loc+".loop"))
		return loc
	}},
	{name: "wrong password", make: func(t *testing.T, k kind, loc string) string {
		switch k.name {
		case "nss", "p12", "jks":
			k.good(t, loc)
			return loc
		}
		return ""
	}},
	{name: "unreadable", asNobody: true, make: func(t *testing.T, k kind, loc string) string {
		k.good(t, loc)
		p := loc
		if k.file != nil {
			p = k.file(loc)
		}
		must(t, os.Chmod(p, 0))
		return loc
	}},
}

// TestMatrix runs every kind × condition as a source (a mirror from it into
// a good PEM bundle, with the mass-removal guard lifted so that a bad source
// read as empty would empty the bundle) and as a target (a sync from a good
// bundle into it). A missing target is no error: diff plans to create it
// (exit 3), except for a system tree, whose distribution cannot be told.
func TestMatrix(t *testing.T) {
	for _, k := range kinds {
		for _, c := range conditions {
			for _, role := range []string{"source", "target"} {
				t.Run(k.name+"/"+c.name+"/"+role, func(t *testing.T) {
					t.Parallel()
					runCase(t, k, c, role)
				})
			}
		}
	}
}

func runCase(t *testing.T, k kind, c condition, role string) {
	dir, err := os.MkdirTemp(base, "case-")
	must(t, err)
	t.Cleanup(func() {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type()&fs.ModeSymlink == 0 {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(dir)
	})
	must(t, os.Chmod(dir, 0o755))
	bad := filepath.Join(dir, "store")
	loc := c.make(t, k, bad)
	if loc == "" {
		t.Skipf("%s does not apply to %s", c.name, k.name)
	}
	spec := k.spec(loc)
	if c.name == "wrong password" {
		spec = strings.Replace(spec, "RS_PW", "RS_WRONG", 1)
	}
	other := filepath.Join(dir, "other.pem")
	writeFile(t, other, append(rootA.PEM(), testpki.Root("Adversarial Other Root").PEM()...))
	if c.asNobody {
		// nobody may read the other bundle and the folder, not the store.
		must(t, os.Chmod(other, 0o644))
	}

	var args []string
	want := 1
	if role == "source" {
		args = []string{"sync", spec, "--to", "pem:" + other, "--mode", "mirror", "--max-removals", "1000"}
	} else {
		args = []string{"sync", "pem:" + other, "--to", spec}
		if c.name == "missing" {
			args[0] = "diff"
			if k.name != "system" {
				want = 3
			}
		}
	}
	before := snapshot(t, dir)
	r := rootsync(context.Background(), dir, c.asNobody, args...)
	t.Logf("rootsync %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	if r.code != want {
		t.Errorf("rootsync %s: exit %d, want %d\n%v", strings.Join(args, " "), r.code, want, r)
	}
	if want == 1 && !strings.Contains(r.stderr, loc) {
		t.Errorf("the message does not name %s:\n%s", loc, r.stderr)
	}
	if want == 1 && !strings.Contains(r.stderr, "\nhint: ") {
		t.Errorf("no hint:\n%s", r.stderr)
	}
	compare(t, before, snapshot(t, dir))
}

// TestLegitimate: what is of its kind stays usable. An existing empty bundle
// is an empty source; empty files and folders, and curl's cacert.pem with its
// comment header and underlined titles, are targets rootsync writes into,
// keeping every byte that was there.
func TestLegitimate(t *testing.T) {
	good := filepath.Join(fixtures, "good.pem")
	curlHead := "##\n## Bundle of CA Root Certificates\n##\n## This is a bundle of X.509 certificates of public Certificate Authorities.\n##\n\n"
	curl := curlHead + "Adversarial Root A\n==================\n" + string(rootA.PEM()) + "\n"
	tests := []struct {
		name   string
		prep   func(t *testing.T, dir string) // makes dir/store
		spec   string                         // of dir/store, KIND:
		source bool                           // the store is the source of a diff into good.pem
		keep   string                         // the file must still start with this
	}{
		{name: "empty pem as source", spec: "pem:", source: true,
			prep: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "store"), nil) }},
		{name: "empty pem", spec: "pem:",
			prep: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "store"), nil) }},
		{name: "comments-only pem", spec: "pem:", keep: "# CA bundle for the app\n\n",
			prep: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "store"), []byte("# CA bundle for the app\n\n"))
			}},
		{name: "curl cacert.pem", spec: "pem:", keep: curl,
			prep: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "store"), []byte(curl)) }},
		{name: "curl header without certificates", spec: "pem:", keep: curlHead,
			prep: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "store"), []byte(curlHead)) }},
		{name: "empty p12", spec: "p12:",
			prep: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "store"), nil) }},
		{name: "empty jks", spec: "jks:",
			prep: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "store"), nil) }},
		{name: "empty capath folder", spec: "capath:",
			prep: func(t *testing.T, dir string) { must(t, os.Mkdir(filepath.Join(dir, "store"), 0o755)) }},
		{name: "empty nss folder", spec: "nss:",
			prep: func(t *testing.T, dir string) { must(t, os.Mkdir(filepath.Join(dir, "store"), 0o755)) }},
		{name: "nss folder with only pkcs11.txt", spec: "nss:",
			prep: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "store", "pkcs11.txt"), []byte("library=\nname=NSS Internal PKCS #11 Module\n"))
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tc.prep(t, dir)
			store := tc.spec + filepath.Join(dir, "store")
			if tc.source {
				before := snapshot(t, dir)
				if r := rootsync(context.Background(), dir, false, "diff", store, "--to", "pem:"+good); r.code != 0 {
					t.Fatalf("diff from %s: %v", store, r)
				}
				compare(t, before, snapshot(t, dir))
				return
			}
			if r := rootsync(context.Background(), dir, false, "sync", "pem:"+good, "--to", store); r.code != 0 {
				t.Fatalf("sync into %s: %v", store, r)
			}
			r := rootsync(context.Background(), dir, false, "list", store)
			if r.code != 0 || !strings.Contains(r.stdout, "2 certificates") {
				t.Fatalf("list %s after the sync: %v", store, r)
			}
			if tc.keep != "" {
				b, err := os.ReadFile(filepath.Join(dir, "store"))
				must(t, err)
				if !strings.HasPrefix(string(b), tc.keep) {
					t.Errorf("the file lost its content:\n%s", b)
				}
			}
		})
	}
}

// TestPasswordFile: a password file that is missing, a named pipe or a device
// is an error naming it, already at plan time (diff) and even for a keystore
// that does not exist yet, whose new file would get that password.
func TestPasswordFile(t *testing.T) {
	good := filepath.Join(fixtures, "good.pem")
	for _, tc := range []struct {
		name string
		make func(t *testing.T, p string) string
	}{
		{"missing", func(t *testing.T, p string) string { return p }},
		{"named pipe", func(t *testing.T, p string) string { must(t, syscall.Mkfifo(p, 0o600)); return p }},
		{"dev zero", func(t *testing.T, p string) string { return "/dev/zero" }},
	} {
		for _, k := range []string{"p12", "jks", "nss"} {
			t.Run(tc.name+"/"+k, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				pw := tc.make(t, filepath.Join(dir, "pw"))
				store := k + ":" + filepath.Join(dir, "store") + "?password-file=" + pw
				before := snapshot(t, dir)
				r := rootsync(context.Background(), dir, false, "diff", "pem:"+good, "--to", store)
				if r.code != 1 || !strings.Contains(r.stderr, pw) {
					t.Errorf("diff into %s: %v\nwant exit 1 naming %s", store, r, pw)
				}
				compare(t, before, snapshot(t, dir))
			})
		}
	}
}

// TestRunMissingSource: a configuration job whose source does not exist fails
// (exit 1, naming it) and leaves its mirror target as it was.
func TestRunMissingSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "t.pem")
	writeFile(t, target, fixture(t, "good.pem"))
	missing := filepath.Join(dir, "clinet-ca.pem")
	conf := filepath.Join(dir, "config.yaml")
	writeFile(t, conf, []byte(fmt.Sprintf("jobs:\n  web:\n    sources: [pem:%s]\n    targets: [pem:%s]\n    mode: mirror\n    max-removals: 1000\n", missing, target)))
	before := snapshot(t, dir)
	r := rootsync(context.Background(), dir, false, "run", "-c", conf)
	if r.code != 1 || !strings.Contains(r.stderr, missing+": does not exist") {
		t.Errorf("run with a missing source: %v\nwant exit 1 naming %s", r, missing)
	}
	compare(t, before, snapshot(t, dir))
}
