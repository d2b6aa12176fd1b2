//go:build linux

package capath

import (
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/rootsync/rootsync/stores"
)

// readFile reads the regular file at path (following links) into buf's
// storage, with one stat, open, fstat and close and no allocation once buf
// is large enough: a folder of 100,000 certificates is 100,000 small files.
// skip: path names no regular file (absent, a dangling link, a folder, a
// device), which holds no certificates. ok is false when anything else is
// unusual (no permission, larger than stores.MaxFileSize, replaced while it
// was opened, a read error): the caller then reads the file with
// stores.ReadFile, which applies the same checks and says what is wrong.
func readFile(path string, buf []byte) (data []byte, mode fs.FileMode, skip, ok bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return buf, 0, true, true
	}
	mode = fs.FileMode(st.Mode & 0o777)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return buf, mode, false, false
	}
	defer unix.Close(fd)
	var ost unix.Stat_t
	if err := unix.Fstat(fd, &ost); err != nil || ost.Mode&unix.S_IFMT != unix.S_IFREG ||
		ost.Dev != st.Dev || ost.Ino != st.Ino || ost.Size > stores.MaxFileSize {
		return buf, mode, false, false
	}
	data = buf[:0]
	if need := int(ost.Size) + 1; cap(data) < need {
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
