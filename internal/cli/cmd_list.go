package cli

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/internal/report"
)

type listOptions struct {
	commonOptions
}

func (o *listOptions) AddFlags(fs *pflag.FlagSet) { o.commonOptions.AddFlags(fs) }

func runList(ctx context.Context, e *env, args []string) error {
	var o listOptions
	fs, err := parseCommand(e, "list", "rootsync list STORE... [flags]", true, o.AddFlags, &o.commonOptions, args)
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("list needs at least one store, e.g. rootsync list pem:/etc/ssl/certs/ca-certificates.crt")
	}
	specs, err := parseSpecs(fs.Args())
	if err != nil {
		return err
	}
	sts, err := openAll(specs, o.openOptions())
	if err != nil {
		return err
	}
	warnIfPending(e.stderr, o.stateDir)
	var ls []report.Listing
	for _, st := range sts {
		set, err := st.Load(ctx)
		if err != nil {
			return fmt.Errorf("store %s: %w", st.Spec(), err)
		}
		l := report.Listing{Store: st.Spec().String(), Set: set, Flags: trustNotation(st), Now: e.now()}
		if n, ok := st.(interface{ Notes() []string }); ok {
			l.Notes = n.Notes()
		}
		ls = append(ls, l)
	}
	if o.output == "json" {
		return report.ListJSON(e.stdout, ls)
	}
	return report.ListText(e.stdout, ls)
}
