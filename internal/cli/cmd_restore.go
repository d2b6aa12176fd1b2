package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/internal/lock"
	"github.com/rootsync/rootsync/stores"
)

type restoreOptions struct {
	commonOptions
	lockWait time.Duration
}

func (o *restoreOptions) AddFlags(fs *pflag.FlagSet) {
	o.commonOptions.AddFlags(fs)
	fs.DurationVar(&o.lockWait, "lock-wait", 30*time.Second, "how long to wait for another rootsync run to finish")
}

// storePaths opens the store spec names (without reading it) and returns
// its paths.
func storePaths(spec string, oo stores.OpenOptions) ([]string, error) {
	specs, err := parseSpecs([]string{spec})
	if err != nil {
		return nil, err
	}
	sts, err := openAll(specs, oo)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, st := range sts {
		paths = append(paths, st.Paths()...)
	}
	return paths, nil
}

// runRestore lists backups, or restores one. Restoring first backs up the
// current state, so a restore can itself be undone.
func runRestore(ctx context.Context, e *env, args []string) error {
	var o restoreOptions
	fs := pflag.NewFlagSet("restore", pflag.ContinueOnError)
	o.AddFlags(fs)
	fs.Usage = func() {
		e.stderr.Write([]byte("usage: rootsync restore [BACKUP] [flags]\n  without BACKUP: list backups, newest first\n"))
		fs.PrintDefaults()
	}
	if err := parse(fs, args, e.stderr); err != nil {
		return err
	}
	if err := o.setup(e); err != nil {
		return err
	}
	switch fs.NArg() {
	case 0:
		all, err := backup.List(o.stateDir)
		if err != nil {
			return err
		}
		if len(all) == 0 {
			fmt.Fprintf(e.stdout, "no backups under %s\n", o.stateDir)
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "BACKUP\tCREATED\tSTORE")
		for _, b := range all {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", b.ID, b.Created.Local().Format(time.DateTime), b.Store)
		}
		return tw.Flush()
	case 1:
	default:
		return usagef("restore takes one backup name")
	}
	b, err := backup.Find(o.stateDir, fs.Arg(0))
	if err != nil {
		return &hinted{err, "run 'rootsync restore' without arguments to list backups"}
	}
	l, err := lock.Acquire(ctx, o.stateDir, o.lockWait)
	if err != nil {
		return err
	}
	defer l.Unlock()
	// The manifest is data: restore only the paths of the store it names.
	paths, err := storePaths(b.Store, o.openOptions())
	if err != nil {
		return fmt.Errorf("backup %s: store %s: %w", b.ID, b.Store, err)
	}
	if err := b.Within(paths); err != nil {
		return &hinted{err, "rootsync restores a backup only into the store it was taken of; check who wrote " + b.Dir}
	}
	undo, err := backup.Take(o.stateDir, b.Store, paths, e.now())
	if err != nil {
		return fmt.Errorf("backing up the current state first: %w", err)
	}
	if err := b.Restore(); err != nil {
		if rerr := undo.Restore(); rerr != nil {
			return fmt.Errorf("%w; putting back the state before the restore also failed: %v (it is saved in %s)", err, rerr, undo.Dir)
		}
		return fmt.Errorf("%w; the store was left as it was", err)
	}
	fmt.Fprintf(e.stdout, "restored %s from %s\nthe state before the restore is saved as %s\n", b.Store, b.ID, undo.ID)
	return nil
}
