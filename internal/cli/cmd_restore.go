package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/internal/job"
	"github.com/rootsync/rootsync/internal/report"
)

type restoreOptions struct {
	commonOptions
	lockWait time.Duration
}

func (o *restoreOptions) AddFlags(fs *pflag.FlagSet) {
	o.commonOptions.AddFlags(fs)
	fs.DurationVar(&o.lockWait, "lock-wait", 30*time.Second, "how long to wait for another rootsync run to finish")
}

// runRestore lists backups, or restores one. Restoring first backs up the
// current state, so a restore can itself be undone.
func runRestore(ctx context.Context, e *env, args []string) error {
	var o restoreOptions
	fs, err := parseCommand(e, "restore", "rootsync restore [BACKUP] [flags]\n  without BACKUP: list backups, newest first", false, o.AddFlags, &o.commonOptions, args)
	if err != nil {
		return err
	}
	switch fs.NArg() {
	case 0:
		all, err := backup.List(o.stateDir)
		if err != nil {
			return err
		}
		bs := report.Backups{StateDir: o.stateDir}
		for _, b := range all {
			bs.Backups = append(bs.Backups, report.Backup{ID: b.ID, Created: b.Created, Store: b.Store, Dir: b.Dir})
		}
		if o.output == "json" {
			return report.BackupsJSON(e.stdout, bs)
		}
		return report.BackupsText(e.stdout, bs)
	case 1:
	default:
		return usagef("restore takes one backup name")
	}
	b, err := backup.Find(o.stateDir, fs.Arg(0))
	if err != nil {
		return &hinted{err, "run 'rootsync restore' without arguments to list backups"}
	}
	// Keep 0: pruning must not remove the backup being restored.
	tx := o.tx(e, o.lockWait, 0, false, o.secretEnv(nil))
	out, err := tx.Do(ctx, &job.Restore{Backup: b})
	reportRecovery(e.stderr, out)
	if err != nil {
		return err
	}
	res := out.Results[0]
	if res.Err != nil {
		err := res.Err
		if res.JournalKept != nil {
			return &hinted{fmt.Errorf("%w; %v", err, res.JournalKept), "the next sync, run or restore rolls the store back to its state before this restore"}
		}
		return fmt.Errorf("%w; the store was left as it was", err)
	}
	rs := res.Restored
	done := report.Restored{Store: rs.Store, From: rs.From, Undo: rs.Undo}
	if o.output == "json" {
		return report.RestoredJSON(e.stdout, done)
	}
	return report.RestoredText(e.stdout, done)
}
