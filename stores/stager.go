package stores

import "context"

// Stager is a Store that can write the content an Apply would make where no
// reader of the store looks, before it changes the store itself, so that
// the caller flushes that content in the same flush as its own records
// (internal/job flushes it with its journal: one flush instead of two), and
// the change itself is a rename.
type Stager interface {
	// Stage writes aside what Apply(ctx, changes) would make and returns
	// how to put it in place; it changes nothing a reader of the store
	// sees. It returns nil and no error when it cannot stage these changes
	// (the caller then calls Apply). On an error it leaves nothing behind.
	Stage(ctx context.Context, changes []Change) (Staged, error)
}

// Staged is content a Stager wrote aside.
type Staged interface {
	// Dirs are the folders the staged content is in. It is not flushed:
	// the caller flushes the file systems that hold them before Commit.
	Dirs() []string
	// Commit puts the staged content in place, all at once, and flushes
	// that change: once it returns nil the store holds the new content,
	// also after a crash. On an error wrapping atomicfile.ErrDirSync the
	// store holds the new content but may lose it in a crash (the caller
	// must put the store back); on any other error the store is as it was
	// and nothing staged is left.
	Commit() error
	// Discard removes the staged content; the store is untouched.
	Discard() error
}
