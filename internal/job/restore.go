package job

import (
	"context"
	"fmt"

	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/stores"
)

// Restore is the unit that puts one store back as Backup saved it: its
// files, then its state (stores.Restorer). The store is opened from the spec
// the backup names (Tx.Open, which a restore needs), and the backup may
// restore nothing but that store's paths: a manifest is data to check. Like any change
// it backs the store's current state up first — so a restore can itself be
// undone — and names that backup in the journal, so a restore interrupted
// part-way is rolled back by the next process.
type Restore struct {
	Backup *backup.Backup

	store   stores.Store
	openErr error
	step    *step
}

func (r *Restore) unitName() string { return "restore" }

func (r *Restore) paths() []string {
	var out []string
	for _, it := range r.Backup.Items {
		out = append(out, it.Path)
	}
	return out
}

func (r *Restore) folders(t *Tx) []string {
	if t.Open != nil && r.store == nil && r.openErr == nil {
		r.store, r.openErr = t.Open(r.Backup.Store)
	}
	return lockFolders(r.store, r.paths())
}

func (r *Restore) prepare(ctx context.Context, t *Tx, res *Result) ([]*step, error) {
	res.Restored = &Restored{Store: r.Backup.Store, From: r.Backup.ID}
	b, st := r.Backup, r.store
	switch {
	case r.openErr != nil:
		return nil, fmt.Errorf("backup %s: store %s: %w", b.ID, b.Store, r.openErr)
	case st == nil:
		return nil, fmt.Errorf("backup %s: store %s: no way to open it", b.ID, b.Store)
	}
	// A restore changes nothing outside the store the backup was taken of.
	if err := b.Within(st.Paths()); err != nil {
		return nil, &hintedError{err, "rootsync restores a backup only into the store it was taken of; check who wrote " + b.Dir}
	}
	if t.DryRun {
		return nil, nil
	}
	r.step = &step{
		spec:    b.Store,
		store:   st,
		paths:   r.paths(),
		partial: true,
		apply: func(ctx context.Context) error {
			if err := b.Restore(); err != nil {
				return err
			}
			if err := restoreSaved(ctx, b, st); err != nil {
				return err
			}
			return stores.RestoreState(ctx, st)
		},
	}
	return []*step{r.step}, nil
}

// finish records the backup of the state before the restore.
func (r *Restore) finish(res *Result) {
	if r.step != nil && r.step.backup != nil && res.Restored != nil {
		res.Restored.Undo = r.step.backup.ID
	}
}
