package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/rootsync/rootsync/stores/storetest"
)

// The README's sections whose command examples TestReadmeExamples runs.
var readmeExampleSections = []string{"The two commands", "Examples"}

// readmeExample is one command line of an example block in the README, with
// the prose before its block (where the README states exit statuses).
type readmeExample struct {
	line    int
	command string
	prose   string
}

// readmeExamples returns the command lines of the indented and fenced blocks
// in the README sections named.
func readmeExamples(readme string, sections []string) []readmeExample {
	var out []readmeExample
	in, fenced := false, false
	var prose []string
	blank := true
	for i, l := range strings.Split(readme, "\n") {
		if strings.HasPrefix(l, "## ") {
			in = false
			for _, s := range sections {
				if strings.TrimSpace(l[3:]) == s {
					in = true
				}
			}
			prose, blank = nil, true
			continue
		}
		if !in {
			continue
		}
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
			continue
		}
		code := fenced || (strings.HasPrefix(l, "    ") && (blank || len(out) > 0 && out[len(out)-1].line == i))
		switch {
		case code && strings.TrimSpace(l) != "":
			out = append(out, readmeExample{line: i + 1, command: strings.TrimSpace(l), prose: strings.Join(prose, " ")})
		case strings.TrimSpace(l) == "":
			blank = true
			continue
		default:
			if blank {
				prose = nil
			}
			prose = append(prose, strings.TrimSpace(l))
		}
		blank = false
	}
	return out
}

// readmeOutcome is what the test expects of the README commands that match
// it: the exit status where the README does not state it, and testscript
// lines that check the effect.
type readmeOutcome struct {
	match  *regexp.Regexp
	status int
	// readmeSays, when not 0, is the exit status the README states before
	// the example for a case the example does not meet where it runs (the
	// test then requires that statement, and status).
	readmeSays int
	checks     []string
	skip       string // not run, and why
	used       bool
}

// readmeOutcomes are the documented outcomes of the README's examples. The
// commands themselves come from README.md; a README command no outcome
// matches fails the test, and so does an outcome no README command matches.
func readmeOutcomes() []*readmeOutcome {
	return []*readmeOutcome{
		{match: regexp.MustCompile(`^scripts/test\.sh$`), skip: "it runs these tests"},
		{match: regexp.MustCompile(`^rootsync list pem:\S+/etc/ssl/certs/ca-certificates\.crt$`), checks: []string{
			"stdout 'Public Web Root 1'",
		}},
		{match: regexp.MustCompile(`^cp corp-root\.crt \S+/usr/local/share/ca-certificates/?$`), checks: []string{
			"exists $WORK/root/usr/local/share/ca-certificates/corp-root.crt",
		}},
		{match: regexp.MustCompile(`^exec update-ca-certificates `), checks: []string{
			"rootsync list pem:$WORK/root/etc/ssl/certs/ca-certificates.crt",
			"stdout 'Corp Root'",
		}},
		// nginx's client-CA file gets the organisation's root, not the
		// public ones: OpenSSL accepts a client of the one and rejects one
		// of the others.
		{match: regexp.MustCompile(`^rootsync sync system:\S+ --to pem:\S+/etc/nginx/client-ca\.pem --purpose client-auth`), checks: []string{
			"rootsync list pem:$WORK/root/etc/nginx/client-ca.pem",
			"stdout 'Corp Root'",
			"! stdout 'Public Web Root'",
			"exec openssl verify -purpose sslclient -CAfile $WORK/root/etc/nginx/client-ca.pem corp-user.pem",
			"! exec openssl verify -purpose sslclient -CAfile $WORK/root/etc/nginx/client-ca.pem alice.pem",
		}},
		{match: regexp.MustCompile(`^rootsync sync system:\S+ --to nss:\$HOME/\.pki/nssdb`), checks: []string{
			"exec certutil -L -d sql:$HOME/.pki/nssdb",
			"stdout 'Corp Root'",
			"! stdout 'Public Web Root'",
		}},
		// Alice's browser trusts Partner Root for client certificates and
		// Intranet Root only for servers.
		{match: regexp.MustCompile(`^rootsync sync nss:\S+/home/alice/\.pki/nssdb --to pem:\S+/etc/nginx/client-ca\.pem --purpose client-auth`), checks: []string{
			"rootsync list pem:$WORK/root/etc/nginx/client-ca.pem",
			"stdout 'Partner Root'",
			"stdout 'Corp Root'",
			"! stdout 'Intranet Root'",
			"exec openssl verify -purpose sslclient -CAfile $WORK/root/etc/nginx/client-ca.pem partner-user.pem",
		}},
		// A report, and nothing written.
		{match: regexp.MustCompile(`^rootsync diff system:\S+ --to capath:\S+ jks:\S+ .*--output json > plan\.json$`), status: 3, checks: []string{
			"grep 'CN=Corp Root' plan.json",
			"grep 'Public Web Root 1' plan.json",
			"! exists $WORK/root/etc/apache2/ssl.crt",
			"! exists $WORK/root/etc/ssl/certs/java/cacerts",
		}},
		// alice.pem was issued by a public root, which neither the client-CA
		// file nor nginx's trusted file holds.
		{match: regexp.MustCompile(`^rootsync check alice\.pem --store pem:\S+/etc/nginx/client-ca\.pem( |$)`), status: 4, checks: []string{
			"stdout 'reject'",
		}},
		{match: regexp.MustCompile(`^rootsync run --config \S+ --dry-run$`), status: 3, checks: []string{
			"! exists $WORK/root/etc/apache2/ssl.crt",
		}},
		{match: regexp.MustCompile(`^rootsync run --config \S+ --cron$`), checks: []string{
			"exec openssl verify -purpose sslclient -CApath $WORK/root/etc/apache2/ssl.crt corp-user.pem",
			"! exec openssl verify -purpose sslclient -CApath $WORK/root/etc/apache2/ssl.crt alice.pem",
			// Quiet when nothing changed.
			"rootsync run --config $WORK/root/etc/rootsync/config.yaml --cron",
			"! stdout .",
			"! stderr .",
		}},
		// In sync after the nightly run; 3 is for a job that is not.
		{match: regexp.MustCompile(`^rootsync status --config \S+$`), readmeSays: 3, checks: []string{
			"stdout 'Corp Root'",
			"stdout 'apache-clients'",
		}},
	}
}

// readmeFixture prepares what the examples act on: a Debian tree at
// $WORK/root whose system store trusts three packaged public roots (built by
// update-ca-certificates itself), the organisation's new root corp-root.crt,
// Alice's NSS database, the user's own NSS database, client certificates,
// and a configuration file for rootsync run.
const readmeFixture = `mkdir root/usr/share/ca-certificates/mozilla root/usr/local/share/ca-certificates root/etc/ssl/certs root/etc/ca-certificates/update.d root/etc/nginx root/etc/rootsync root/etc/apache2 root/etc/ssl/certs/java
mkdir root/home/alice/.pki/nssdb home/.pki/nssdb
cp os-release root/etc/os-release
cp ca-certificates.conf root/etc/ca-certificates.conf
pki root 'Public Web Root 1' root/usr/share/ca-certificates/mozilla/Public_Web_Root_1.crt
pki root 'Public Web Root 2' root/usr/share/ca-certificates/mozilla/Public_Web_Root_2.crt
pki root 'Public Web Root 3' root/usr/share/ca-certificates/mozilla/Public_Web_Root_3.crt
exec update-ca-certificates --certsconf $WORK/root/etc/ca-certificates.conf --certsdir $WORK/root/usr/share/ca-certificates --localcertsdir $WORK/root/usr/local/share/ca-certificates --etccertsdir $WORK/root/etc/ssl/certs --hooksdir $WORK/root/etc/ca-certificates/update.d
pki root 'Corp Root' corp-root.crt
pki leaf 'Corp Root' 'corp user' corp-user.pem
pki leaf 'Public Web Root 1' alice alice.pem
pki root 'Partner Root' partner.pem
pki leaf 'Partner Root' 'partner user' partner-user.pem
pki root 'Intranet Root' intranet.pem
exec certutil -N --empty-password -d sql:$WORK/root/home/alice/.pki/nssdb
exec certutil -A -n partner -t CT,, -i partner.pem -d sql:$WORK/root/home/alice/.pki/nssdb
exec certutil -A -n intranet -t C,, -i intranet.pem -d sql:$WORK/root/home/alice/.pki/nssdb
exec certutil -N --empty-password -d sql:$HOME/.pki/nssdb
expandenv config.yaml root/etc/rootsync/config.yaml
cp corp-root.crt root/etc/nginx/trusted.pem

`

const readmeFixtureFiles = `
-- os-release --
ID=debian
-- ca-certificates.conf --
mozilla/Public_Web_Root_1.crt
mozilla/Public_Web_Root_2.crt
mozilla/Public_Web_Root_3.crt
-- config.yaml --
jobs:
  apache-clients:
    sources: [system:$WORK/root]
    targets: [capath:$WORK/root/etc/apache2/ssl.crt]
    purposes: [client-auth]
`

// readmeScriptLines turns one README command line into testscript lines,
// changing only paths: every absolute path P becomes $WORK/root/P (a
// sandbox tree), the spec system becomes system:$WORK/root (a Debian tree),
// $HOME is a test folder, sudo is dropped, rootsync run reads the sandbox's
// /etc/rootsync/config.yaml (its default as root), as does rootsync status, and update-ca-certificates
// is given the sandbox's folders. It returns an error for a command it
// cannot run that way.
func readmeScriptLines(command string) ([]string, error) {
	c := command
	if i := strings.Index(c, " #"); i >= 0 {
		c = strings.TrimSpace(c[:i])
	}
	// A crontab line: five time fields and a user, then the command.
	if m := regexp.MustCompile(`^(\S+\s+){5}root\s+(.*)$`).FindStringSubmatch(c); m != nil && strings.ContainsAny(m[1], "*0123456789") {
		c = m[2]
	}
	var out []string
	for _, part := range strings.Split(c, " && ") {
		if strings.ContainsAny(part, "'\"|;`<") {
			return nil, fmt.Errorf("%q: quotes, pipes and other shell syntax are not run by this test", part)
		}
		args := strings.Fields(part)
		redirect := ""
		if n := len(args); n >= 2 && args[n-2] == ">" {
			redirect, args = args[n-1], args[:n-2]
		}
		if len(args) > 0 && args[0] == "sudo" {
			args = args[1:]
		}
		if len(args) == 0 {
			return nil, fmt.Errorf("%q: no command", part)
		}
		if len(args) >= 3 && args[0] == "go" && args[1] == "run" && args[2] == "./cmd/rootsync" {
			args = append([]string{"rootsync"}, args[3:]...)
		}
		for i, a := range args {
			args[i] = readmeSandboxPath(a)
		}
		switch filepath.Base(args[0]) {
		case "rootsync":
			args[0] = "rootsync"
			if len(args) > 1 && (args[1] == "run" || args[1] == "status") && !hasFlag(args, "--config", "-c") {
				args = append([]string{"rootsync", args[1], "--config", "$WORK/root/etc/rootsync/config.yaml"}, args[2:]...)
			}
		case "cp":
		case "update-ca-certificates":
			if len(args) > 1 {
				return nil, fmt.Errorf("%q: update-ca-certificates with options", part)
			}
			args = strings.Fields("exec update-ca-certificates --certsconf $WORK/root/etc/ca-certificates.conf --certsdir $WORK/root/usr/share/ca-certificates --localcertsdir $WORK/root/usr/local/share/ca-certificates --etccertsdir $WORK/root/etc/ssl/certs --hooksdir $WORK/root/etc/ca-certificates/update.d")
		case "test.sh":
		default:
			return nil, fmt.Errorf("%q: %s is not a command this test runs", part, args[0])
		}
		line := strings.Join(args, " ")
		if redirect != "" {
			line += " > " + redirect
		}
		out = append(out, line)
	}
	return out, nil
}

func hasFlag(args []string, names ...string) bool {
	for _, a := range args {
		for _, n := range names {
			if a == n || strings.HasPrefix(a, n+"=") {
				return true
			}
		}
	}
	return false
}

// readmeSandboxPath moves an absolute path, alone or as a spec's location,
// under $WORK/root.
func readmeSandboxPath(a string) string {
	if a == "system" {
		return "system:$WORK/root"
	}
	prefix := ""
	if i := strings.Index(a, ":"); i > 0 && regexp.MustCompile(`^[a-z0-9]+$`).MatchString(a[:i]) {
		prefix, a = a[:i+1], a[i+1:]
	}
	if strings.HasPrefix(a, "/") && !strings.HasPrefix(a, "/usr/local/bin/") {
		a = "$WORK/root" + a
	}
	return prefix + a
}

var readmeStatus = regexp.MustCompile(`exit status (\d)`)

// TestReadmeExamples runs the command examples of README.md's sections
// "The two commands" and "Examples", in order, against a sandbox tree, with
// only their paths changed (see readmeScriptLines), and checks each one's
// exit status (the one the README states before the block, else the
// expected one) and its effect on the stores.
func TestReadmeExamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The programs the examples and their checks run, found as CI needs
	// them (skipped outside CI when missing, failed in it).
	var toolDirs []string
	for _, tool := range []string{"update-ca-certificates", "certutil", "openssl"} {
		toolDirs = append(toolDirs, filepath.Dir(storetest.Tool(t, tool)))
	}
	examples := readmeExamples(string(b), readmeExampleSections)
	if len(examples) == 0 {
		t.Fatalf("README.md: no examples in the sections %q", readmeExampleSections)
	}
	outcomes := readmeOutcomes()
	var script strings.Builder
	script.WriteString(readmeFixture)
	for _, ex := range examples {
		steps, err := readmeScriptLines(ex.command)
		if err != nil {
			t.Errorf("README.md:%d: %v", ex.line, err)
			continue
		}
		fmt.Fprintf(&script, "# README.md:%d: %s\n", ex.line, ex.command)
		for _, step := range steps {
			var o *readmeOutcome
			for _, oc := range outcomes {
				if oc.match.MatchString(step) {
					o = oc
					break
				}
			}
			if o == nil {
				t.Errorf("README.md:%d: %s (run as %s): no outcome of this test describes it", ex.line, ex.command, step)
				continue
			}
			o.used = true
			if o.skip != "" {
				fmt.Fprintf(&script, "# not run: %s\n", o.skip)
				continue
			}
			want := o.status
			says := 0
			if m := readmeStatus.FindStringSubmatch(ex.prose); m != nil && !strings.Contains(ex.command, " #") {
				says, _ = strconv.Atoi(m[1])
			}
			switch {
			case o.readmeSays != 0 && says != o.readmeSays:
				t.Errorf("README.md:%d: the README no longer says exit status %d before %s", ex.line, o.readmeSays, ex.command)
			case o.readmeSays == 0 && says != 0 && o.status != 0 && o.status != says:
				t.Errorf("README.md:%d: the README says exit status %d, the test expects %d", ex.line, says, o.status)
			case o.readmeSays == 0 && says != 0:
				want = says
			}
			redirect := ""
			if i := strings.Index(step, " > "); i >= 0 {
				step, redirect = step[:i], step[i+3:]
			}
			if strings.HasPrefix(step, "rootsync ") {
				fmt.Fprintf(&script, "status %d %s\n", want, step)
			} else {
				script.WriteString(step + "\n")
			}
			if redirect != "" {
				fmt.Fprintf(&script, "cp stdout %s\n", redirect)
			}
			for _, c := range o.checks {
				script.WriteString(c + "\n")
			}
		}
		script.WriteString("\n")
	}
	for _, o := range outcomes {
		if !o.used {
			t.Errorf("README.md: no example matches %s any more (change the test with the README)", o.match)
		}
	}
	if t.Failed() {
		return
	}
	script.WriteString(readmeFixtureFiles)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "readme.txtar"), []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		t.Logf("the README's examples as a script:\n%s", script.String())
	}
	testscript.Run(t, testscript.Params{
		Dir: dir,
		Setup: func(e *testscript.Env) error {
			e.Setenv("ROOTSYNC_STATE_DIR", filepath.Join(e.WorkDir, "state"))
			e.Setenv("HOME", filepath.Join(e.WorkDir, "home"))
			e.Setenv("PATH", strings.Join(append(toolDirs, e.Getenv("PATH")), string(os.PathListSeparator)))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"pki":       cmdPKI,
			"status":    cmdStatus,
			"expandenv": cmdExpandEnv,
		},
	})
}

// cmdExpandEnv copies a file with $VAR references expanded:
//
//	expandenv SRC DST
func cmdExpandEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: expandenv SRC DST")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	if err != nil {
		ts.Fatalf("%v", err)
	}
	if err := os.WriteFile(ts.MkAbs(args[1]), []byte(os.Expand(string(b), ts.Getenv)), 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
}
