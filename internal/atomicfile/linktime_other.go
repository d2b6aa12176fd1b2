//go:build !unix

package atomicfile

// SetLinkTime does nothing on systems where a symbolic link's own times
// cannot be set; the link keeps the time of its creation.
func SetLinkTime(path string, mtime int64) error { return nil }
