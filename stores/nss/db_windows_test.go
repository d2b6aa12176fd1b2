//go:build windows

package nss

import (
	"strings"
	"testing"
)

// TestDSNWindowsPath: a Windows path becomes a SQLite URI SQLite opens
// (file:///C:/...), not one with backslashes or a drive as the authority.
func TestDSNWindowsPath(t *testing.T) {
	got := dsn(`C:\Users\a b\AppData\Roaming\Mozilla\Firefox\Profiles\x.default\cert9.db`, false)
	want := "file:///C:/Users/a%20b/AppData/Roaming/Mozilla/Firefox/Profiles/x.default/cert9.db?mode=ro"
	if !strings.HasPrefix(got, want) {
		t.Errorf("dsn = %s, want %s...", got, want)
	}
}
