//go:build windows

package securefs

import (
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// TestJudgeACL judges constructed security descriptors: who may own the
// state folder and which DACL entries give away a right to change it.
func TestJudgeACL(t *testing.T) {
	for _, c := range []struct {
		name, sddl string
		want       string // "" accepted, else a part of the refusal
	}{
		{"system and administrators", "O:BAD:(A;;FA;;;SY)(A;;FA;;;BA)", ""},
		{"owned by SYSTEM", "O:SYD:(A;;FA;;;SY)", ""},
		{"TrustedInstaller", "O:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464D:(A;;FA;;;S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464)(A;;0x1200a9;;;BU)", ""},
		{"users may read", "O:BAD:(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)", ""},
		{"creator owner", "O:BAD:(A;OICIIO;GA;;;CO)(A;;FA;;;BA)", ""},
		{"deny entries grant nothing", "O:BAD:(D;;FA;;;WD)(A;;FA;;;BA)", ""},
		{"everyone may add a file", "O:BAD:(A;;FA;;;SY)(A;;0x2;;;WD)", "is writable by"},
		{"users may add a folder", "O:BAD:(A;;FA;;;BA)(A;CI;0x4;;;BU)", "FILE_APPEND_DATA/FILE_ADD_SUBDIRECTORY"},
		{"users may delete children", "O:BAD:(A;;FA;;;BA)(A;;0x40;;;BU)", "FILE_DELETE_CHILD"},
		{"users may change the ACL", "O:BAD:(A;;FA;;;BA)(A;;WD;;;BU)", "WRITE_DAC"},
		{"users may take ownership", "O:BAD:(A;;FA;;;BA)(A;;WO;;;BU)", "WRITE_OWNER"},
		{"authenticated users generic write", "O:BAD:(A;;FA;;;BA)(A;;GW;;;AU)", "GENERIC_WRITE"},
		{"everyone full", "O:BAD:(A;;FA;;;BA)(A;;GA;;;WD)", "GENERIC_ALL"},
		{"users delete", "O:BAD:(A;;FA;;;BA)(A;;SD;;;BU)", "DELETE"},
		{"inherited by what is created", "O:BAD:(A;;FA;;;BA)(A;OIIO;FA;;;BU)", "change what is created in it"},
		{"owned by users", "O:BUD:(A;;FA;;;SY)(A;;FA;;;BA)", "is owned by"},
		{"owned by a user account", "O:S-1-5-21-1-2-3-1001D:(A;;FA;;;BA)", "is owned by"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sd, err := windows.SecurityDescriptorFromString(c.sddl)
			if err != nil {
				t.Fatalf("SecurityDescriptorFromString(%q): %v", c.sddl, err)
			}
			got, err := judge(sd, nil)
			if err != nil {
				t.Fatalf("judge(%q): %v", c.sddl, err)
			}
			if c.want == "" && got != "" {
				t.Fatalf("judge(%q) refused: %s", c.sddl, got)
			}
			if c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("judge(%q) = %q, want a refusal saying %q", c.sddl, got, c.want)
			}
		})
	}
}

// TestJudgeNullDACL: a DACL that is present but NULL lets everyone do
// everything.
func TestJudgeNullDACL(t *testing.T) {
	sd, err := windows.NewSecurityDescriptor()
	if err != nil {
		t.Fatal(err)
	}
	ba, err := windows.CreateWellKnownSid(windows.WinBuiltinAdministratorsSid)
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.SetOwner(ba, false); err != nil {
		t.Fatal(err)
	}
	if err := sd.SetDACL(nil, true, false); err != nil {
		t.Fatal(err)
	}
	if got, err := judge(sd, nil); err != nil || !strings.Contains(got, "has no DACL") {
		t.Fatalf("judge(NULL DACL) = %q, %v; want a refusal saying %q", got, err, "has no DACL")
	}
	if err := sd.SetDACL(nil, false, false); err != nil {
		t.Fatal(err)
	}
	if got, err := judge(sd, nil); err != nil || !strings.Contains(got, "has no DACL") {
		t.Fatalf("judge(no DACL) = %q, %v; want a refusal saying %q", got, err, "has no DACL")
	}
}

// TestJudgeSelf: the user rootsync runs as may own and write the folder;
// another user may not.
func TestJudgeSelf(t *testing.T) {
	sd, err := windows.SecurityDescriptorFromString("O:S-1-5-21-1-2-3-1001D:(A;;FA;;;S-1-5-21-1-2-3-1001)(A;;FA;;;BA)")
	if err != nil {
		t.Fatal(err)
	}
	me, err := windows.StringToSid("S-1-5-21-1-2-3-1001")
	if err != nil {
		t.Fatal(err)
	}
	other, err := windows.StringToSid("S-1-5-21-1-2-3-1002")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := judge(sd, me); err != nil || got != "" {
		t.Fatalf("judge as the owner = %q, %v; want accepted", got, err)
	}
	if got, err := judge(sd, other); err != nil || !strings.Contains(got, "is owned by") {
		t.Fatalf("judge as another user = %q, %v; want refused for its owner", got, err)
	}
}

// TestProtectedStateDirSDDL: the DACL MkdirState gives a new state folder
// passes the check.
func TestProtectedStateDirSDDL(t *testing.T) {
	sd, err := windows.SecurityDescriptorFromString(stateDirSDDL)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := judge(sd, nil); err != nil || got != "" {
		t.Fatalf("judge(%q) = %q, %v; want accepted", stateDirSDDL, got, err)
	}
}
