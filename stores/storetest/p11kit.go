package storetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TrustExtract runs p11-kit's `trust extract ARGS... OUT` over the trust
// sources in source alone (its anchors and blocklist folders, or files) and
// returns the bytes it wrote to OUT. p11-kit gets a module configuration of
// its own; as root the command runs in a user namespace as another user
// (NotRoot), since p11-kit ignores per-user configuration for uid 0, so
// source and its folders are made readable to everyone.
func TrustExtract(t testing.TB, source string, args ...string) []byte {
	t.Helper()
	bin := Tool(t, "trust")
	if m, _ := filepath.Glob("/usr/lib/*/pkcs11/p11-kit-trust.so"); len(m) == 0 {
		Tool(t, "p11-kit-trust.so (package p11-kit-modules)")
	}
	tmp, err := os.MkdirTemp("", "rootsync-p11kit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	modules := filepath.Join(tmp, "config", "pkcs11", "modules")
	outDir := filepath.Join(tmp, "out")
	for _, d := range []string{modules, outDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := "module: p11-kit-trust.so\ntrust-policy: yes\nx-init-reserved: paths=" + source + "\n"
	if err := os.WriteFile(filepath.Join(modules, "p11-kit-trust.module"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	readable := []string{tmp, outDir}
	_ = filepath.WalkDir(source, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			readable = append(readable, p)
		}
		return nil
	})
	for _, p := range readable {
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(outDir, "extracted")
	cmd := exec.Command(bin, append(append([]string{"extract"}, args...), out)...)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "P11_KIT_NO_USER_CONFIG" && k != "XDG_CONFIG_HOME" && k != "HOME" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"), "HOME="+tmp)
	if os.Getuid() == 0 {
		cmd.SysProcAttr = NotRoot()
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("trust extract %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
