//go:build linux

package capath

import (
	"encoding/binary"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/rootsync/rootsync/stores"
)

// readFile reads the regular file at path (following links) into buf's
// storage, with one open, fstat and close and no allocation once buf
// is large enough: a folder of 100,000 certificates is 100,000 small files.
// skip: path names no regular file (absent, a dangling link, a folder, a
// device), which holds no certificates. ok is false when anything else is
// unusual (no permission, larger than stores.MaxFileSize, a read error): the
// caller then reads the file with stores.ReadFile, which applies the same
// checks and says what is wrong.
func readFile(path string, buf []byte) (data []byte, mode fs.FileMode, skip, ok bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		// Absent, a dangling link or a socket (skipped), or no permission
		// (ReadFile's error): stat tells which.
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			return buf, 0, true, true
		}
		return buf, fs.FileMode(st.Mode & 0o777), false, false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return buf, 0, false, false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return buf, 0, true, true
	}
	mode = fs.FileMode(st.Mode & 0o777)
	if st.Size > stores.MaxFileSize {
		return buf, mode, false, false
	}
	data = buf[:0]
	if need := int(st.Size) + 1; cap(data) < need {
		data = make([]byte, 0, need)
	}
	for {
		if len(data) == cap(data) {
			if int64(len(data)) > stores.MaxFileSize {
				return data[:0], mode, false, false
			}
			data = append(data, 0)[:len(data)]
		}
		n, err := unix.Read(fd, data[len(data):cap(data)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return data[:0], mode, false, false
		}
		if n == 0 {
			return data, mode, false, true
		}
		data = data[:len(data)+n]
	}
}

// listDir calls add with each name in the folder dir (not . and ..) and
// whether it is a symbolic link, reading the listing with getdents into one
// buffer: name is valid only during the call. ok is false when the folder
// could not be listed; the caller then lists it with stores.ReadDir, which
// says what is wrong. Names come in the system's order.
func listDir(dir string, add func(name []byte, symlink bool)) (ok bool) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false
		}
		if n <= 0 {
			return true
		}
		// struct linux_dirent64: d_ino (8 bytes), d_off (8), d_reclen (2),
		// d_type (1), d_name (NUL-terminated).
		for rec := buf[:n]; len(rec) >= 19; {
			size := int(binary.NativeEndian.Uint16(rec[16:18]))
			if size < 19 || size > len(rec) {
				return false
			}
			ino, typ, name := binary.NativeEndian.Uint64(rec[0:8]), rec[18], rec[19:size]
			rec = rec[size:]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			if ino == 0 || string(name) == "." || string(name) == ".." {
				continue
			}
			if typ == unix.DT_UNKNOWN {
				var st unix.Stat_t
				if err := unix.Lstat(filepath.Join(dir, string(name)), &st); err != nil {
					return false
				}
				if st.Mode&unix.S_IFMT == unix.S_IFLNK {
					typ = unix.DT_LNK
				}
			}
			add(name, typ == unix.DT_LNK)
		}
	}
}

// readLink reads where the symbolic link at path points into *buf, which
// it reuses from call to call, as os.Readlink reads it (a target longer
// than the buffer is read again into a larger one).
func readLink(path string, buf *[]byte) ([]byte, error) {
	if cap(*buf) < 256 {
		*buf = make([]byte, 256)
	}
	b := (*buf)[:cap(*buf)]
	for {
		n, err := unix.Readlink(path, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "readlink", Path: path, Err: err}
		}
		if n < len(b) {
			*buf = b
			return b[:n], nil
		}
		b = make([]byte, 2*len(b))
	}
}
