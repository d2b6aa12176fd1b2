package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version overrides the module version that the build information gives; a
// release build sets it with -ldflags "-X github.com/rootsync/rootsync/internal/cli.Version=1.2.3".
var Version = ""

// versionLine is what --version prints: the version, the VCS revision and
// time the binary was built from (with "+modified" for an unclean tree), and
// the Go version.
func versionLine() string {
	v, rev, when, modified := Version, "", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	line := "rootsync " + v
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if modified {
			rev += "+modified"
		}
		line += fmt.Sprintf(" (revision %s", rev)
		if when != "" {
			line += ", " + when
		}
		line += ")"
	}
	return line + " " + runtime.Version()
}
