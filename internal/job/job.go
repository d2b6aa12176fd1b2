// Package job is rootsync's transaction: every command that writes stores
// (sync, run, restore, remove, distrust) goes through Tx.Do, which
//
//   - takes the state folder's lock (one writing rootsync per state folder),
//   - rolls back first what an interrupted transaction left half-done (the
//     crash journal in the state folder names each store it was changing and
//     the backup of that store's state before),
//   - takes a lock on the folder of every store it will write, so that
//     rootsync processes with different state folders take turns on a store,
//   - then carries out each unit of work: a Job loads every source and
//     target, merges the sources and plans every target (nothing is written
//     before every store was read and every plan computed, and nothing at
//     all when the mass-removal guard refused a plan: plan.RefusedError),
//     a Restore puts a store back from a backup, and an Edit removes or
//     distrusts named certificates in named stores (rootsync remove and
//     distrust; it reads and plans every store before it writes any). Each store a unit changes is backed up
//     and named in the journal before it changes; its hooks run after it
//     changed. If any store of a unit fails (its Apply or a hook), every
//     store the unit already changed is put back from its backup, its state
//     restored (stores.Restorer) and its hooks run again, so a unit changes
//     all of its stores or none of them, also across a crash.
//
// A dry run only loads and plans, and reports an interrupted transaction
// waiting for recovery instead of recovering it. The package prints nothing;
// it logs only through the logger it is given.
package job

import (
	"context"
	"fmt"

	"go.uber.org/zap"

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

// Job is one synchronisation: the unit that sync and each job of run carry
// out.
type Job struct {
	Name    string
	Sources []stores.Store
	Targets []Target
	Options plan.Options
}

func (j *Job) unitName() string { return j.Name }

func (j *Job) folders(*Tx) []string { return targetFolders(j.Targets) }

func (j *Job) prepare(ctx context.Context, t *Tx, res *Result) ([]*step, error) {
	return prepareTargets(ctx, t, res, j.Name, j.Targets, j.plan)
}

// targetFolders is the folders a unit that writes targets locks.
func targetFolders(targets []Target) []string {
	var out []string
	for _, t := range targets {
		out = append(out, lockFolders(t.Store, nil)...)
	}
	return out
}

// prepareTargets plans a unit that writes targets (plan is its own phase:
// Job's merges sources, Edit's resolves fingerprints) and, unless this is a
// dry run, returns a step per target with changes.
func prepareTargets(ctx context.Context, t *Tx, res *Result, name string, targets []Target,
	plan func(context.Context, bool, *zap.Logger) (*report.Run, error)) ([]*step, error) {
	r, err := plan(ctx, t.DryRun, t.log().With(zap.String("job", name)))
	res.Run = r
	if err != nil || t.DryRun {
		return nil, err
	}
	return targetSteps(targets, r), nil
}

// plan loads every store and plans every target.
func (j *Job) plan(ctx context.Context, dryRun bool, log *zap.Logger) (*report.Run, error) {
	r := &report.Run{Command: "sync", Mode: j.Options.Mode, DryRun: dryRun}
	if dryRun {
		r.Command = "diff"
	}
	var srcs []plan.Source
	for _, s := range j.Sources {
		set, err := s.Load(ctx)
		if err != nil {
			return r, fmt.Errorf("source %s: %w", s.Spec(), err)
		}
		log.Debug("loaded source", zap.String("store", s.Spec().String()), zap.Int("certificates", set.Len()))
		srcs = append(srcs, plan.Source{Name: s.Spec().String(), Set: set, PerPurpose: s.Capabilities().PerPurpose})
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
			zap.Int("unchanged", p.Unchanged), zap.Int("kept", p.Kept),
			zap.Strings("what", report.Changes(p, 8)))
		r.Targets = append(r.Targets, report.Target{Plan: p})
	}
	if dryRun {
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
	return r, nil
}

// targetSteps turns the planned targets (r.Targets[i] is targets[i]'s)
// that have changes into steps.
func targetSteps(targets []Target, r *report.Run) []*step {
	var out []*step
	for i, t := range targets {
		rt := &r.Targets[i]
		if rt.Plan.Empty() {
			continue
		}
		st := t.Store
		changes := rt.Plan.Changes
		s := &step{
			spec:   st.Spec().String(),
			store:  st,
			paths:  st.Paths(),
			hooks:  t.Hooks,
			apply:  func(ctx context.Context) error { return st.Apply(ctx, changes) },
			report: rt,
		}
		if sg, ok := st.(stores.Stager); ok {
			s.stage = func(ctx context.Context) (stores.Staged, error) { return sg.Stage(ctx, changes) }
		}
		out = append(out, s)
	}
	return out
}
