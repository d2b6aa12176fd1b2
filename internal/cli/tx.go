package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/rootsync/rootsync/internal/job"
	"github.com/rootsync/rootsync/internal/report"
	"github.com/rootsync/rootsync/internal/storekinds"
	"github.com/rootsync/rootsync/stores"
)

// tx is the transaction a writing command hands its work to.
func (o *commonOptions) tx(e *env, lockWait time.Duration, keep int, dryRun bool, secretEnv []string) *job.Tx {
	oo := o.openOptions()
	return &job.Tx{
		StateDir: o.stateDir, LockWait: lockWait, Keep: keep, DryRun: dryRun,
		Log: e.log, Now: e.now, Abort: e.abort,
		HideEnv: secretEnv,
		Open: func(spec string) (stores.Store, error) {
			sp, err := storekinds.Registry().ParseSpec(spec)
			if err != nil {
				return nil, err
			}
			sts, err := openStore(sp, oo)
			if err != nil {
				return nil, err
			}
			if len(sts) != 1 {
				return nil, fmt.Errorf("store %s: names %d stores, want one", spec, len(sts))
			}
			return sts[0], nil
		},
	}
}

// secretEnv lists the environment variables rootsync reads passwords from:
// --password-env, each spec's ?password-env= and those of the configuration
// file, and CREDENTIALS_DIRECTORY when a password is a systemd credential.
// Hooks do not get them.
func (o *commonOptions) secretEnv(specs []stores.Spec, secrets ...stores.Secret) []string {
	seen := map[string]bool{}
	add := func(name string) {
		if name != "" {
			seen[name] = true
		}
	}
	add(o.passwordEnv)
	for _, s := range specs {
		add(s.Option("password-env"))
		if s.Option("password-credential") != "" {
			add(stores.CredentialsDirEnv)
		}
	}
	for _, s := range secrets {
		add(s.Env)
		if s.Credential != "" {
			add(stores.CredentialsDirEnv)
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// reportRecovery says on stderr what the transaction rolled back first, left
// half-done by an interrupted run, or, in a dry run, what waits for that.
func reportRecovery(w io.Writer, out *job.Outcome) {
	if out == nil {
		return
	}
	if out.Pending != nil || out.PendingErr != nil {
		warnPending(w, out.Pending, out.PendingErr)
	}
	r := out.Recovered
	if r == nil {
		return
	}
	for _, t := range r.Record.Targets {
		notice(w, "job %q: rolled back %s, left half-done by an interrupted run (process %d, started %s), from %s",
			r.Record.Job, t.Store, r.Record.PID, r.Record.Started.Local().Format(time.DateTime), t.Backup)
	}
	for _, n := range r.Notes {
		notice(w, "warning: %s", n)
	}
}

// warnPending warns that an interrupted run waits to be rolled back.
func warnPending(w io.Writer, r *job.Record, err error) {
	if err != nil {
		notice(w, "warning: %v", err)
		return
	}
	if r == nil {
		return
	}
	notice(w, "warning: job %q was interrupted (process %d, started %s) and left %s half-done; the next sync, run or restore rolls it back first",
		r.Job, r.PID, r.Started.Local().Format(time.DateTime), plural(len(r.Targets), "target", "targets"))
}

// warnIfPending warns, for commands that only read stores, while an
// interrupted run waits to be rolled back.
func warnIfPending(w io.Writer, stateDir string) {
	r, err := job.Pending(stateDir)
	warnPending(w, r, err)
}

// finishRun reports the one result of a command that changes stores (sync,
// diff, trust, distrust, remove): it renders the run when it succeeded or
// has every target, and returns the run's error with a hint that says what
// was rolled back (noun names what the command changes; check, what to check
// when a rollback failed), or errDrift for a dry run that would change
// something.
func finishRun(e *env, output string, dryRun bool, res *job.Result, targets int, noun, check string) error {
	r, runErr := res.Run, res.Err
	if res.JournalKept != nil && runErr != nil {
		runErr = fmt.Errorf("%w; %v", runErr, res.JournalKept)
	}
	if r != nil && (runErr == nil || len(r.Targets) == targets) {
		if err := render(e, output, r); err != nil {
			return err
		}
	}
	if runErr != nil {
		if errors.Is(runErr, job.ErrFailed) {
			h := "no " + noun + " was left half-changed: those this run had changed were restored (the backups named above keep the state before the run)"
			if rollbackFailed(r) {
				h = "the rollback did not complete: check the " + check + " named above; 'rootsync restore' lists the backups"
			}
			if sh := stores.HintOf(runErr); sh != "" {
				h = sh + "\n" + h
			}
			return &hinted{runErr, h}
		}
		return runErr
	}
	if dryRun && r.Changed() {
		return errDrift
	}
	return nil
}

// rollbackFailed reports whether a target's rollback (or its hooks after it)
// failed.
func rollbackFailed(r *report.Run) bool {
	if r == nil {
		return false
	}
	for _, t := range r.Targets {
		if t.RollbackErr != nil {
			return true
		}
	}
	return false
}
