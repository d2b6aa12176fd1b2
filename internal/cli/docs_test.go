package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/stores/storetest"
)

func mainOutput(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := Main(args, &out, &errb); code != ExitOK {
		t.Fatalf("rootsync %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// TestManPage: mandoc's lint finds nothing to say, and every flag of every
// command is documented.
func TestManPage(t *testing.T) {
	page := mainOutput(t, "manpage")
	mandoc := storetest.Tool(t, "mandoc")
	f := filepath.Join(t.TempDir(), "rootsync.1")
	if err := os.WriteFile(f, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(mandoc, "-T", "lint", "-W", "all", f).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("mandoc -T lint: %v\n%s", err, out)
	}
	for _, c := range commands() {
		if !strings.Contains(page, `.SS "rootsync `+c.name) {
			t.Errorf("the manual page lacks command %s", c.name)
		}
		c.flagSet().VisitAll(func(fl *pflag.Flag) {
			if !strings.Contains(page, `\fB\-\-`+strings.ReplaceAll(fl.Name, "-", `\-`)+`\fR`) {
				t.Errorf("the manual page lacks %s --%s", c.name, fl.Name)
			}
		})
	}
}

// TestHelpCommand: 'rootsync help COMMAND' shows every flag of the command;
// an unknown command is a usage error.
func TestHelpCommand(t *testing.T) {
	for _, c := range commands() {
		out := mainOutput(t, "help", c.name)
		c.flagSet().VisitAll(func(fl *pflag.Flag) {
			if !strings.Contains(out, "--"+fl.Name) {
				t.Errorf("help %s lacks --%s", c.name, fl.Name)
			}
		})
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"help", "bogus"}, &out, &errb); code != ExitUsage || !strings.Contains(errb.String(), `"bogus"`) {
		t.Errorf("help bogus: exit %d, stderr %q; want exit 2 naming the command", code, errb.String())
	}
}

// TestBashCompletion calls the generated completion function the way bash
// does, with COMP_WORDS and COMP_CWORD set, and reads COMPREPLY.
func TestBashCompletion(t *testing.T) {
	bash := storetest.Tool(t, "bash")
	script := filepath.Join(t.TempDir(), "rootsync.bash")
	if err := os.WriteFile(script, []byte(mainOutput(t, "completion", "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	files := t.TempDir()
	for _, n := range []string{"client-ca.pem", "cacerts"} {
		if err := os.WriteFile(filepath.Join(files, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		words []string // the last one is being completed
		want  []string
	}{
		{"command", []string{"rootsync", "sy"}, []string{"sync"}},
		{"commands sharing a prefix", []string{"rootsync", "di"}, []string{"diff", "discover", "distrust"}},
		{"flag", []string{"rootsync", "sync", "--mo"}, []string{"--mode"}},
		{"flag value", []string{"rootsync", "sync", "--mode", ""}, []string{"add", "mirror", "prune"}},
		{"purpose", []string{"rootsync", "diff", "--purpose", "cl"}, []string{"client-auth"}},
		{"store kind", []string{"rootsync", "list", "ca"}, []string{"capath:"}},
		{"store kinds with a location or without", []string{"rootsync", "list", "sys"}, []string{"system", "system:"}},
		{"store location", []string{"rootsync", "sync", "system", "--to", "pem", ":", files + "/cl"}, []string{files + "/client-ca.pem"}},
		{"help topic", []string{"rootsync", "help", "ch"}, []string{"check"}},
		{"shell", []string{"rootsync", "completion", "f"}, []string{"fish"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var quoted []string
			for _, w := range tt.words {
				quoted = append(quoted, "'"+w+"'")
			}
			prog := "source " + script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
				"COMP_CWORD=" + strconv.Itoa(len(tt.words)-1) + "\n" +
				"_rootsync\nprintf '%s\\n' \"${COMPREPLY[@]}\" | sort\n"
			out, err := exec.Command(bash, "--norc", "--noprofile", "-c", prog).CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			got := strings.Fields(string(out))
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("COMPREPLY for %q = %q, want %q", tt.words, got, tt.want)
			}
		})
	}
}

// TestZshFishCompletionParse: the zsh and fish scripts are valid for their
// shells.
func TestZshFishCompletionParse(t *testing.T) {
	for _, sh := range []string{"zsh", "fish"} {
		t.Run(sh, func(t *testing.T) {
			prog := storetest.Tool(t, sh)
			f := filepath.Join(t.TempDir(), "rootsync."+sh)
			if err := os.WriteFile(f, []byte(mainOutput(t, "completion", sh)), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(prog, "-n", f).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", sh, err, out)
			}
		})
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"completion", "tcsh"}, &out, &errb); code != ExitUsage {
		t.Errorf("completion tcsh: exit %d, want 2", code)
	}
}
