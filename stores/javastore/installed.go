package javastore

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// Installed is the truststore of an installed JDK or JRE that Cacerts found.
type Installed struct {
	// Path is the cacerts file.
	Path string
	// Format is its format, told from its first bytes: JKS or PKCS12
	// (the JDK's own cacerts since JDK 18).
	Format Format
	// UsedBy names the Java installation for people:
	// "Java (Eclipse Adoptium jdk-17.0.8.7-hotspot)".
	UsedBy string
}

// searchRoot is a folder under which Cacerts looks for truststores.
type searchRoot struct {
	// env names the environment variable that holds the folder.
	env string
	// globs are the patterns, beneath the folder and in slash form, of
	// the truststores; "*/*/lib/security/cacerts" matches VENDOR/JDK/...
	globs []string
	// usedBy is the name given to what a pattern finds: "" names the
	// two folders the first two "*" matched.
	usedBy string
}

// installLayouts are the places of cacerts beneath a folder that holds
// vendors' folders of JDKs (C:\Program Files): Java\jdk-21 (Oracle),
// Eclipse Adoptium\jdk-17.0.8.7-hotspot, Microsoft\jdk-21.0.1.12-hotspot,
// Zulu\zulu-17, Amazon Corretto\jdk17.0.8_7, and a JDK 8's jre folder.
var installLayouts = []string{"*/*/lib/security/cacerts", "*/*/jre/lib/security/cacerts"}

// homeLayouts are the places of cacerts beneath one JDK's folder.
var homeLayouts = []string{"lib/security/cacerts", "jre/lib/security/cacerts"}

// getenv reads an environment variable; tests may replace it.
var getenv = os.Getenv

// Cacerts lists the truststores of the installed JDKs and JREs it knows
// where to find (on Windows: under %ProgramFiles%, %ProgramFiles(x86)% and
// %JAVA_HOME%; elsewhere none, see searchRoots), each once, in the order of
// searchRoots, then of their patterns and paths. A file that is neither JKS nor
// PKCS#12, or that cannot be read, is left out.
func Cacerts() []Installed {
	var out []Installed
	var seen []os.FileInfo
	for _, r := range searchRoots {
		dir := getenv(r.env)
		if dir == "" {
			continue
		}
		for _, g := range r.globs {
			matches, _ := filepath.Glob(filepath.Join(dir, filepath.FromSlash(g)))
			for _, m := range matches {
				fi, err := os.Stat(m)
				if err != nil || !fi.Mode().IsRegular() || sameAsAny(fi, seen) {
					continue
				}
				f := detectFile(m)
				if f != JKS && f != PKCS12 {
					continue
				}
				seen = append(seen, fi)
				out = append(out, Installed{Path: m, Format: f, UsedBy: usedBy(r, dir, m)})
			}
		}
	}
	return out
}

func sameAsAny(fi os.FileInfo, seen []os.FileInfo) bool {
	for _, s := range seen {
		if os.SameFile(fi, s) {
			return true
		}
	}
	return false
}

// detectFile reads the first bytes of path and tells its format.
func detectFile(path string) Format {
	f, err := os.Open(path)
	if err != nil {
		return Unknown
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	return Detect(head[:n])
}

// usedBy names the installation a truststore found under r belongs to.
func usedBy(r searchRoot, dir, path string) string {
	if r.usedBy != "" {
		return r.usedBy
	}
	rel, err := filepath.Rel(dir, path)
	if err != nil {
		return "Java"
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	if len(parts) < 2 {
		return "Java"
	}
	if parts[0] == "Java" {
		return "Java (" + parts[1] + ")"
	}
	return "Java (" + parts[0] + " " + parts[1] + ")"
}

// Found lists the truststores of format that Cacerts finds as stores of
// kind ("jks" or "p12"), for a kind's Discover.
func Found(kind string, format Format) []stores.Found {
	var out []stores.Found
	for _, c := range Cacerts() {
		if c.Format == format {
			out = append(out, stores.Found{Spec: stores.Spec{Kind: kind, Location: c.Path}.String(), UsedBy: c.UsedBy, Path: c.Path, Exists: true})
		}
	}
	return out
}
