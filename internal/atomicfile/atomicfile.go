// Package atomicfile replaces files so that a reader sees either the whole old
// content or the whole new content, never a mix: the new bytes go to a
// temporary file in the same folder, which is synced and renamed over the old
// one.
//
// A replaced file keeps what made it the file it was: its owner and group
// (where the process may set them), its permission bits, its POSIX ACLs and
// its extended attributes (user.*, and as root security.* except
// security.capability and trusted.*; see KeepXattr). Setuid, setgid and
// sticky bits are never set. On Linux the folder is opened once and every
// step is taken relative to it, so a link made during the write cannot
// redirect it; as root a symbolic link is followed only where
// internal/securefs allows it (in a folder no other user can write). It never
// logs.
package atomicfile

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Meta is what a replaced file keeps besides its bytes.
type Meta struct {
	Mode    fs.FileMode `json:"mode"`             // permission bits only
	UID     int         `json:"uid"`              // -1: leave as created
	GID     int         `json:"gid"`              // -1: leave as created
	Xattrs  []Xattr     `json:"xattrs,omitempty"` // sorted by name; POSIX ACLs are system.posix_acl_* xattrs
	ModTime int64       `json:"-"`                // Unix nanoseconds; 0: now
}

// Xattr is one extended attribute.
type Xattr struct {
	Name  string `json:"name"`
	Value []byte `json:"value"`
}

// KeepXattr says whether an extended attribute is carried over to a file's
// new version (and may be restored from a backup): POSIX ACLs and user.*
// always, security.* and trusted.* only for root, and never
// security.capability, which would give a program privileges.
func KeepXattr(name string, root bool) bool {
	switch {
	case name == "security.capability":
		return false
	case name == "system.posix_acl_access", name == "system.posix_acl_default":
		return true
	case strings.HasPrefix(name, "user."):
		return true
	case strings.HasPrefix(name, "security."), strings.HasPrefix(name, "trusted."):
		return root
	}
	return false
}

// ErrDirSync is wrapped by the error a write returns when the new content was
// renamed into place but the folder could not be synced afterwards. The file
// then already holds the new content (and may or may not keep it after a
// crash): a caller that promised "all or nothing" must treat the file as
// changed and put the old content back.
var ErrDirSync = errors.New("folder not synced after the rename")

// dirSyncFault, when a test sets it, runs before the folder sync that follows
// the rename; an error it returns stands for a failing sync.
var dirSyncFault func(dir string) error

// Write replaces path with data. If path exists, its metadata (see Meta) is
// kept and perm is ignored; a symbolic link is followed and its target
// replaced, as root only a link in a folder no other user can write (else
// the error wraps securefs.ErrUnsafe and names the link). If the file
// already holds exactly data, nothing is written and no timestamp changes.
//
// On an error that does not wrap ErrDirSync the old file is untouched and no
// temporary file is left behind. An error wrapping ErrDirSync means the rename
// happened: path holds data, but that may not survive a crash.
func Write(path string, data []byte, perm fs.FileMode) error {
	return write(path, content{data: data}, perm, nil, true)
}

// WriteNoFollow is Write for rootsync's own files in its state folder: a
// symbolic link at path is replaced by the file, never followed.
func WriteNoFollow(path string, data []byte, perm fs.FileMode) error {
	return write(path, content{data: data}, perm, nil, false)
}

// WriteFunc is Write for content too large to hold in memory twice: fill
// writes the new content (buffered) into the temporary file that then
// replaces path. The guarantees are Write's; unlike Write, it always writes,
// even when the file already holds that content. An error from fill leaves
// the old file untouched.
func WriteFunc(path string, perm fs.FileMode, fill func(io.Writer) error) error {
	return write(path, content{fill: fill}, perm, nil, true)
}

// content is what a write puts in the file: data, or what fill writes.
type content struct {
	data []byte
	fill func(io.Writer) error
}

// same reports whether old is already the content (never for fill).
func (c content) same(old []byte) bool { return c.fill == nil && bytes.Equal(old, c.data) }

func (c content) writeTo(f *os.File) error {
	if c.fill == nil {
		_, err := f.Write(c.data)
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	if err := c.fill(w); err != nil {
		return err
	}
	return w.Flush()
}

// WriteMeta replaces path (following links as Write does) with data and gives
// it m's metadata instead of the old file's: a restore puts back the owner,
// mode, ACLs and attributes it saved. Extended attributes KeepXattr refuses
// are not set, nor setuid, setgid or sticky bits. A file that already has
// exactly data and m's metadata is left alone.
func WriteMeta(path string, data []byte, m *Meta) error {
	return write(path, content{data: data}, 0, m, true)
}
