// Package securefs decides whether rootsync, running as root, may act on a
// path that another local user might have been able to change, in the manner
// of OpenSSH's StrictModes: the state folder, the files in it, the
// configuration file, password files, hook programs, and the symbolic links
// on the way to a store.
//
// The rules, enforced when the process runs as root (effective uid 0):
//
//   - The state folder is owned by root and writable by nobody else. Every
//     folder on the way to it is owned by root and either writable by root
//     alone or sticky (so a folder root made under /tmp is fine).
//   - Files rootsync reads as instructions (the configuration file, password
//     files, hook programs) are owned by root and writable by nobody else,
//     and so is every folder on the way to them, as above.
//   - A symbolic link is followed only when the folder holding it is owned by
//     root and writable by nobody else (or sticky, and the link is root's):
//     another user could otherwise point it anywhere.
//   - Files in the state folder (lock, journal, backup manifests and data)
//     are opened without following symbolic links, must be regular files
//     owned by root with a single name, and a backup's files are opened
//     beneath the backup's folder only (openat2 with RESOLVE_BENEATH and
//     RESOLVE_NO_SYMLINKS, or a component-by-component O_NOFOLLOW walk where
//     openat2 is missing).
//
// For any other user the checks are not made: nobody else's files are trusted
// more than the user's own. On Windows an elevated process checks the owner
// and ACL of the state folder and of the files it takes instructions from,
// not the folders on the way nor links (see securefs_windows.go); on other
// systems the ownership and link checks are not made (see checks_other.go
// and securefs_other.go). A refusal is an
// *Error naming the path at fault. The package never logs and changes
// nothing on disk except where a function says it creates a folder.
package securefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os/user"
	"strconv"
	"strings"
)

// ErrUnsafe is wrapped by every refusal: a path another user could have
// changed, which root must not act on.
var ErrUnsafe = errors.New("not safe to use as root")

// Error is a refusal: Path is the folder, file or link at fault and Msg says
// what is wrong with it, naming Path.
type Error struct {
	Path string
	Msg  string
	Hint string
}

func (e *Error) Error() string    { return e.Msg }
func (e *Error) Unwrap() error    { return ErrUnsafe }
func (e *Error) HintText() string { return e.Hint }

// Enforced reports whether the checks are made: the process runs as root
// (on Windows: elevated, with the Administrators group's rights).
func Enforced() bool { return elevated() }

// MaxStateFile is the largest journal or manifest ReadFile accepts.
const MaxStateFile = 256 << 20

// owner names a uid for a message: "uid 65534 (nobody)".
func owner(uid uint32) string {
	s := "uid " + strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil && u.Username != "" {
		s += " (" + u.Username + ")"
	}
	return s
}

// writers says who besides the owner may write a file of mode m:
// "group", "others", "group and others", or "".
func writers(m uint32) string {
	var w []string
	if m&0o020 != 0 {
		w = append(w, "group")
	}
	if m&0o002 != 0 {
		w = append(w, "others")
	}
	return strings.Join(w, " and ")
}

func modeString(m uint32) string { return fmt.Sprintf("%04o", m&0o7777) }

// errNotRegular describes a file that is a link, folder, device or FIFO
// where a regular file belongs.
func errNotRegular(path string, m fs.FileMode) error {
	what := "not a regular file"
	switch {
	case m&fs.ModeSymlink != 0:
		what = "a symbolic link"
	case m.IsDir():
		what = "a folder"
	case m&fs.ModeNamedPipe != 0:
		what = "a FIFO"
	case m&fs.ModeDevice != 0:
		what = "a device"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	}
	return &Error{Path: path, Msg: path + ": is " + what + ", not a regular file",
		Hint: "rootsync made this file itself and never a link or special file there; remove " + path + " after checking who put it there"}
}
