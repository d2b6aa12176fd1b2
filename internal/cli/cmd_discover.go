package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/stores/nss"
)

type discoverOptions struct {
	commonOptions
}

func (o *discoverOptions) AddFlags(fs *pflag.FlagSet) { o.commonOptions.AddFlags(fs) }

// runDiscover lists the trust stores of this user and host that rootsync knows
// where to find, with the spec that names each.
func runDiscover(ctx context.Context, e *env, args []string) error {
	var o discoverOptions
	fs := pflag.NewFlagSet("discover", pflag.ContinueOnError)
	o.AddFlags(fs)
	fs.Usage = func() {
		e.stderr.Write([]byte("usage: rootsync discover [flags]\n"))
		fs.PrintDefaults()
	}
	if err := parse(fs, args, e.stderr); err != nil {
		return err
	}
	if err := o.setup(e); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("discover takes no arguments")
	}
	type found struct {
		Spec   string `json:"spec"`
		Kind   string `json:"kind"`
		Who    string `json:"used_by"`
		Path   string `json:"path"`
		Exists bool   `json:"exists"`
	}
	var all []found
	locs, err := nss.DiscoverUser()
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, l := range locs {
		// A shorthand names one database; the others of that browser are
		// named by their folder.
		spec := "nss:" + l.Name
		if seen[l.Name] {
			spec = "nss:" + l.Path
		}
		seen[l.Name] = true
		all = append(all, found{Spec: spec, Kind: "nss", Who: l.Browser, Path: l.Path, Exists: l.Exists})
	}
	for _, f := range []found{
		{Spec: "system", Kind: "system", Who: "the distribution (OpenSSL, Go, curl, ...)", Path: "/"},
		{Spec: "jks:/etc/ssl/certs/java/cacerts", Kind: "jks", Who: "Java (Debian)", Path: "/etc/ssl/certs/java/cacerts"},
	} {
		_, err := os.Stat(f.Path)
		f.Exists = err == nil
		all = append(all, f)
	}
	if o.output == "json" {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Schema string  `json:"schema"`
			Stores []found `json:"stores"`
		}{"rootsync.discover/v1", all})
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SPEC\tUSED BY\tSTATE\tPATH")
	for _, f := range all {
		state := "exists"
		if !f.Exists {
			state = "not created yet"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Spec, f.Who, state, f.Path)
	}
	return tw.Flush()
}
