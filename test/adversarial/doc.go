// Package adversarial runs the rootsync binary against stores that are not
// what their spec says: every store kind (pem, capath, nss, p12, jks, and a
// system tree under a ROOT prefix) × every way a path can be wrong (missing,
// a folder where a file belongs and the reverse, another kind's file,
// truncated, a named pipe, /dev/zero, a loop of symbolic links, the wrong
// password, unreadable by the user rootsync runs as), each as a source and as
// a target. Every case checks the exit status, that the message names the
// path, and that not one byte of any store changed. The package holds only
// tests.
package adversarial
