package stores

import "context"

// StateSaver is a Store whose contents are not files (the Windows
// certificate stores live in crypt32's registry stores): its Paths is empty,
// and a backup holds what SaveState returns instead. RestoreSavedState puts
// the store back exactly as the saved state says (entries and their
// properties); it must be safe to call again after it failed or was
// interrupted.
type StateSaver interface {
	SaveState(ctx context.Context) ([]byte, error)
	RestoreSavedState(ctx context.Context, state []byte) error
}
