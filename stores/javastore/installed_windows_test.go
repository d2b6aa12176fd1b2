//go:build windows

package javastore

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCacertsWindows: on Windows, Cacerts looks under the folders the
// ProgramFiles, ProgramFiles(x86) and JAVA_HOME variables name.
func TestCacertsWindows(t *testing.T) {
	// Not t.TempDir: its clean-up fails under Wine 8.
	root, err := os.MkdirTemp("", "javastore")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	pf, pf86, home := filepath.Join(root, "pf"), filepath.Join(root, "pf86"), filepath.Join(root, "home")
	files := map[string][]byte{
		filepath.Join(pf, "Eclipse Adoptium", "jdk-17", "lib", "security", "cacerts"): {0xfe, 0xed, 0xfe, 0xed},
		filepath.Join(pf86, "Zulu", "zulu-21", "lib", "security", "cacerts"):          {0x30, 0x82, 0x01, 0x00},
		filepath.Join(home, "lib", "security", "cacerts"):                             {0x30, 0x82, 0x01, 0x00},
	}
	for p, b := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("ProgramFiles", pf)
	t.Setenv("ProgramFiles(x86)", pf86)
	t.Setenv("JAVA_HOME", home)
	got := Cacerts()
	want := []struct {
		path   string
		format Format
	}{
		{filepath.Join(pf, "Eclipse Adoptium", "jdk-17", "lib", "security", "cacerts"), JKS},
		{filepath.Join(pf86, "Zulu", "zulu-21", "lib", "security", "cacerts"), PKCS12},
		{filepath.Join(home, "lib", "security", "cacerts"), PKCS12},
	}
	if len(got) != len(want) {
		t.Fatalf("Cacerts() = %v, want %v", got, want)
	}
	for i, w := range want {
		if got[i].Path != w.path || got[i].Format != w.format {
			t.Errorf("Cacerts()[%d] = %v, want %s (%s)", i, got[i], w.path, w.format)
		}
	}
}
