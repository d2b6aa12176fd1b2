package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/internal/storekinds"
)

type discoverOptions struct {
	commonOptions
}

func (o *discoverOptions) AddFlags(fs *pflag.FlagSet) { o.commonOptions.AddFlags(fs) }

// runDiscover lists the trust stores of this user and host that rootsync knows
// where to find, with the spec that names each: what each store kind's
// Discover reports, in the registry's order.
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
	home, err := os.UserHomeDir()
	if err != nil {
		return err
	}
	var all []found
	for _, k := range storekinds.Registry().Kinds() {
		if k.Discover == nil {
			continue
		}
		for _, f := range k.Discover(home) {
			all = append(all, found{Spec: f.Spec, Kind: k.Name, Who: f.UsedBy, Path: f.Path, Exists: f.Exists})
		}
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
