package javastore

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rootsync/rootsync/stores"
)

// TestCacerts finds the truststores of JDKs laid out as the Windows
// installers lay them out, in a temporary tree standing for the Program
// Files folders and JAVA_HOME, and tells JKS from PKCS#12 by their first
// bytes.
func TestCacerts(t *testing.T) {
	root := t.TempDir()
	pf, pf86, home := filepath.Join(root, "Program Files"), filepath.Join(root, "Program Files (x86)"), filepath.Join(root, "jdks", "jdk-22")
	jks := []byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2}
	p12 := []byte{0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x03}
	files := map[string][]byte{
		filepath.Join(pf, "Eclipse Adoptium", "jdk-17.0.8.7-hotspot", "lib", "security", "cacerts"): jks,
		filepath.Join(pf, "Microsoft", "jdk-21.0.1.12-hotspot", "lib", "security", "cacerts"):       p12,
		filepath.Join(pf, "Java", "jdk1.8.0_381", "jre", "lib", "security", "cacerts"):              jks,
		filepath.Join(pf, "Java", "jre1.8.0_381", "lib", "security", "cacerts"):                     jks,
		filepath.Join(pf, "Amazon Corretto", "jdk17.0.8_7", "lib", "security", "cacerts"):           []byte("not a keystore"),
		filepath.Join(pf, "Java", "jdk-21", "lib", "security", "cacerts.bak"):                       jks,
		filepath.Join(pf86, "Zulu", "zulu-11", "lib", "security", "cacerts"):                        p12,
		filepath.Join(home, "lib", "security", "cacerts"):                                           p12,
	}
	for p, b := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"ProgramFiles": pf, "ProgramFiles(x86)": pf86, "JAVA_HOME": home}
	oldRoots, oldGetenv := searchRoots, getenv
	t.Cleanup(func() { searchRoots, getenv = oldRoots, oldGetenv })
	searchRoots = []searchRoot{
		{env: "ProgramFiles", globs: installLayouts},
		{env: "ProgramFiles(x86)", globs: installLayouts},
		{env: "JAVA_HOME", globs: homeLayouts, usedBy: "Java (JAVA_HOME)"},
		{env: "UNSET", globs: homeLayouts},
	}
	getenv = func(k string) string { return env[k] }

	sec := func(base ...string) string {
		return filepath.Join(append(base, "lib", "security", "cacerts")...)
	}
	want := []Installed{
		{sec(pf, "Eclipse Adoptium", "jdk-17.0.8.7-hotspot"), JKS, "Java (Eclipse Adoptium jdk-17.0.8.7-hotspot)"},
		{sec(pf, "Java", "jre1.8.0_381"), JKS, "Java (jre1.8.0_381)"},
		{sec(pf, "Microsoft", "jdk-21.0.1.12-hotspot"), PKCS12, "Java (Microsoft jdk-21.0.1.12-hotspot)"},
		{sec(pf, "Java", "jdk1.8.0_381", "jre"), JKS, "Java (jdk1.8.0_381)"},
		{sec(pf86, "Zulu", "zulu-11"), PKCS12, "Java (Zulu zulu-11)"},
		{sec(home), PKCS12, "Java (JAVA_HOME)"},
	}
	if got := Cacerts(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Cacerts() =\n%v\nwant\n%v", got, want)
	}

	// JAVA_HOME naming an installed JDK reports it once.
	env["JAVA_HOME"] = filepath.Join(pf, "Microsoft", "jdk-21.0.1.12-hotspot")
	if got := Cacerts(); !reflect.DeepEqual(got, want[:5]) {
		t.Fatalf("with JAVA_HOME in Program Files: Cacerts() =\n%v\nwant\n%v", got, want[:5])
	}

	// The specs name each file with its format's kind and read back.
	k := stores.Kind{Name: "p12", Location: "FILE"}
	found := Found("p12", PKCS12)
	if len(found) != 2 || found[0].Path != want[2].Path || found[1].Path != want[4].Path {
		t.Fatalf("Found(p12) = %v", found)
	}
	for _, f := range found {
		sp, err := k.ParseSpec(f.Spec)
		if err != nil || sp.Location != f.Path || !f.Exists {
			t.Errorf("%s: ParseSpec = %+v, %v; want location %s", f.Spec, sp, err, f.Path)
		}
	}
	if n := len(Found("jks", JKS)); n != 3 {
		t.Errorf("Found(jks) found %d, want 3", n)
	}
}
