//go:build linux

package atomicfile

import (
	"errors"
	"io/fs"
	"sync"

	"golang.org/x/sys/unix"
)

// SyncFS flushes everything written so far on the file systems that hold
// dirs: the files' content and the folders' entries, whoever wrote them. It
// makes one syncfs call per file system (folders on the same one share it),
// the file systems in parallel, and returns once all are on disk. One call
// replaces a flush of every file written and every folder changed there.
func SyncFS(dirs ...string) error {
	type target struct {
		dir string
		fd  int
	}
	var todo []target
	defer func() {
		for _, t := range todo {
			unix.Close(t.fd)
		}
	}()
	seen := map[uint64]bool{}
	for _, d := range dirs {
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &fs.PathError{Op: "open", Path: d, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return &fs.PathError{Op: "stat", Path: d, Err: err}
		}
		if seen[st.Dev] {
			unix.Close(fd)
			continue
		}
		seen[st.Dev] = true
		todo = append(todo, target{d, fd})
	}
	errs := make([]error, len(todo))
	flush := func(i int) {
		noteFlush(FlushFS, todo[i].dir)
		if err := unix.Syncfs(todo[i].fd); err != nil {
			errs[i] = &fs.PathError{Op: "syncfs", Path: todo[i].dir, Err: err}
		}
	}
	var wg sync.WaitGroup
	for i := 1; i < len(todo); i++ {
		wg.Add(1)
		go func() { defer wg.Done(); flush(i) }()
	}
	if len(todo) > 0 {
		flush(0)
	}
	wg.Wait()
	return errors.Join(errs...)
}
