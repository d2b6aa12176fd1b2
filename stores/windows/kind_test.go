package windows

import (
	"runtime"
	"slices"
	"testing"

	"github.com/rootsync/rootsync/stores"
)

func TestParseLocation(t *testing.T) {
	for _, tc := range []struct {
		spec, want string
		role       role
		companion  string
	}{
		{"windows:CurrentUser/Root", `CurrentUser\Root`, anchors, "Disallowed"},
		{"windows:localmachine/root", `LocalMachine\root`, anchors, "Disallowed"},
		{"windows:LocalMachine/CA", `LocalMachine\CA`, intermediates, "Disallowed"},
		{"windows:CurrentUser/Disallowed", `CurrentUser\Disallowed`, disallowed, "Disallowed"},
		{"windows:CurrentUser/Test?disallowed=TestBad", `CurrentUser\Test`, anchors, "TestBad"},
	} {
		spec, err := Kind().ParseSpec(tc.spec)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		l, err := parseLocation(spec)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if l.String() != tc.want || l.role != tc.role || l.companion != tc.companion {
			t.Errorf("%s: %s role %d companion %s", tc.spec, l, l.role, l.companion)
		}
	}
	for _, bad := range []string{
		"windows:Root", "windows:CurrentUser/", "windows:Service/Root", "windows:CurrentUser/a/b",
		"windows:CurrentUser/CA?disallowed=X", "windows:CurrentUser/Root?disallowed=Root",
	} {
		spec, err := Kind().ParseSpec(bad)
		if err != nil {
			continue
		}
		if _, err := parseLocation(spec); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestDiscover: on Windows the six system stores, elsewhere none.
func TestDiscover(t *testing.T) {
	found := discover("")
	if runtime.GOOS != "windows" {
		if len(found) != 0 {
			t.Fatalf("discover outside Windows: %v", found)
		}
		return
	}
	var specs []string
	for _, f := range found {
		specs = append(specs, f.Spec)
		spec, err := Kind().ParseSpec(f.Spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(spec, stores.OpenOptions{}); err != nil {
			t.Errorf("%s: %v", f.Spec, err)
		}
	}
	if !slices.Contains(specs, "windows:CurrentUser/Root") || !slices.Contains(specs, "windows:LocalMachine/Root") || len(specs) != 6 {
		t.Errorf("discover: %v", specs)
	}
}
