//go:build linux

package securefs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

const maxLinks = 40

func elevated() bool { return os.Geteuid() == 0 }

// walker resolves a path one component at a time from "/", never letting the
// kernel follow a symbolic link: each link is judged, read, and spliced into
// the rest of the path, and every folder is opened with O_NOFOLLOW relative
// to the one before, so a folder swapped for a link after it was judged is
// refused rather than followed.
type walker struct {
	// dir judges every folder passed through ("/" included), not the
	// folder or file the path names.
	dir func(path string, st *unix.Stat_t) error
	// link judges a symbolic link about to be followed; parent is the
	// folder holding it.
	link func(path string, st, parent *unix.Stat_t) error
}

// open returns the folder that holds path's final component (open for
// reading), that folder's resolved path, and the final name, which may not
// exist. A final component that is a link is followed (when w allows).
// A missing folder on the way is an error wrapping fs.ErrNotExist.
func (w walker) open(path string) (dir *os.File, dirPath, name string, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", "", err
	}
	if abs == "/" {
		return nil, "", "", fmt.Errorf("%s: is the root folder", path)
	}
	for links := 0; ; links++ {
		if links > maxLinks {
			return nil, "", "", &fs.PathError{Op: "open", Path: path, Err: unix.ELOOP}
		}
		d, dp, name, next, err := w.step(abs)
		if err != nil || next == "" {
			return d, dp, name, err
		}
		abs = next
	}
}

// step walks abs until the first link to follow; it returns either the
// result or (next != "") the path with that link spliced in.
func (w walker) step(abs string) (dir *os.File, dirPath, name, next string, err error) {
	// Folders on the way are opened with O_PATH: searching a folder needs
	// no permission to read it. The folder returned is reopened for reading.
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", "", "", &fs.PathError{Op: "open", Path: "/", Err: err}
	}
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	cur := "/"
	var curSt unix.Stat_t
	if err := unix.Fstat(fd, &curSt); err != nil {
		return nil, "", "", "", &fs.PathError{Op: "stat", Path: cur, Err: err}
	}
	if w.dir != nil {
		if err := w.dir(cur, &curSt); err != nil {
			return nil, "", "", "", err
		}
	}
	comps := strings.Split(strings.TrimPrefix(abs, "/"), "/")
	for i, c := range comps {
		last := i == len(comps)-1
		full := filepath.Join(cur, c)
		var st unix.Stat_t
		err := unix.Fstatat(fd, c, &st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) && last {
			d, err := reopen(fd, cur)
			return d, cur, c, "", err
		}
		if err != nil {
			return nil, "", "", "", &fs.PathError{Op: "lstat", Path: full, Err: err}
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			if w.link != nil {
				if err := w.link(full, &st, &curSt); err != nil {
					return nil, "", "", "", err
				}
			}
			buf := make([]byte, unix.PathMax)
			n, err := unix.Readlinkat(fd, c, buf)
			if err != nil {
				return nil, "", "", "", &fs.PathError{Op: "readlink", Path: full, Err: err}
			}
			target := string(buf[:n])
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target)
			}
			return nil, "", "", filepath.Join(append([]string{target}, comps[i+1:]...)...), nil
		}
		if last {
			d, err := reopen(fd, cur)
			return d, cur, c, "", err
		}
		nfd, err := unix.Openat(fd, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, "", "", "", &fs.PathError{Op: "open", Path: full, Err: err}
		}
		unix.Close(fd)
		fd, cur = nfd, full
		if err := unix.Fstat(fd, &curSt); err != nil {
			return nil, "", "", "", &fs.PathError{Op: "stat", Path: cur, Err: err}
		}
		if w.dir != nil {
			if err := w.dir(cur, &curSt); err != nil {
				return nil, "", "", "", err
			}
		}
	}
	panic("unreachable")
}

// reopen opens the folder fd (an O_PATH descriptor) for reading, so that it
// can be synced.
func reopen(fd int, path string) (*os.File, error) {
	rfd, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(rfd), path), nil
}

// trustedParent is the rule for every folder on the way to something root
// acts on: owned by root, and writable by root alone or sticky.
func trustedParent(subject string) func(string, *unix.Stat_t) error {
	return func(path string, st *unix.Stat_t) error {
		if st.Uid != 0 {
			return &Error{Path: path, Msg: fmt.Sprintf("%s: folder %s on its path is owned by %s, not root", subject, path, owner(st.Uid)),
				Hint: "another user could replace what root reads or writes there; use a path whose folders all belong to root"}
		}
		if w := writers(st.Mode); w != "" && st.Mode&unix.S_ISVTX == 0 {
			return &Error{Path: path, Msg: fmt.Sprintf("%s: folder %s on its path is writable by %s (mode %s) and not sticky", subject, path, w, modeString(st.Mode)),
				Hint: fmt.Sprintf("another user could replace what root reads or writes there; run 'chmod go-w %s' or use another path", path)}
		}
		return nil
	}
}

// trustedLink is the rule for following a symbolic link as root: the
// folder holding it belongs to root and nobody else can write it, or it is
// sticky and the link is root's.
func trustedLink(subject string) func(string, *unix.Stat_t, *unix.Stat_t) error {
	return func(path string, st, parent *unix.Stat_t) error {
		dir := filepath.Dir(path)
		var why string
		switch {
		case parent.Uid != 0:
			why = fmt.Sprintf("%s owns %s", owner(parent.Uid), dir)
		case writers(parent.Mode) != "" && parent.Mode&unix.S_ISVTX == 0:
			why = fmt.Sprintf("%s is writable by %s (mode %s)", dir, writers(parent.Mode), modeString(parent.Mode))
		case writers(parent.Mode) != "" && st.Uid != 0:
			why = fmt.Sprintf("the link belongs to %s in the shared folder %s", owner(st.Uid), dir)
		default:
			return nil
		}
		msg := fmt.Sprintf("%s: symbolic link %s is not followed as root: %s", subject, path, why)
		if subject == path {
			msg = fmt.Sprintf("%s: symbolic link not followed as root: %s", path, why)
		}
		return &Error{Path: path, Msg: msg,
			Hint: "another user could point the link at any file root would then change; name the file the link points to instead, or have root own the link and its folder"}
	}
}

// CheckStateDir checks, as root, that the state folder dir and every folder
// on the way to it may be trusted (see the package rules). The folder must
// exist. For any other user it does nothing.
func CheckStateDir(dir string) error {
	if !Enforced() {
		return nil
	}
	subject := "state folder " + dir
	w := walker{dir: trustedParent(subject), link: trustedLink(subject)}
	d, dp, name, err := w.open(dir)
	if err != nil {
		return stateErr(err)
	}
	defer d.Close()
	var st unix.Stat_t
	if err := unix.Fstatat(int(d.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("state folder: %w", &fs.PathError{Op: "stat", Path: dir, Err: err})
	}
	real := filepath.Join(dp, name)
	if real != filepath.Clean(dir) {
		subject += " (" + real + ")"
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return &Error{Path: real, Msg: subject + ": is not a folder", Hint: "give --state-dir (or ROOTSYNC_STATE_DIR) a folder"}
	}
	if problem, fix := notRootOnly(&st, real); problem != "" {
		return &Error{Path: real, Msg: subject + ": " + problem,
			Hint: "another user could make root overwrite or create any file through it; check what is in it, then '" + fix + "' or choose another --state-dir"}
	}
	return nil
}

// notRootOnly says what is wrong with a file or folder root relies on that
// another user could change (owned by another user, or writable by another
// than its owner) and the command that fixes it; "" when nothing is.
func notRootOnly(st *unix.Stat_t, path string) (problem, fix string) {
	if st.Uid != 0 {
		return fmt.Sprintf("owned by %s, not root", owner(st.Uid)), "chown root: " + path
	}
	if w := writers(st.Mode); w != "" {
		return fmt.Sprintf("writable by %s (mode %s)", w, modeString(st.Mode)), "chmod go-w " + path
	}
	return "", ""
}

// stateErr says a failure to reach the state folder is about the state
// folder, unless the refusal says so already.
func stateErr(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("state folder: %w", err)
}

// MkdirState creates the state folder dir (mode 0700) if it is missing,
// after checking as root that the folders on the way to it may be trusted,
// and then checks it with CheckStateDir.
func MkdirState(dir string) error {
	if Enforced() {
		// Judge the folders that exist before creating anything in them.
		subject := "state folder " + dir
		w := walker{dir: trustedParent(subject), link: trustedLink(subject)}
		d, _, _, err := w.open(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return stateErr(err)
		}
		if d != nil {
			d.Close()
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return stateErr(err)
	}
	return CheckStateDir(dir)
}

// CheckFile checks, as root, that a file rootsync takes instructions from
// (what says which: "configuration file", "password file", "hook program")
// is a regular file owned by root that nobody else can write, reached only
// through folders and links that may be trusted. A missing file is not this
// function's concern: it returns nil and the caller's open reports it. For
// any other user it does nothing.
func CheckFile(path, what string) error {
	if !Enforced() {
		return nil
	}
	subject := what + " " + path
	w := walker{dir: trustedParent(subject), link: trustedLink(subject)}
	d, _, name, err := w.open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	var st unix.Stat_t
	if err := unix.Fstatat(int(d.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if problem, fix := notRootOnly(&st, path); problem != "" {
		return &Error{Path: path, Msg: subject + ": " + problem,
			Hint: "root takes instructions from this file; check it, then '" + fix + "'"}
	}
	return nil
}

// CheckLinks checks, as root, that no symbolic link on the way to a store
// path (the path itself included) sits in a folder another user can write.
// A path or folder that does not exist yet passes. For any other user it
// does nothing.
func CheckLinks(path string) error {
	if !Enforced() {
		return nil
	}
	d, _, _, err := (walker{link: trustedLink(path)}).open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return d.Close()
}

// OpenDir opens the folder that holds path's final component, following
// symbolic links the way CheckLinks allows them (any link for a user other
// than root), and returns it with the resolved folder path and the final
// name, which may not exist. Operations relative to the returned folder
// (openat, renameat) cannot be redirected by a link made afterwards.
func OpenDir(path string) (dir *os.File, dirPath, name string, err error) {
	var w walker
	if Enforced() {
		w.link = trustedLink(path)
	}
	return w.open(path)
}

// OpenFile opens a file in the state folder: a symbolic link is never
// followed (O_NOFOLLOW), opening never blocks on a FIFO, and the file must
// be a regular file; as root it must also be owned by root, have a single
// name (no hard link to a file elsewhere) and be writable by root alone.
func OpenFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, perm)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, errNotRegular(path, fs.ModeSymlink)
		}
		return nil, err
	}
	if err := checkStateFile(f, path); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkStateFile(f *os.File, path string) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		fi, _ := f.Stat()
		var m fs.FileMode = fs.ModeIrregular
		if fi != nil {
			m = fi.Mode()
		}
		return errNotRegular(path, m)
	}
	if !Enforced() {
		return nil
	}
	hint := "rootsync's own files in its state folder belong to root; check who made " + path + " and remove it"
	if problem, _ := notRootOnly(&st, path); problem != "" {
		return &Error{Path: path, Msg: path + ": " + problem, Hint: hint}
	}
	if st.Nlink != 1 {
		return &Error{Path: path, Msg: fmt.Sprintf("%s: has %d names (hard links); rootsync's files have one", path, st.Nlink), Hint: hint}
	}
	return nil
}

// ReadFile reads a file in the state folder opened with OpenFile, refusing
// one larger than max bytes (0: no limit).
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, path, max)
}

func readAll(f *os.File, path string, max int64) ([]byte, error) {
	if max <= 0 {
		return io.ReadAll(f)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return b, nil
}

// ReadFileIn reads rel beneath the folder root without following any
// symbolic link, neither root itself nor anything under it, and with the
// checks of OpenFile. It uses openat2 with RESOLVE_BENEATH and
// RESOLVE_NO_SYMLINKS, or an O_NOFOLLOW walk where openat2 is missing.
func ReadFileIn(root, rel string, max int64) ([]byte, error) {
	f, err := OpenIn(root, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, filepath.Join(root, rel), max)
}

// OpenIn opens rel beneath root for reading, as ReadFileIn does.
func OpenIn(root, rel string) (*os.File, error) {
	path := filepath.Join(root, rel)
	if filepath.IsAbs(rel) || !filepath.IsLocal(rel) {
		return nil, &Error{Path: path, Msg: fmt.Sprintf("%s: %q is not a name beneath %s", path, rel, root)}
	}
	rfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, errNotRegular(root, fs.ModeSymlink)
		}
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(rfd)
	const flags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := unix.Openat2(rfd, rel, &unix.OpenHow{
		Flags:   flags,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		// No openat2 (Linux before 5.6, or a seccomp filter that refuses it).
		fd, err = walkBeneath(rfd, rel, flags)
	}
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, &Error{Path: path, Msg: fmt.Sprintf("%s: a symbolic link on the way beneath %s", path, root),
				Hint: "rootsync makes no links in its state folder; check who made them"}
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	if err := checkStateFile(f, path); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// walkBeneath opens rel beneath the folder rfd one name at a time with
// O_NOFOLLOW: the fallback for kernels without openat2.
func walkBeneath(rfd int, rel string, flags int) (int, error) {
	parts := strings.Split(filepath.Clean(rel), "/")
	cur, err := unix.Dup(rfd)
	if err != nil {
		return -1, err
	}
	for _, p := range parts[:len(parts)-1] {
		next, err := unix.Openat(cur, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(cur)
		if err != nil {
			return -1, err
		}
		cur = next
	}
	fd, err := unix.Openat(cur, parts[len(parts)-1], flags, 0)
	unix.Close(cur)
	return fd, err
}
