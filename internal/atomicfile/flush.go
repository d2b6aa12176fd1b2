package atomicfile

import "sync/atomic"

// The kinds of flush a flush hook is told about.
const (
	// FlushFile is a file's content and metadata (fsync of the file).
	FlushFile = "file"
	// FlushDir is a folder's entries: names made, renamed or removed in it
	// (fsync of the folder).
	FlushDir = "dir"
	// FlushFS is everything written on the file system that holds a folder
	// (syncfs, or where there is none a flush of each file in the folder).
	FlushFS = "fs"
)

// flushHook, when set, is called before every flush this package makes.
var flushHook atomic.Pointer[func(kind, path string)]

// SetFlushHook makes every flush of this package call hook first with the
// flush's kind and the path it flushes, and returns the function that
// removes the hook. It is for tests that check the order of the flushes
// against the changes they make durable; hook may be called from several
// goroutines at once.
func SetFlushHook(hook func(kind, path string)) (remove func()) {
	flushHook.Store(&hook)
	return func() { flushHook.Store(nil) }
}

// noteFlush tells the flush hook, if any, about a flush about to be made.
func noteFlush(kind, path string) {
	if h := flushHook.Load(); h != nil {
		(*h)(kind, path)
	}
}
