package system

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// distroScript is the p11-kit part of a distribution's regeneration script:
// its trust extract command lines as the distribution ships them, with the
// destination folder written as {dest} (so that the test points it into a
// sandboxed tree).
type distroScript struct {
	family string
	osID   string
	// source names the script, the repository and the version the command
	// lines are quoted from.
	source string
	// dest is the script's destination folder on the running system.
	dest string
	// lines are the command lines, split into arguments as the shell would.
	lines [][]string
	// bundle is the PEM bundle (server-auth) the script writes, relative to
	// dest; trust is its openssl-bundle or openssl-directory (TRUSTED
	// CERTIFICATE blocks), "" if none.
	bundle, trust string
	// hashDir is the pem-directory-hash folder it writes, relative to dest.
	hashDir string
}

// distroScripts are the command lines of the distributions' own scripts.
// Arch: update-ca-trust of Arch's ca-certificates-utils (the copy in
// eweOS/packages at commit 4bb9b3a51ae7, the script Arch ships since it
// gained -o/--output; the same extract lines, without --comment, are in
// Arch's ca-certificates 20150402-1, archslim/ca-certificates.port).
// openSUSE: the update.d hooks run by openSUSE/ca-certificates'
// update-ca-certificates: certbundle.run and etc_ssl.run at commit
// 0e1769784fc2, openssl.run at commit 0934a7e4ec5b.
var distroScripts = []distroScript{
	{
		family: "arch", osID: "arch",
		source: "Arch update-ca-trust (ca-certificates-utils)",
		dest:   "/etc/ca-certificates/extracted",
		lines: [][]string{
			{"trust", "extract", "--overwrite", "--comment", "--format=pem-bundle", "--filter=ca-anchors", "--purpose=server-auth", "{dest}/tls-ca-bundle.pem"},
			{"trust", "extract", "--overwrite", "--comment", "--format=pem-bundle", "--filter=ca-anchors", "--purpose=email", "{dest}/email-ca-bundle.pem"},
			{"trust", "extract", "--overwrite", "--comment", "--format=pem-bundle", "--filter=ca-anchors", "--purpose=code-signing", "{dest}/objsign-ca-bundle.pem"},
			{"trust", "extract", "--overwrite", "--comment", "--format=openssl-bundle", "--filter=certificates", "{dest}/ca-bundle.trust.crt"},
			{"trust", "extract", "--overwrite", "--format=pem-directory-hash", "--filter=ca-anchors", "--purpose=server-auth", "{dest}/cadir"},
		},
		bundle:  "tls-ca-bundle.pem",
		trust:   "ca-bundle.trust.crt",
		hashDir: "cadir",
	},
	{
		family: "suse", osID: "opensuse-tumbleweed",
		source: "openSUSE update-ca-certificates hooks (certbundle.run, etc_ssl.run, openssl.run)",
		dest:   "/var/lib/ca-certificates",
		lines: [][]string{
			// certbundle.run writes $cafile.tmp, puts a comment header in front and renames it.
			{"trust", "extract", "--format=pem-bundle", "--purpose=server-auth", "--filter=ca-anchors", "{dest}/ca-bundle.pem"},
			{"trust", "extract", "--purpose=server-auth", "--filter=ca-anchors", "--format=pem-directory-hash", "-f", "{dest}/pem"},
			{"trust", "extract", "--format=openssl-directory", "--filter=ca-anchors", "--overwrite", "{dest}/openssl"},
		},
		bundle:  "ca-bundle.pem",
		trust:   "openssl",
		hashDir: "pem",
	},
}

// TestDistroScriptsAgree runs each distribution's own trust extract command
// lines with the real p11-kit against a tree rootsync wrote into, and checks
// that rootsync's layout agrees with them: the outputs rootsync reads are the
// ones the script writes (rootsync's Load of the tree the script regenerated
// gives the same entries as after rootsync's own regeneration), an added
// root reaches the script's bundle and hashed folder, and a blocklisted root
// leaves them and is distrusted in the TRUSTED CERTIFICATE output.
func TestDistroScriptsAgree(t *testing.T) {
	for _, ds := range distroScripts {
		t.Run(ds.family, func(t *testing.T) {
			needTool(t, "trust")
			needTool(t, "openssl")
			if matches, _ := filepath.Glob("/usr/lib/*/pkcs11/p11-kit-trust.so"); len(matches) == 0 {
				needTool(t, "p11-kit-trust.so (package p11-kit-modules)")
			}
			ctx := context.Background()
			root := filepath.Join(t.TempDir(), "root")
			writeFile(t, root, "/etc/os-release", []byte("ID="+ds.osID+"\n"))
			s := openSpec(t, "system:"+root)
			if s.layout.Family != ds.family {
				t.Fatalf("detected %s, want %s", s.layout.Family, ds.family)
			}
			added := testpki.Root(ds.family + " Added Root")
			blocked := testpki.Root(ds.family + " Blocked Root")
			if err := s.Apply(ctx, []stores.Change{addChange(added), addChange(blocked)}); err != nil {
				t.Fatalf("Apply add: %v", err)
			}
			set, err := s.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			e := set.Get(stores.FingerprintOf(blocked.DER))
			if e == nil {
				t.Fatalf("the added root is not loaded")
			}
			d := *e
			d.Trust = stores.DistrustAll()
			if err := s.Apply(ctx, []stores.Change{{Action: stores.SetTrust, Entry: &d, From: e.Trust}}); err != nil {
				t.Fatalf("Apply distrust: %v", err)
			}
			ours, err := s.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}

			// rootsync's own regeneration writes the hashed folder the
			// script writes.
			if ok, out := verifyCApath(t, filepath.Join(root, ds.dest, ds.hashDir), added.Leaf("a.example")); !ok {
				t.Errorf("after rootsync's regeneration openssl verify -CApath %s rejects a leaf of the added root: %s", ds.hashDir, out)
			}

			// Remove what rootsync's regeneration wrote, then run the
			// distribution's command lines in the same sandbox.
			dest := filepath.Join(root, ds.dest)
			if err := os.RemoveAll(dest); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(dest, 0o755); err != nil {
				t.Fatal(err)
			}
			base, cleanup, err := s.commands(false)
			defer cleanup()
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range ds.lines {
				var argv []string
				for _, a := range line {
					argv = append(argv, strings.ReplaceAll(a, "{dest}", dest))
				}
				out, err := runCommand(ctx, command{argv: argv, env: base[0].env, userns: base[0].userns})
				if err != nil {
					t.Fatalf("%s (%s): %v: %s", quoteArgv(argv), ds.source, err, out)
				}
			}

			// rootsync reads what the script wrote, and reads the same.
			for _, o := range s.Outputs() {
				if _, err := os.Stat(o); err != nil {
					t.Errorf("%s reads %s, which %s does not write: %v", s.layout.Family, o, ds.source, err)
				}
			}
			theirs, err := s.Load(ctx)
			if err != nil {
				t.Fatalf("Load of the tree %s regenerated: %v", ds.source, err)
			}
			if got, want := describeSet(theirs), describeSet(ours); got != want {
				t.Errorf("Load after %s:\n%s\nafter rootsync's regeneration:\n%s", ds.source, got, want)
			}
			if g := theirs.Get(stores.FingerprintOf(added.DER)); g == nil || g.Trust.Get(stores.ServerAuth) != stores.Trusted || g.Trust.Any(stores.Distrusted) || !g.Owned {
				t.Errorf("added root after %s = %+v, want owned and trusted for server-auth", ds.source, g)
			}
			if g := theirs.Get(stores.FingerprintOf(blocked.DER)); g == nil || g.Trust != stores.DistrustAll() {
				t.Errorf("blocklisted root after %s = %+v, want distrusted", ds.source, g)
			}

			// The script's outputs, read by OpenSSL as programs read them.
			bundle := filepath.Join(dest, ds.bundle)
			data, err := os.ReadFile(bundle)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, added.PEM()) || bytes.Contains(data, blocked.PEM()) {
				t.Errorf("%s: want the added root and not the blocklisted one:\n%s", bundle, data)
			}
			if ok, out := openSSLVerify(t, bundle, added.Leaf("a.example")); !ok {
				t.Errorf("openssl verify -CAfile %s rejects a leaf of the added root: %s", bundle, out)
			}
			if ok, _ := openSSLVerify(t, bundle, blocked.Leaf("b.example")); ok {
				t.Errorf("openssl verify -CAfile %s accepts a leaf of the blocklisted root", bundle)
			}
			hashDir := filepath.Join(dest, ds.hashDir)
			if ok, out := verifyCApath(t, hashDir, added.Leaf("a.example")); !ok {
				t.Errorf("openssl verify -CApath %s rejects a leaf of the added root: %s", hashDir, out)
			}
			trustOut := filepath.Join(dest, ds.trust)
			if fi, err := os.Stat(trustOut); err != nil {
				t.Fatal(err)
			} else if fi.IsDir() {
				if ok, _ := verifyCApath(t, trustOut, blocked.Leaf("b.example")); ok {
					t.Errorf("openssl verify -CApath %s accepts a leaf of the blocklisted root", trustOut)
				}
				if ok, out := verifyCApath(t, trustOut, added.Leaf("a.example")); !ok {
					t.Errorf("openssl verify -CApath %s rejects a leaf of the added root: %s", trustOut, out)
				}
			} else {
				if ok, _ := openSSLVerify(t, trustOut, blocked.Leaf("b.example"), "-purpose", "sslserver"); ok {
					t.Errorf("openssl verify -CAfile %s accepts a leaf of the blocklisted root", trustOut)
				}
				if ok, out := openSSLVerify(t, trustOut, added.Leaf("a.example"), "-purpose", "sslserver"); !ok {
					t.Errorf("openssl verify -CAfile %s rejects a leaf of the added root: %s", trustOut, out)
				}
			}
		})
	}
}

// verifyCApath runs openssl verify with only a hashed folder.
func verifyCApath(t *testing.T, dir string, leaf *testpki.Cert) (bool, string) {
	t.Helper()
	lf := filepath.Join(t.TempDir(), "leaf.pem")
	if err := os.WriteFile(lf, leaf.PEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "verify", "-no-CAfile", "-no-CAstore", "-CApath", dir, "-purpose", "sslserver", lf).CombinedOutput()
	return err == nil, string(out)
}

// describeSet is one line per entry: fingerprint, trust, owned and label.
func describeSet(set *stores.Set) string {
	var b strings.Builder
	for _, e := range set.Entries() {
		b.WriteString(e.Cert.Fingerprint.String())
		b.WriteString(" ")
		b.WriteString(e.Trust.String())
		if e.Owned {
			b.WriteString(" owned")
		}
		b.WriteString(" " + e.Label + "\n")
	}
	return b.String()
}
