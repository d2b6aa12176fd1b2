package system

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// withTool returns a copy of s whose regeneration runs argv instead.
func withTool(s *Store, argv ...string) *Store {
	l := *s.layout
	l.Rooted = [][]string{argv}
	l.TrustPaths = nil
	cp := *s
	cp.layout = &l
	return &cp
}

// TestApplyRestoresWhenToolFails: when the regeneration command fails or
// does nothing, the input folder is put back exactly (written files gone,
// removed files back with their bytes, mode and time) and the error carries
// the tool's output.
func TestApplyRestoresWhenToolFails(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		argv     []string
		wantText string
	}{
		{"fails", []string{"sh", "-c", "echo 'E: something broke in the tool' >&2; exit 4"}, "something broke in the tool"},
		{"does nothing", []string{"sh", "-c", "echo 'all done, nothing changed'"}, "all done, nothing changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := debianTree(t, t.TempDir())
			old := testpki.Root("Restore Old Root")
			if err := s.Apply(ctx, []stores.Change{addChange(old)}); err != nil {
				t.Fatal(err)
			}
			// An administrator's symlinked input file must come back as a link.
			in := s.Paths()[0]
			target := filepath.Join(s.root, "admin.pem")
			admin := testpki.Root("Restore Admin Root")
			os.WriteFile(target, admin.PEM(), 0o644)
			if err := os.Symlink(target, filepath.Join(in, "admin.crt")); err != nil {
				t.Fatal(err)
			}
			runDebianTool(t, s.root)
			set, err := s.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			before := storetest.Snapshot(t, s.Paths())
			outBefore := storetest.Snapshot(t, s.Outputs())
			broken := withTool(s, tc.argv...)
			err = broken.Apply(ctx, []stores.Change{
				addChange(testpki.Root("Restore New Root")),
				{Action: stores.Remove, Entry: set.Get(stores.FingerprintOf(old.DER))},
				{Action: stores.Remove, Entry: set.Get(stores.FingerprintOf(admin.DER))},
			})
			if err == nil {
				t.Fatal("Apply succeeded with a broken tool")
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error does not carry the tool's output %q: %v", tc.wantText, err)
			}
			storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
			storetest.Compare(t, outBefore, storetest.Snapshot(t, s.Outputs()))
		})
	}
}

// TestPrivilegeErrors: without the right to write, the error names the
// folder and says how to do it as root, with the exact files and command.
func TestPrivilegeErrors(t *testing.T) {
	ctx := context.Background()
	root := testpki.Root("Privilege Root")
	t.Run("read-only input folder", func(t *testing.T) {
		dir := t.TempDir()
		s := debianTree(t, dir)
		os.MkdirAll(s.Paths()[0], 0o755)
		storetest.ReadOnly(t, dir)
		err := s.Apply(ctx, []stores.Change{addChange(root)})
		if err == nil {
			t.Fatal("Apply into a read-only folder succeeded")
		}
		checkPrivilegeHint(t, s, err, root)
	})
	t.Run("tool says permission denied", func(t *testing.T) {
		s := debianTree(t, t.TempDir())
		broken := withTool(s, "sh", "-c", "echo 'ln: failed to create symbolic link: Permission denied' >&2; exit 1")
		err := broken.Apply(ctx, []stores.Change{addChange(root)})
		if err == nil {
			t.Fatal("Apply succeeded although the tool failed")
		}
		if !strings.Contains(err.Error(), "Permission denied") {
			t.Errorf("error lacks the tool's output: %v", err)
		}
		checkPrivilegeHint(t, broken, err, root)
		if ents, _ := os.ReadDir(s.Paths()[0]); len(ents) != 0 {
			t.Errorf("input folder not restored: %v", ents)
		}
	})
}

func checkPrivilegeHint(t *testing.T, s *Store, err error, root *testpki.Cert) {
	t.Helper()
	var se *stores.Error
	if !errors.As(err, &se) || !strings.Contains(se.Path, s.Paths()[0]) {
		t.Fatalf("error %v does not name %s", err, s.Paths()[0])
	}
	hint := stores.HintOf(err)
	name := s.fileName(stores.MustParse(root.DER))
	for _, want := range []string{"run rootsync as root (sudo)", "sudo " + s.commandLine(), name, "to " + s.Paths()[0]} {
		if !strings.Contains(hint, want) {
			t.Errorf("hint %q lacks %q", hint, want)
		}
	}
	// The staged copy named in the hint holds the certificate.
	for _, f := range strings.Fields(hint) {
		if strings.HasSuffix(f, name) && filepath.IsAbs(f) {
			data, err := os.ReadFile(f)
			if err != nil || string(data) != string(root.PEM()) {
				t.Errorf("staged file %s: %v", f, err)
			}
			os.RemoveAll(filepath.Dir(f))
			return
		}
	}
	t.Errorf("hint names no staged file: %q", hint)
}

// TestApplyRefusals: changes the tool cannot express are refused before
// anything is written.
func TestApplyRefusals(t *testing.T) {
	ctx := context.Background()
	s := debianTree(t, t.TempDir())
	a, b := testpki.Root("Shared A"), testpki.Root("Shared B")
	in := s.Paths()[0]
	os.MkdirAll(in, 0o755)
	os.WriteFile(filepath.Join(in, "both.crt"), append(a.PEM(), b.PEM()...), 0o644)
	runDebianTool(t, s.root)
	set, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 {
		t.Fatalf("%d entries, want 2", set.Len())
	}
	before := storetest.Snapshot(t, s.Paths())
	err = s.Apply(ctx, []stores.Change{{Action: stores.Remove, Entry: set.Get(stores.FingerprintOf(a.DER))}})
	if !errors.Is(err, stores.ErrUnsupported) || !strings.Contains(err.Error(), "both.crt") {
		t.Fatalf("removing one of two certificates of a file: %v, want ErrUnsupported naming both.crt", err)
	}
	storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
}

// TestRegenerateCommands: the argv each layout runs, with and without a root
// prefix.
func TestRegenerateCommands(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		fresh bool
		want  []string
	}{
		{"system?family=debian", false, []string{"update-ca-certificates"}},
		{"system?family=debian", true, []string{"update-ca-certificates --fresh"}},
		{"system?family=fedora", false, []string{"update-ca-trust extract"}},
		{"system?family=arch", false, []string{"update-ca-trust"}},
		{"system?family=suse", false, []string{"update-ca-certificates"}},
		{"system?family=alpine", false, []string{"update-ca-certificates"}},
		{"system:/R?family=debian", false, []string{"update-ca-certificates --certsconf /R/etc/ca-certificates.conf --certsdir /R/usr/share/ca-certificates --localcertsdir /R/usr/local/share/ca-certificates --etccertsdir /R/etc/ssl/certs --hooksdir HOOKS"}},
		{"system:/R?family=fedora", false, []string{
			"trust extract --format=pem-bundle --filter=ca-anchors --purpose server-auth --overwrite /R/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
			"trust extract --format=pem-bundle --filter=ca-anchors --purpose email --overwrite /R/etc/pki/ca-trust/extracted/pem/email-ca-bundle.pem",
			"trust extract --format=pem-bundle --filter=ca-anchors --purpose code-signing --overwrite /R/etc/pki/ca-trust/extracted/pem/objsign-ca-bundle.pem",
			"trust extract --format=openssl-bundle --filter=certificates --overwrite /R/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt"}},
		{"system:/R?family=alpine", false, []string{"chroot /R update-ca-certificates"}},
	} {
		t.Run(fmt.Sprintf("%s fresh=%v", tc.spec, tc.fresh), func(t *testing.T) {
			s := openSpec(t, tc.spec)
			cmds, cleanup, err := s.commands(tc.fresh)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range cmds {
				line := strings.Join(c.argv, " ")
				for _, a := range c.argv {
					if strings.HasSuffix(a, "/hooks") {
						if ents, err := os.ReadDir(a); err != nil || len(ents) != 0 {
							t.Errorf("hooks folder %s: %v, %d entries", a, err, len(ents))
						}
						line = strings.ReplaceAll(line, a, "HOOKS")
					}
				}
				got = append(got, line)
			}
			cleanup()
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("commands:\n got %q\nwant %q", got, tc.want)
			}
			if s.root != "" && len(s.layout.TrustPaths) > 0 {
				env := strings.Join(cmds[0].env, "\n")
				if !strings.Contains(env, "XDG_CONFIG_HOME=") || strings.Contains(env, "P11_KIT_NO_USER_CONFIG") {
					t.Errorf("p11-kit environment: %s", env)
				}
				if cmds[0].userns != (os.Getuid() == 0) {
					t.Errorf("userns = %v as uid %d", cmds[0].userns, os.Getuid())
				}
			}
		})
	}
}
