package job

import (
	"context"
	"fmt"
	"time"

	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/stores"
)

// takeBackup backs a store up before it is changed: the files of paths,
// and for a stores.StateSaver (a store that is no files) its saved state.
func takeBackup(ctx context.Context, stateDir, spec string, s stores.Store, paths []string, now time.Time) (*backup.Backup, error) {
	var state []byte
	if ss, ok := s.(stores.StateSaver); ok {
		var err error
		if state, err = ss.SaveState(ctx); err != nil {
			return nil, fmt.Errorf("saving the state of %s: %w", spec, err)
		}
	}
	// Not flushed: journal.Publish flushes it with the journal.
	return backup.TakeUnflushed(stateDir, spec, paths, state, now)
}

// restoreSaved puts back the saved state a backup holds (after its files),
// for a store that is no files.
func restoreSaved(ctx context.Context, b *backup.Backup, s stores.Store) error {
	if b.State == nil {
		return nil
	}
	ss, ok := s.(stores.StateSaver)
	if !ok {
		return fmt.Errorf("backup %s holds a saved state, but %s cannot take one back", b.ID, b.Store)
	}
	return ss.RestoreSavedState(ctx, b.State)
}
