package cli

import (
	"context"
	"os"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/internal/report"
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
	home, err := os.UserHomeDir()
	if err != nil {
		return err
	}
	var all []report.Found
	for _, k := range storekinds.Registry().Kinds() {
		if k.Discover == nil {
			continue
		}
		for _, f := range k.Discover(home) {
			all = append(all, report.Found{Spec: f.Spec, Kind: k.Name, UsedBy: f.UsedBy, Path: f.Path, Exists: f.Exists})
		}
	}
	if o.output == "json" {
		return report.DiscoverJSON(e.stdout, all)
	}
	return report.DiscoverText(e.stdout, all)
}
