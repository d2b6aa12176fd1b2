package job

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/rootsync/rootsync/internal/plan"
	"github.com/rootsync/rootsync/internal/report"
)

// Edit is the unit of rootsync remove and distrust: it takes the
// certificates that Fingerprints name out of every target, or distrusts
// them there (see plan.Remove and plan.Distrust). Every target is read
// before any is written, each fingerprint prefix must name exactly one
// certificate among them (plan.Resolve), and the targets change all or
// none, as a Job's do.
type Edit struct {
	// Name is the command: "remove" or "distrust".
	Name string
	// Distrust: distrust rather than remove.
	Distrust bool
	// Fingerprints are SHA-256 fingerprint prefixes (8 hex digits or more).
	Fingerprints []string
	Targets      []Target
}

func (u *Edit) unitName() string { return u.Name }

func (u *Edit) folders(*Tx) []string { return targetFolders(u.Targets) }

func (u *Edit) prepare(ctx context.Context, t *Tx, res *Result) ([]*step, error) {
	return prepareTargets(ctx, t, res, u.Name, u.Targets, u.plan)
}

// plan reads every target (one that does not exist is an error: a typo
// must not read as a store without the certificate), resolves the
// fingerprints among them and plans each.
func (u *Edit) plan(ctx context.Context, dryRun bool, log *zap.Logger) (*report.Run, error) {
	r := &report.Run{Command: u.Name, DryRun: dryRun}
	var sets []plan.NamedSet
	for _, t := range u.Targets {
		set, err := t.Store.Load(ctx)
		if err != nil {
			return r, fmt.Errorf("store %s: %w", t.Store.Spec(), err)
		}
		log.Debug("loaded store", zap.String("store", t.Store.Spec().String()), zap.Int("certificates", set.Len()))
		sets = append(sets, plan.NamedSet{Store: t.Store.Spec().String(), Set: set})
	}
	certs, err := plan.Resolve(u.Fingerprints, sets)
	if err != nil {
		return r, err
	}
	for i, t := range u.Targets {
		var p *plan.Plan
		if u.Distrust {
			p = plan.Distrust(sets[i].Store, sets[i].Set, t.Store.Capabilities(), certs)
		} else {
			p = plan.Remove(sets[i].Store, sets[i].Set, certs)
		}
		log.Debug("planned store", zap.String("store", p.Target), zap.Int("changes", len(p.Changes)),
			zap.Strings("what", report.Changes(p, 8)))
		r.Targets = append(r.Targets, report.Target{Plan: p})
	}
	return r, nil
}

var _ Unit = (*Edit)(nil)
