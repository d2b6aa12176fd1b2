package stores

import "context"

// Restorer is a Store whose meaning is more than its files. After the files
// and folders of Paths were put back from a backup (a rollback, a restore, a
// crash recovery), RestoreState brings everything else the store means back
// in line with them: the system store re-runs its distribution's tool, so
// that the generated bundle no longer holds the roots the rolled-back change
// added. RestoreState must be safe to call again (a crash during it is
// followed by another call).
type Restorer interface {
	RestoreState(ctx context.Context) error
}

// RestoreState calls s.RestoreState when s is a Restorer, and does nothing
// otherwise (the store is its files).
func RestoreState(ctx context.Context, s Store) error {
	if r, ok := s.(Restorer); ok {
		return r.RestoreState(ctx)
	}
	return nil
}

// FolderLocker is a Store that says which folders a writer must hold an
// exclusive lock on while it reads, plans and writes the store, so that two
// writers never lose each other's changes. A store that returns no folder
// relies on a lock of its own (NSS databases rely on SQLite's locking, which
// browsers share). A store that is no FolderLocker is locked through the
// folders of its Paths: a folder itself, or the folder holding a file.
type FolderLocker interface {
	LockFolders() []string
}
