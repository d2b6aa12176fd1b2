package stores

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxFileSize is the largest store, password or configuration file rootsync
// reads: 1 GiB, far above any trust store (the 100,000-certificate bundles of
// the benchmarks are about 200 MiB). A larger file is refused before it is
// read.
const MaxFileSize int64 = 1 << 30

// Errors about what a path is, which callers branch on. ReadFile, StatFile
// and StatDir wrap them (or the system's error) in an *Error naming the path.
var (
	// ErrNotExist: the store does not exist. Load returns it (in an *Error
	// naming the missing file or folder) only for the store itself, never for
	// another file it needed; a source must exist, a target that does not is
	// created by its first Apply (see LoadTarget).
	ErrNotExist = errors.New("does not exist")
	// ErrWrongKind: the path exists but is not a store of the spec's kind (a
	// folder where a file belongs, a keystore read as a PEM bundle, ...).
	ErrWrongKind = errors.New("not a store of this kind")
	// ErrNotRegular: the path is a named pipe, a device or a socket; only
	// regular files and folders are stores, password or configuration files.
	ErrNotRegular = errors.New("neither a regular file nor a folder")
	// ErrTooLarge: the file is larger than MaxFileSize.
	ErrTooLarge = errors.New("file too large")
)

// pathError is a described error that wraps one of the sentinels above, so
// that its text need not repeat the sentinel's.
type pathError struct {
	msg      string
	sentinel error
}

func (e *pathError) Error() string { return e.msg }
func (e *pathError) Unwrap() error { return e.sentinel }

// NotExist is the error Load returns for a store that does not exist: an
// *Error naming path and wrapping ErrNotExist, with a hint.
func NotExist(path string) error {
	return &Error{Path: path, Err: ErrNotExist,
		Hint: "check the path for a typo: a store read from must exist (only a target is created when missing)"}
}

// WrongKind is the error Load returns for a path that is not a store of its
// kind: an *Error naming path, wrapping ErrWrongKind, saying what was found.
func WrongKind(path, kind, found, hint string) error {
	return &Error{Path: path, Err: &pathError{"not " + kind + ": " + found, ErrWrongKind}, Hint: hint}
}

// LoadTarget loads a store that is about to be written: a store that does not
// exist yet (Load fails with ErrNotExist) is an empty set, since the first
// Apply creates it. Every other error is returned as it is. Sources are read
// with Load itself, for which a missing store is an error.
func LoadTarget(ctx context.Context, s Store) (*Set, error) {
	set, err := s.Load(ctx)
	if errors.Is(err, ErrNotExist) {
		return NewSet(), nil
	}
	return set, err
}

// StatFile returns what path names (following symbolic links) when it is a
// regular file of at most MaxFileSize bytes. Otherwise the error is an *Error
// naming path that wraps fs.ErrNotExist (absent; the caller decides whether
// that is the store's ErrNotExist), ErrWrongKind (a folder), ErrNotRegular (a
// pipe, device or socket), ErrTooLarge, or the system's error (no permission,
// a loop of symbolic links). It never opens the file.
func StatFile(path string) (fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, statError(path, err)
	}
	return fi, checkFile(path, fi)
}

// StatDir returns what path names (following symbolic links) when it is a
// folder; the errors are StatFile's, with ErrWrongKind for a file.
func StatDir(path string) (fs.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, statError(path, err)
	}
	switch {
	case fi.IsDir():
		return fi, nil
	case fi.Mode().IsRegular():
		return nil, &Error{Path: path, Err: &pathError{"a file where a folder belongs", ErrWrongKind},
			Hint: "check the path and the spec's kind: this kind of store is a folder"}
	}
	return nil, notRegular(path, fi)
}

// OpenFile opens a store, password or configuration file for reading. Only
// a regular file of at most MaxFileSize bytes is opened: path is checked with
// StatFile before it is opened, opened without blocking (a named pipe put
// there in the meantime cannot hang the caller) and checked again once open.
// The errors are StatFile's and the system's (no permission); every error is
// an *Error naming path. An adapter whose files another library opens (NSS's
// SQLite databases) opens and closes them with OpenFile first.
func OpenFile(path string) (*os.File, error) {
	fi, err := StatFile(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, statError(path, err)
	}
	ofi, err := f.Stat()
	if err == nil && !os.SameFile(fi, ofi) {
		err = &Error{Path: path, Err: errors.New("replaced while it was being opened"), Hint: "run the command again"}
	} else if err == nil {
		err = checkFile(path, ofi)
	} else {
		err = statError(path, err)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// ReadDir lists a store's folder, sorted by name: path must be a folder
// (see StatDir); every error is an *Error naming path.
func ReadDir(path string) ([]fs.DirEntry, error) {
	if _, err := StatDir(path); err != nil {
		return nil, err
	}
	des, err := os.ReadDir(path)
	if err != nil {
		return nil, statError(path, err)
	}
	return des, nil
}

// ReadFile reads a whole store, password or configuration file, opened
// with OpenFile (so only a regular file of at most MaxFileSize bytes). Every
// error is an *Error naming path.
func ReadFile(path string) ([]byte, error) {
	f, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ofi, err := f.Stat()
	if err != nil {
		return nil, statError(path, err)
	}
	data := make([]byte, 0, ofi.Size()+1)
	for {
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if int64(len(data)) > MaxFileSize {
			return nil, tooLarge(path, int64(len(data)))
		}
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, statError(path, err)
		}
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
	}
}

func checkFile(path string, fi fs.FileInfo) error {
	switch {
	case fi.IsDir():
		return &Error{Path: path, Err: &pathError{"a folder where a file belongs", ErrWrongKind},
			Hint: "check the path and the spec's kind: this kind of store is a file"}
	case !fi.Mode().IsRegular():
		return notRegular(path, fi)
	case fi.Size() > MaxFileSize:
		return tooLarge(path, fi.Size())
	}
	return nil
}

func tooLarge(path string, n int64) error {
	return &Error{Path: path, Err: &pathError{fmt.Sprintf("%d bytes, more than the %d (1 GiB) rootsync reads", n, MaxFileSize), ErrTooLarge},
		Hint: "no trust store is that large: check the path"}
}

func notRegular(path string, fi fs.FileInfo) error {
	return &Error{Path: path, Err: &pathError{describeType(fi.Mode()) + ", not a regular file or folder", ErrNotRegular},
		Hint: "name a regular file or folder: rootsync never reads or writes pipes, devices or sockets"}
}

func describeType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "a special file (" + m.Type().String() + ")"
}

// statError names path and gives a hint for the common causes; the system's
// error stays in the chain (errors.Is(err, fs.ErrNotExist) works).
func statError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	e := &Error{Path: path, Err: err}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		e.Hint = "check the path for a typo"
	case errors.Is(err, fs.ErrPermission):
		e.Hint = "rootsync may not read it: run rootsync as a user who may (for system files: sudo), or fix its permissions"
	case errors.Is(err, syscall.ELOOP):
		e.Hint = "the path runs through a loop of symbolic links: fix the links"
	case errors.Is(err, syscall.ENOTDIR):
		e.Hint = "a part of the path that should be a folder is a file: check the path"
	}
	return e
}

// LimitReader reads r (the file at path, opened with OpenFile) and fails with
// ReadFile's error for a file larger than MaxFileSize once it has read more
// than that: a reader that goes through a file without holding it whole
// keeps ReadFile's limit on a file that grows while it is read.
func LimitReader(path string, r io.Reader) io.Reader { return &limited{path: path, r: r} }

type limited struct {
	path string
	r    io.Reader
	n    int64
}

func (l *limited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > MaxFileSize {
		return n, tooLarge(l.path, l.n)
	}
	return n, err
}
