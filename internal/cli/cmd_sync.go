package cli

import (
	"context"
	"time"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/internal/job"
	"github.com/rootsync/rootsync/internal/plan"
	"github.com/rootsync/rootsync/internal/report"
	"github.com/rootsync/rootsync/stores"
)

// syncOptions are the flags of diff and sync.
type syncOptions struct {
	commonOptions
	dryRun         bool
	mode           string
	purposes       []string
	origin         string
	exclude        []string
	only           []string
	includeExpired bool
	includeNonCA   bool
	maxRemovals    int
	lockWait       time.Duration
	keepBackups    int
}

func (o *syncOptions) AddFlags(fs *pflag.FlagSet, sync bool) {
	o.commonOptions.AddFlags(fs)
	// --to is taken out of the arguments before parsing (splitTo); it is
	// declared for help texts.
	fs.String("to", "", "target store (repeatable; several may follow one --to)")
	fs.StringVar(&o.mode, "mode", "add", "add (never removes), prune (also removes what rootsync added and the sources dropped), or mirror (targets become exactly the sources, after a backup)")
	fs.StringSliceVar(&o.purposes, "purpose", nil, "only trust for these purposes: server-auth, client-auth, email, code-signing (repeat or comma-separate)")
	fs.StringVar(&o.origin, "origin", "", "only roots of this origin: local (added by the organisation), public (the distribution's packaged roots) or all (default: local for client-auth into pem and capath targets and for nss targets, else all)")
	fs.StringArrayVar(&o.exclude, "exclude", nil, "leave out the certificate whose SHA-256 fingerprint starts with this hex (repeatable)")
	fs.StringArrayVar(&o.only, "only", nil, "consider only the certificate whose SHA-256 fingerprint starts with this hex (repeatable); others are left alone")
	fs.BoolVar(&o.includeExpired, "include-expired", false, "keep expired certificates")
	fs.BoolVar(&o.includeNonCA, "include-non-ca", false, "keep certificates that are not CA certificates, or whose CA status cannot be determined")
	fs.IntVar(&o.maxRemovals, "max-removals", 0, "allow prune and mirror to remove up to this many certificates per target even when that is more than half of it or all of it (default: refuse such a target)")
	if sync {
		fs.BoolVarP(&o.dryRun, "dry-run", "n", false, "print the plan, change nothing, exit 3 if there are differences")
		fs.DurationVar(&o.lockWait, "lock-wait", 30*time.Second, "how long to wait for another rootsync run to finish")
		fs.IntVar(&o.keepBackups, "keep-backups", 10, "backups kept per store (0 keeps all)")
	}
}

func (o *syncOptions) planOptions(now time.Time) (plan.Options, error) {
	m, err := plan.ParseMode(o.mode)
	if err != nil {
		return plan.Options{}, usagef("--mode: %v", err)
	}
	if o.maxRemovals < 0 {
		return plan.Options{}, usagef("--max-removals %d: want a whole number, 0 or more", o.maxRemovals)
	}
	opts := plan.Options{Mode: m, Exclude: o.exclude, Only: o.only, Now: now, IncludeExpired: o.includeExpired,
		IncludeNonCA: o.includeNonCA, MaxRemovals: o.maxRemovals}
	if o.origin != "" {
		if opts.Origin, err = plan.ParseOrigin(o.origin); err != nil {
			return plan.Options{}, usagef("--origin: %v", err)
		}
	}
	for _, p := range o.purposes {
		pp, err := stores.ParsePurpose(p)
		if err != nil {
			return plan.Options{}, usagef("--purpose: %v", err)
		}
		opts.Purposes = append(opts.Purposes, pp)
	}
	for _, f := range []struct {
		flag     string
		prefixes []string
	}{{"--exclude", o.exclude}, {"--only", o.only}} {
		for _, x := range f.prefixes {
			if err := plan.CheckPrefix(x); err != nil {
				return plan.Options{}, usagef("%s %q: %v", f.flag, x, err)
			}
		}
	}
	if o.keepBackups < 0 {
		return plan.Options{}, usagef("--keep-backups %d: want a whole number, 0 or more (0 keeps all)", o.keepBackups)
	}
	return opts, nil
}

func runDiff(ctx context.Context, e *env, args []string) error {
	return runPlan(ctx, e, "diff", args)
}

func runSync(ctx context.Context, e *env, args []string) error {
	return runPlan(ctx, e, "sync", args)
}

func runPlan(ctx context.Context, e *env, name string, args []string) error {
	var o syncOptions
	rest, targets := splitTo(args)
	fs, err := parseCommand(e, name, "rootsync "+name+" SOURCE... --to TARGET... [flags]", true,
		func(fs *pflag.FlagSet) { o.AddFlags(fs, name == "sync") }, &o.commonOptions, rest)
	if err != nil {
		return err
	}
	if name == "diff" {
		o.dryRun = true
	}
	if fs.NArg() == 0 || len(targets) == 0 {
		return usagef("%s needs at least one source and one target: rootsync %s SOURCE... --to TARGET...", name, name)
	}
	popts, err := o.planOptions(e.now())
	if err != nil {
		return err
	}
	srcSpecs, err := parseSpecs(fs.Args())
	if err != nil {
		return err
	}
	tgtSpecs, err := parseSpecs(targets)
	if err != nil {
		return err
	}
	if err := loadPublic(ctx, &popts, append(srcSpecs, tgtSpecs...), tgtSpecs); err != nil {
		return err
	}
	srcs, err := openAll(srcSpecs, o.openOptions())
	if err != nil {
		return err
	}
	tgts, err := openAll(tgtSpecs, o.openOptions())
	if err != nil {
		return err
	}
	j := &job.Job{Name: "sync", Sources: srcs, Options: popts}
	for _, t := range tgts {
		j.Targets = append(j.Targets, job.Target{Store: t})
	}
	tx := o.tx(e, o.lockWait, o.keepBackups, o.dryRun, o.secretEnv(append(srcSpecs, tgtSpecs...)))
	su := &serverUses{}
	defer su.wait()
	tx.Changing = su.start
	out, err := tx.Do(ctx, j)
	reportRecovery(e.stderr, out)
	if err != nil {
		return err
	}
	res := out.Results[0]
	noteReloads(res.Run, j, su)
	return finishRun(e, o.output, o.dryRun, res, len(tgts), "target", "targets and services")
}

func render(e *env, output string, r *report.Run) error {
	if output == "json" {
		return report.JSON(e.stdout, r)
	}
	return report.Text(e.stdout, r, e.style())
}
