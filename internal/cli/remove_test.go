package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPasswdHomes(t *testing.T) {
	dir := t.TempDir()
	home := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	root, alice, bob, svc, nologin, nobody := home("root"), home("alice"), home("bob"), home("svc"), home("nologin"), home("nobody")
	passwd := strings.Join([]string{
		"root:x:0:0:root:" + root + ":/bin/bash",
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
		"svc:x:999:999::" + svc + ":/bin/sh",
		"alice:x:1000:1000:Alice:" + alice + ":/bin/bash",
		"locked:x:1001:1001::" + nologin + ":/usr/sbin/nologin",
		"nope:x:1002:1002::" + nologin + ":/bin/false",
		"ghost:x:1003:1003::" + filepath.Join(dir, "gone") + ":/bin/bash",
		"# a comment",
		"bob:x:1004:1004::" + bob + ":/bin/zsh",
		"nobody:x:65534:65534:nobody:" + nobody + ":/bin/sh",
	}, "\n")
	got, err := passwdHomes(strings.NewReader(passwd))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{root, alice, bob}; !slices.Equal(got, want) {
		t.Fatalf("passwdHomes = %v, want %v", got, want)
	}
	if _, err := passwdHomes(strings.NewReader("broken:x:0\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("a line with 3 fields: err = %v, want one naming line 1", err)
	}
}

func TestSplitFlag(t *testing.T) {
	rest, vals := splitFlag([]string{"abc", "--from", "pem:a", "pem:b", "-n", "--from=pem:c", "def", "--from", "pem:d"}, "from")
	if !slices.Equal(rest, []string{"abc", "-n", "def"}) || !slices.Equal(vals, []string{"pem:a", "pem:b", "pem:c", "pem:d"}) {
		t.Fatalf("splitFlag = %v, %v", rest, vals)
	}
}
