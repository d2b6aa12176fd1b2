//go:build windows

package securefs

// On Windows the rules apply when the process runs elevated (with the
// Administrators group's rights, as root is the Linux condition): the state
// folder, and the files rootsync takes instructions from (configuration
// file, password files, hook programs), must be owned by SYSTEM,
// Administrators, TrustedInstaller or the user rootsync runs as, and no
// access-allowed entry of their DACL may give anyone else a right to change
// them: write or add data (FILE_WRITE_DATA, FILE_ADD_FILE), append or add a
// folder (FILE_APPEND_DATA, FILE_ADD_SUBDIRECTORY), delete it or what it
// holds (DELETE, FILE_DELETE_CHILD), change its ACL or owner (WRITE_DAC,
// WRITE_OWNER), GENERIC_WRITE or GENERIC_ALL. Entries that only children
// inherit are judged too: they decide who may change the journal and backups
// rootsync creates in the folder. CREATOR OWNER entries are accepted (they
// give the creator of a child, here the elevated rootsync, its rights).
// Deny entries are not weighed against allow entries: an allow entry that
// grants an untrusted account a write right is refused even when a deny entry
// before it would take the right away again. A missing DACL (everyone has
// full access) is refused. Only the folder or file itself is judged, not the
// folders on the way to it, and links are followed (CheckLinks checks
// nothing).
//
// MkdirState creates a missing state folder with a protected DACL that gives
// SYSTEM and Administrators full access and nobody else any, so that it does
// not inherit the rights Users have under C:\ProgramData.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

func elevated() bool { return windows.GetCurrentProcessToken().IsElevated() }

// Access rights that let their holder change a file or folder or what it
// holds. FILE_ADD_FILE and FILE_ADD_SUBDIRECTORY are FILE_WRITE_DATA and
// FILE_APPEND_DATA by another name (for folders).
const (
	fileWriteData   = 0x0002
	fileAppendData  = 0x0004
	fileDeleteChild = 0x0040
	writeRights     = fileWriteData | fileAppendData | fileDeleteChild | windows.DELETE |
		windows.WRITE_DAC | windows.WRITE_OWNER | windows.GENERIC_WRITE | windows.GENERIC_ALL
)

// ACE types that grant nothing (winnt.h).
const (
	systemAuditACE    = 0x2
	mandatoryLabelACE = 0x11
)

// trustedInstaller is the service SID of TrustedInstaller
// (NT SERVICE\TrustedInstaller), which owns Windows' own files.
const trustedInstaller = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"

// trusted reports whether sid is one of the accounts whose rights on a
// file root relies on are fine: SYSTEM, Administrators, TrustedInstaller, or
// self (the user rootsync runs as; nil in tests).
func trusted(sid, self *windows.SID) bool {
	return sid.IsWellKnown(windows.WinLocalSystemSid) ||
		sid.IsWellKnown(windows.WinBuiltinAdministratorsSid) ||
		sid.String() == trustedInstaller ||
		(self != nil && windows.EqualSid(sid, self))
}

// account names a SID for a message: "BUILTIN\Users (S-1-5-32-545)".
func account(sid *windows.SID) string {
	s := sid.String()
	if name, domain, _, err := sid.LookupAccount(""); err == nil && name != "" {
		if domain != "" {
			name = domain + `\` + name
		}
		return name + " (" + s + ")"
	}
	return s
}

// rightNames lists the write rights in mask, for a message.
func rightNames(mask uint32) string {
	var out []string
	for _, r := range []struct {
		bit  uint32
		name string
	}{
		{windows.GENERIC_ALL, "GENERIC_ALL"}, {windows.GENERIC_WRITE, "GENERIC_WRITE"},
		{fileWriteData, "FILE_WRITE_DATA/FILE_ADD_FILE"}, {fileAppendData, "FILE_APPEND_DATA/FILE_ADD_SUBDIRECTORY"},
		{fileDeleteChild, "FILE_DELETE_CHILD"}, {windows.DELETE, "DELETE"},
		{windows.WRITE_DAC, "WRITE_DAC"}, {windows.WRITE_OWNER, "WRITE_OWNER"},
	} {
		if mask&r.bit != 0 {
			out = append(out, r.name)
		}
	}
	return strings.Join(out, ", ")
}

// judge says what is wrong with a security descriptor of a file or folder
// root relies on: an owner that is not trusted, a missing DACL, or an
// access-allowed entry that gives an untrusted account a right to change it;
// "" when nothing is. self is the user rootsync runs as (nil: none).
func judge(sd *windows.SECURITY_DESCRIPTOR, self *windows.SID) (string, error) {
	owner, _, err := sd.Owner()
	if err != nil {
		return "", fmt.Errorf("reading the owner: %w", err)
	}
	if owner == nil {
		return "has no owner", nil
	}
	if !trusted(owner, self) {
		return fmt.Sprintf("is owned by %s, not by SYSTEM, Administrators or TrustedInstaller", account(owner)), nil
	}
	dacl, _, err := sd.DACL()
	if errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND) || (err == nil && dacl == nil) {
		return "has no DACL, so everyone may change it", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the DACL: %w", err)
	}
	for i := uint32(0); i < uint32(dacl.AceCount); i++ {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return "", fmt.Errorf("reading entry %d of the DACL: %w", i, err)
		}
		switch ace.Header.AceType {
		case windows.ACCESS_ALLOWED_ACE_TYPE:
		case windows.ACCESS_DENIED_ACE_TYPE, systemAuditACE, mandatoryLabelACE:
			continue
		default:
			if ace.Mask&writeRights == 0 {
				continue
			}
			return fmt.Sprintf("has a DACL entry of type %d granting write rights, which rootsync cannot judge", ace.Header.AceType), nil
		}
		if ace.Mask&writeRights == 0 {
			continue
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if trusted(sid, self) || sid.IsWellKnown(windows.WinCreatorOwnerSid) {
			continue
		}
		who := "is writable by " + account(sid)
		if ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 {
			who = "lets " + account(sid) + " change what is created in it"
		}
		return fmt.Sprintf("%s (%s)", who, rightNames(uint32(ace.Mask))), nil
	}
	return "", nil
}

// self is the user the process runs as, or nil when it cannot be told.
func self() *windows.SID {
	u, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil
	}
	return u.User.Sid
}

// checkACL reads the owner and DACL of path and refuses it when another
// account than the trusted ones could change it.
func checkACL(path, subject, fix string) error {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("%s: reading its owner and ACL: %w", subject, err)
	}
	problem, err := judge(sd, self())
	if err != nil {
		return fmt.Errorf("%s: %w", subject, err)
	}
	if problem == "" {
		return nil
	}
	return &Error{Path: path, Msg: subject + ": " + problem,
		Hint: "another account could make rootsync, running elevated, overwrite or create any file through it; " + fix}
}

// CheckStateDir checks, when elevated, that the state folder dir is a folder
// only SYSTEM, Administrators and TrustedInstaller (and the user rootsync
// runs as) can change. The folder must exist. Otherwise it does nothing.
func CheckStateDir(dir string) error {
	if !Enforced() {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	subject := "state folder " + dir
	if !fi.IsDir() {
		return &Error{Path: dir, Msg: subject + ": is not a folder", Hint: "give --state-dir (or ROOTSYNC_STATE_DIR) a folder"}
	}
	return checkACL(dir, subject, fmt.Sprintf("check what is in it, then remove the other accounts' rights (icacls \"%s\" /inheritance:r /grant:r SYSTEM:(OI)(CI)F Administrators:(OI)(CI)F) or choose another --state-dir", dir))
}

// stateDirSDDL gives SYSTEM and Administrators full access to the folder and
// what is created in it, nobody else any, and inherits nothing.
const stateDirSDDL = "O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"

// MkdirState creates the state folder dir if it is missing (when elevated,
// with a protected DACL for SYSTEM and Administrators alone) and then checks
// it with CheckStateDir.
func MkdirState(dir string) error {
	if !Enforced() {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("state folder: %w", err)
		}
		return nil
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
			return fmt.Errorf("state folder: %w", err)
		}
		if err := mkdirProtected(dir); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("state folder: %w", err)
		}
	}
	return CheckStateDir(dir)
}

func mkdirProtected(dir string) error {
	sd, err := windows.SecurityDescriptorFromString(stateDirSDDL)
	if err != nil {
		return err
	}
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return err
	}
	sa := windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
	if err := windows.CreateDirectory(p, &sa); err != nil {
		if errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
			return fs.ErrExist
		}
		return &fs.PathError{Op: "mkdir", Path: dir, Err: err}
	}
	return nil
}

// CheckFile checks, when elevated, that a file rootsync takes instructions
// from (what says which: "configuration file", "password file", "hook
// program") is a regular file only SYSTEM, Administrators and
// TrustedInstaller (and the user rootsync runs as) can change. A missing file
// is not this function's concern: it returns nil and the caller's open
// reports it. Otherwise it does nothing.
func CheckFile(path, what string) error {
	if !Enforced() {
		return nil
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	subject := what + " " + path
	if !fi.Mode().IsRegular() {
		return &Error{Path: path, Msg: subject + ": is not a regular file", Hint: "name the file itself"}
	}
	return checkACL(path, subject, fmt.Sprintf("remove the other accounts' rights (icacls \"%s\" /inheritance:r /grant:r SYSTEM:F Administrators:F) or keep it somewhere only administrators can change", path))
}

// CheckLinks does nothing on Windows.
func CheckLinks(path string) error { return nil }
