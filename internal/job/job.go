// Package job carries out one synchronisation: it loads every source and
// target, merges the sources, plans every target, and — unless it is a dry
// run — backs each changed target up, applies its plan, and runs its hooks.
// If any target fails (its Apply or a hook), every target the job already
// changed is restored from its backup, so a job changes all of its targets or
// none of them.
//
// Nothing is written before every store has been read and every plan
// computed, and nothing at all when the mass-removal guard refused a plan
// (plan.RefusedError). The package logs only through the logger it is given.
package job

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/internal/plan"
	"github.com/rootsync/rootsync/internal/report"
	"github.com/rootsync/rootsync/stores"
)

// Target is a store to bring in line, with the commands to run after it
// changes.
type Target struct {
	Store stores.Store
	Hooks []Hook
}

// Hook is a command run after its target changed, as an argument list (no
// shell). A failing hook rolls the whole job back.
type Hook struct {
	Argv    []string
	Timeout time.Duration // 0 means one minute
}

// Job is one synchronisation.
type Job struct {
	Name    string
	Sources []stores.Store
	Targets []Target
	Options plan.Options
	DryRun  bool
	// StateDir holds backups; Keep is how many backups of each store to keep
	// (0 keeps all).
	StateDir string
	Keep     int
	Log      *zap.Logger
	// Now gives the time for backups; nil means time.Now.
	Now func() time.Time
	// BeforeApply, when set, is called with each target's backup after it
	// was taken and before the target is changed (for example to record it
	// in a journal that survives a crash). An error stops the job as a
	// failed backup would.
	BeforeApply func(target string, b *backup.Backup) error
}

// ErrFailed is wrapped by the error Run returns when a target failed and the
// job was rolled back.
var ErrFailed = errors.New("sync failed")

// Run carries out the job. The report is returned even when err is set, as
// far as the job got.
func (j *Job) Run(ctx context.Context) (*report.Run, error) {
	log := j.Log
	if log == nil {
		log = zap.NewNop()
	}
	now := time.Now
	if j.Now != nil {
		now = j.Now
	}
	r := &report.Run{Command: "sync", Mode: j.Options.Mode, DryRun: j.DryRun}
	if j.DryRun {
		r.Command = "diff"
	}
	var srcs []plan.Source
	for _, s := range j.Sources {
		set, err := s.Load(ctx)
		if err != nil {
			return r, fmt.Errorf("source %s: %w", s.Spec(), err)
		}
		log.Debug("loaded source", zap.String("store", s.Spec().String()), zap.Int("certificates", set.Len()))
		srcs = append(srcs, plan.Source{Name: s.Spec().String(), Set: set})
		r.Sources = append(r.Sources, report.Source{Store: s.Spec().String(), Certificates: set.Len()})
	}
	var tsets []*stores.Set
	for _, t := range j.Targets {
		set, err := stores.LoadTarget(ctx, t.Store)
		if err != nil {
			return r, fmt.Errorf("target %s: %w", t.Store.Spec(), err)
		}
		tsets = append(tsets, set)
	}
	// A fingerprint prefix must name one certificate among all the stores.
	all := append([]*stores.Set(nil), tsets...)
	for _, s := range srcs {
		all = append(all, s.Set)
	}
	if err := plan.CheckPrefixes(j.Options, all...); err != nil {
		return r, err
	}
	d := plan.Merge(srcs, j.Options)
	r.Warnings = d.Warnings
	for i, t := range j.Targets {
		p := plan.For(t.Store.Spec().String(), d, tsets[i], t.Store.Capabilities(), j.Options)
		log.Debug("planned target", zap.String("store", p.Target), zap.Int("changes", len(p.Changes)),
			zap.Int("unchanged", p.Unchanged), zap.Int("kept", p.Kept))
		r.Targets = append(r.Targets, report.Target{Plan: p})
	}
	if j.DryRun {
		return r, nil
	}
	// The mass-removal guard: a refused plan stops the job before any
	// target is touched.
	var plans []*plan.Plan
	for _, t := range r.Targets {
		plans = append(plans, t.Plan)
	}
	if err := plan.Refusals(plans); err != nil {
		return r, err
	}

	type done struct {
		i      int
		backup *backup.Backup
		hooked bool
	}
	var changed []done
	var failure error
	for i, t := range j.Targets {
		rt := &r.Targets[i]
		if rt.Plan.Empty() {
			continue
		}
		if err := ctx.Err(); err != nil {
			failure = err
			break
		}
		spec := t.Store.Spec().String()
		b, err := backup.Take(j.StateDir, spec, t.Store.Paths(), now())
		if err != nil {
			rt.Err = fmt.Errorf("backup before changing %s: %w", spec, err)
			failure = rt.Err
			break
		}
		rt.Backup = b.Dir
		log.Info("backed up", zap.String("store", spec), zap.String("backup", b.Dir))
		if j.BeforeApply != nil {
			if err := j.BeforeApply(spec, b); err != nil {
				rt.Err = fmt.Errorf("before changing %s: %w", spec, err)
				failure = rt.Err
				break
			}
		}
		if err := t.Store.Apply(ctx, rt.Plan.Changes); err != nil {
			rt.Err = err
			failure = fmt.Errorf("%s: %w", spec, err)
			// Apply promises to leave the store as it was; the backup stays
			// for inspection but there is nothing to restore.
			break
		}
		changed = append(changed, done{i: i, backup: b})
		rt.Applied = true
		log.Info("applied", zap.String("store", spec), zap.Int("changes", len(rt.Plan.Changes)))
		changed[len(changed)-1].hooked = len(t.Hooks) > 0
		if err := runHooks(ctx, t.Hooks, log); err != nil {
			rt.Err = err
			failure = fmt.Errorf("%s: %w", spec, err)
			break
		}
	}
	if failure == nil {
		if j.Keep > 0 {
			if err := backup.Prune(j.StateDir, j.Keep); err != nil {
				log.Warn("pruning old backups", zap.Error(err))
			}
		}
		return r, nil
	}
	var rbErrs []error
	for k := len(changed) - 1; k >= 0; k-- {
		c := changed[k]
		rt := &r.Targets[c.i]
		if err := c.backup.Restore(); err != nil {
			rbErrs = append(rbErrs, fmt.Errorf("rolling back %s from %s: %w", rt.Plan.Target, c.backup.Dir, err))
			continue
		}
		rt.Applied, rt.RolledBack = false, true
		log.Warn("rolled back", zap.String("store", rt.Plan.Target), zap.String("backup", c.backup.Dir))
		if c.hooked {
			// Let services pick up the restored state again.
			if err := runHooks(ctx, j.Targets[c.i].Hooks, log); err != nil {
				rbErrs = append(rbErrs, fmt.Errorf("hooks of %s after rollback: %w", rt.Plan.Target, err))
			}
		}
	}
	if len(rbErrs) > 0 {
		return r, fmt.Errorf("%w: %v; rollback incomplete: %w", ErrFailed, failure, errors.Join(rbErrs...))
	}
	return r, fmt.Errorf("%w: %w", ErrFailed, failure)
}

// HookError is a hook that failed, with what it printed.
type HookError struct {
	Argv   []string
	Err    error
	Output string
}

func (e *HookError) Error() string {
	out := strings.TrimSpace(e.Output)
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	if out != "" {
		out = ": " + out
	}
	return fmt.Sprintf("hook %q failed: %v%s", strings.Join(e.Argv, " "), e.Err, out)
}

func (e *HookError) Unwrap() error { return e.Err }

func runHooks(ctx context.Context, hooks []Hook, log *zap.Logger) error {
	for _, h := range hooks {
		if len(h.Argv) == 0 {
			continue
		}
		to := h.Timeout
		if to == 0 {
			to = time.Minute
		}
		hctx, cancel := context.WithTimeout(ctx, to)
		cmd := exec.CommandContext(hctx, h.Argv[0], h.Argv[1:]...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		log.Info("hook", zap.Strings("argv", h.Argv), zap.Bool("ok", err == nil))
		if err != nil {
			return &HookError{Argv: h.Argv, Err: err, Output: out.String()}
		}
	}
	return nil
}
