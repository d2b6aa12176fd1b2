package cli

import (
	"fmt"
	"io"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/internal/storekinds"
	"github.com/rootsync/rootsync/stores"
)

// This file derives help, the manual page and the shell completions from the
// command table and each command's flags, so they cannot drift apart.

// flagValues lists the values of flags that take one of a few words, for the
// completions.
func flagValues() map[string][]string {
	var purposes []string
	for _, p := range stores.Purposes {
		purposes = append(purposes, p.String())
	}
	return map[string][]string{
		"output":     {"text", "json"},
		"log-format": {"console", "json"},
		"mode":       {"add", "prune", "mirror"},
		"purpose":    purposes,
		"crl-check":  {"chain", "leaf"},
	}
}

// What the other flags' values are, for the completions.
var (
	fileFlags  = map[string]bool{"password-file": true, "config": true, "intermediates": true, "crl": true}
	dirFlags   = map[string]bool{"state-dir": true}
	storeFlags = map[string]bool{"to": true, "store": true, "also": true}
)

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func (c command) flagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	c.flags(fs)
	return fs
}

// commandHelp prints what 'rootsync COMMAND --help' prints, to w.
func commandHelp(w io.Writer, name string) error {
	c, ok := findCommand(name)
	if !ok {
		return usagef("help: unknown command %q", name)
	}
	fmt.Fprintf(w, "usage: rootsync %s %s\n\n%s\n\nflags:\n", c.name, c.args, c.summary)
	fmt.Fprint(w, c.flagSet().FlagUsages())
	fmt.Fprintln(w)
	storeHelp(w)
	return nil
}

type docFlag struct {
	name, short, value, usage, def string
}

// docFlags lists a command's flags in name order, as help shows them.
func docFlags(c command) []docFlag {
	var out []docFlag
	c.flagSet().VisitAll(func(f *pflag.Flag) {
		value, usage := pflag.UnquoteUsage(f)
		def := ""
		switch f.Value.Type() {
		case "bool":
			value = ""
		case "stringSlice", "stringArray":
			if f.DefValue != "[]" {
				def = f.DefValue
			}
		default:
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" {
				def = f.DefValue
			}
		}
		if vs, ok := flagValues()[f.Name]; ok {
			value = strings.Join(vs, "|")
		} else if value != "" {
			value = valueName(f.Name, value)
		}
		out = append(out, docFlag{name: f.Name, short: f.Shorthand, value: value, usage: usage, def: def})
	})
	return out
}

// valueName names a flag's value in help texts, in place of pflag's type
// names.
func valueName(flag, typ string) string {
	switch {
	case storeFlags[flag]:
		return "STORE"
	case fileFlags[flag]:
		return "FILE"
	case dirFlags[flag]:
		return "DIR"
	}
	switch flag {
	case "exclude", "only":
		return "FINGERPRINT"
	case "password-env":
		return "VAR"
	case "job":
		return "NAME"
	case "at":
		return "TIME"
	}
	switch typ {
	case "int":
		return "N"
	case "duration":
		return "DURATION"
	}
	return "VALUE"
}

// exitStatuses documents the exit statuses, in order.
var exitStatuses = []struct {
	code int
	text string
}{
	{ExitOK, "success; for diff: in sync; for check: accepted"},
	{ExitError, "an error; the message names the store, file and entry, and a hint line says what to do"},
	{ExitUsage, "a usage error, or a mistake in the configuration file; nothing was touched"},
	{ExitDrift, "differences found (diff, sync --dry-run, run --dry-run)"},
	{ExitRejected, "check: the certificate would be rejected"},
	{ExitBusy, "another rootsync run holds the lock"},
}

// roff escapes text for a man(7) page.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// wrapText writes s as roff text lines of at most 78 bytes where words
// allow (mandoc's lint asks for 80).
func wrapText(b *strings.Builder, s string) {
	line := 0
	for i, word := range strings.Fields(s) {
		if i > 0 {
			if line+1+len(word) > 78 {
				b.WriteString("\n")
				line = 0
			} else {
				b.WriteString(" ")
				line++
			}
		}
		if line == 0 && (strings.HasPrefix(word, ".") || strings.HasPrefix(word, "'")) {
			word = `\&` + word
		}
		b.WriteString(word)
		line += len(word)
	}
	b.WriteString("\n")
}

// isCommonFlag reports whether every command has the flag.
func isCommonFlag(name string) bool {
	fs := pflag.NewFlagSet("common", pflag.ContinueOnError)
	new(commonOptions).AddFlags(fs)
	return fs.Lookup(name) != nil
}

func manFlag(b *strings.Builder, f docFlag) {
	b.WriteString(".TP\n")
	if f.short != "" {
		fmt.Fprintf(b, "\\fB\\-%s\\fR, ", roff(f.short))
	}
	fmt.Fprintf(b, "\\fB\\-\\-%s\\fR", roff(f.name))
	if f.value != "" {
		fmt.Fprintf(b, " \\fI%s\\fR", roff(f.value))
	}
	b.WriteString("\n")
	text := f.usage
	if f.def != "" {
		text += " (default " + f.def + ")"
	}
	wrapText(b, roff(text))
}

// manDate is the date of the revision the binary was built from, or "".
func manDate() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" && len(s.Value) >= 10 {
				return s.Value[:10]
			}
		}
	}
	return ""
}

// manPage writes rootsync(1) in man(7) format.
func manPage(w io.Writer) error {
	var b strings.Builder
	date := manDate()
	if date == "" {
		date = "2026-01-01"
	}
	fmt.Fprintf(&b, ".TH ROOTSYNC 1 %s \"rootsync\" \"User Commands\"\n", date)
	b.WriteString(".SH NAME\nrootsync \\- keep a machine's trust stores in agreement\n")
	b.WriteString(".SH SYNOPSIS\n.B rootsync\n.I command\n.RI [ flags ]\n.br\n.B rootsync help\n.I command\n.br\n.B rootsync \\-\\-version\n")
	b.WriteString(".SH DESCRIPTION\n")
	wrapText(&b, roff("rootsync keeps the trust stores of a machine in agreement: the system store, the browsers' NSS databases, a web server's CA file or hashed CA folder, and Java's truststores. It reads each store natively, computes a plan (what to add, remove or re-trust in each target, and why), shows it, and applies it all-or-nothing with a backup first."))
	b.WriteString(".PP\n")
	wrapText(&b, roff("Passwords never go on the command line: they come from an environment variable or a file."))
	b.WriteString(".SH COMMANDS\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, ".SS \"rootsync %s %s\"\n", c.name, roff(c.args))
		wrapText(&b, roff(c.summary))
		for _, f := range docFlags(c) {
			if !isCommonFlag(f.name) {
				manFlag(&b, f)
			}
		}
	}
	b.WriteString(".SS \"rootsync completion bash|zsh|fish\"\n" + roff("print a shell completion script") + "\n")
	b.WriteString(".SS \"rootsync manpage\"\n" + roff("print this manual page") + "\n")
	b.WriteString(".SH COMMON FLAGS\n")
	wrapText(&b, roff("Every command above takes these:"))
	for _, f := range docFlags(commands()[0]) {
		if isCommonFlag(f.name) {
			manFlag(&b, f)
		}
	}
	b.WriteString(".SH STORES\n")
	wrapText(&b, roff("A store is named by a spec KIND:LOCATION, optionally followed by ?OPTION=VALUE&... In a location, '?' is written %3F and '%' is %25."))
	for _, k := range storekinds.Registry().Kinds() {
		fmt.Fprintf(&b, ".TP\n.B %s\n", roff(k.Usage()))
		wrapText(&b, roff(k.Summary))
		for _, sh := range k.Shorthands {
			note := ""
			if sh.Note != "" {
				note = ": " + sh.Note
			}
			b.WriteString(".br\n")
			wrapText(&b, "shorthand \\fB"+roff(k.Name+":"+sh.Form)+"\\fR"+roff(note))
		}
		for _, o := range k.Options {
			b.WriteString(".br\n")
			wrapText(&b, "option \\fB?"+roff(o.Name)+"=\\fR\\fI"+roff(o.Value)+"\\fR: "+roff(o.Meaning))
		}
	}
	b.WriteString(".SH EXIT STATUS\n")
	for _, s := range exitStatuses {
		fmt.Fprintf(&b, ".TP\n.B %d\n", s.code)
		wrapText(&b, roff(s.text))
	}
	b.WriteString(".SH ENVIRONMENT\n")
	b.WriteString(".TP\n.B ROOTSYNC_STATE_DIR\n")
	wrapText(&b, roff("where backups, the lock and the journal live, when --state-dir is not given"))
	b.WriteString(".TP\n.B NO_COLOR\n" + roff("when set, output is never coloured") + "\n")
	b.WriteString(".SH FILES\n")
	b.WriteString(".TP\n.I /etc/rootsync/config.yaml\n")
	wrapText(&b, roff("the jobs of rootsync run, for root (other users: ~/.config/rootsync/config.yaml)"))
	b.WriteString(".TP\n.I /var/lib/rootsync\n")
	wrapText(&b, roff("backups, lock and journal, for root (other users: ~/.local/state/rootsync)"))
	b.WriteString(".SH EXAMPLES\n")
	wrapText(&b, roff("Show what a sync would change, changing nothing (exit status 3 when there are differences):"))
	b.WriteString(".PP\n.RS\n.EX\n" + roff("rootsync diff system --to capath:/etc/apache2/ssl.crt") + "\n.EE\n.RE\n")
	b.WriteString(".PP\n" + roff("Explain why nginx would reject a client certificate:") + "\n")
	b.WriteString(".PP\n.RS\n.EX\n" + roff("rootsync check alice.pem --store pem:/etc/nginx/client-ca.pem") + "\n.EE\n.RE\n")
	b.WriteString(".SH SEE ALSO\n.BR openssl (1),\n.BR certutil (1),\n.BR keytool (1),\n.BR update\\-ca\\-certificates (8)\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// runCompletion prints the completion script for a shell.
func runCompletion(w io.Writer, args []string) error {
	if len(args) != 1 {
		return usagef("completion needs one shell: rootsync completion bash|zsh|fish")
	}
	switch args[0] {
	case "bash":
		return bashCompletion(w)
	case "zsh":
		return zshCompletion(w)
	case "fish":
		return fishCompletion(w)
	}
	return usagef("completion: unknown shell %q (want bash, zsh or fish)", args[0])
}

func commandNames() []string {
	var out []string
	for _, c := range commands() {
		out = append(out, c.name)
	}
	return append(out, "help", "completion", "manpage")
}

func kindPrefixes() []string {
	var out []string
	for _, k := range storekinds.Registry().Kinds() {
		if k.LocationOptional {
			out = append(out, k.Name)
		}
		out = append(out, k.Name+":")
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func bashCompletion(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# bash completion for rootsync; generated by 'rootsync completion bash'\n")
	b.WriteString("_rootsync() {\n\tlocal cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"\"\n")
	b.WriteString("\t((COMP_CWORD > 0)) && prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n\tCOMPREPLY=()\n")
	fmt.Fprintf(&b, "\tif ((COMP_CWORD == 1)); then\n\t\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n\t\treturn\n\tfi\n", strings.Join(commandNames(), " "))
	b.WriteString("\tlocal cmd=\"${COMP_WORDS[1]}\"\n")
	b.WriteString("\tcase \"$cmd\" in\n")
	fmt.Fprintf(&b, "\thelp) COMPREPLY=($(compgen -W %q -- \"$cur\")); return ;;\n", strings.Join(commandNames()[:len(commands())], " "))
	b.WriteString("\tcompletion) COMPREPLY=($(compgen -W \"bash zsh fish\" -- \"$cur\")); return ;;\n\tesac\n")
	// Values of flags.
	b.WriteString("\tcase \"$prev\" in\n")
	values := flagValues()
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "\t--%s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return ;;\n", n, strings.Join(values[n], " "))
	}
	for _, n := range sortedKeys(fileFlags) {
		fmt.Fprintf(&b, "\t--%s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", n)
	}
	for _, n := range sortedKeys(dirFlags) {
		fmt.Fprintf(&b, "\t--%s) COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n", n)
	}
	b.WriteString("\tesac\n")
	// Flags of each command.
	b.WriteString("\tif [[ \"$cur\" == -* ]]; then\n\t\tlocal flags=\"\"\n\t\tcase \"$cmd\" in\n")
	for _, c := range commands() {
		var fl []string
		for _, f := range docFlags(c) {
			fl = append(fl, "--"+f.name)
		}
		fmt.Fprintf(&b, "\t\t%s) flags=%q ;;\n", c.name, strings.Join(fl, " "))
	}
	b.WriteString("\t\tesac\n\t\tCOMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n\t\treturn\n\tfi\n")
	// Store specs. Bash splits "pem:/x" at the colon (COMP_WORDBREAKS), so
	// after "KIND" ":" the word is the location: complete paths.
	b.WriteString("\tif [[ \"$prev\" == : ]]; then\n\t\tCOMPREPLY=($(compgen -f -- \"$cur\"))\n\t\treturn\n\tfi\n")
	b.WriteString("\tcase \"$cmd\" in\n\tcheck) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n")
	fmt.Fprintf(&b, "\tlist|diff|sync) COMPREPLY=($(compgen -W %q -- \"$cur\")); compopt -o nospace 2>/dev/null ;;\n", strings.Join(kindPrefixes(), " "))
	b.WriteString("\tesac\n}\ncomplete -F _rootsync rootsync\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// zshQuote makes text safe inside a zsh _arguments description.
var zshUnsafe = regexp.MustCompile(`[\[\]:'\\$` + "`" + `]`)

func zshText(s string) string {
	s = zshUnsafe.ReplaceAllString(s, "")
	if i := strings.IndexAny(s, ";("); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

func zshCompletion(w io.Writer) error {
	var b strings.Builder
	b.WriteString("#compdef rootsync\n# zsh completion for rootsync; generated by 'rootsync completion zsh'\n\n")
	b.WriteString("_rootsync_store() {\n\tif compset -P '*:'; then\n\t\t_files\n\telse\n")
	fmt.Fprintf(&b, "\t\tcompadd -S '' -- %s\n\tfi\n}\n\n", strings.Join(kindPrefixes(), " "))
	b.WriteString("_rootsync() {\n\tlocal -a cmds\n\tcmds=(\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "\t\t'%s:%s'\n", c.name, zshText(c.summary))
	}
	b.WriteString("\t\t'help:help for a command'\n\t\t'completion:print a shell completion script'\n\t\t'manpage:print the manual page'\n\t)\n")
	b.WriteString("\tif (( CURRENT == 2 )); then\n\t\t_describe 'command' cmds\n\t\treturn\n\tfi\n")
	b.WriteString("\tlocal cmd=$words[2]\n\tshift words\n\t(( CURRENT-- ))\n\tcase $cmd in\n")
	values := flagValues()
	for _, c := range commands() {
		fmt.Fprintf(&b, "\t%s)\n\t\t_arguments -s \\\n", c.name)
		for _, f := range docFlags(c) {
			action := ""
			switch {
			case values[f.name] != nil:
				action = fmt.Sprintf(":%s:(%s)", f.name, strings.Join(values[f.name], " "))
			case fileFlags[f.name]:
				action = ":file:_files"
			case dirFlags[f.name]:
				action = ":folder:_files -/"
			case storeFlags[f.name]:
				action = ":store:_rootsync_store"
			case f.value != "":
				action = ":" + zshText(strings.ToLower(f.value)) + ":"
			}
			rep := ""
			if strings.Contains(f.usage, "repeat") {
				rep = "*"
			}
			fmt.Fprintf(&b, "\t\t\t'%s--%s[%s]%s' \\\n", rep, f.name, zshText(f.usage), action)
		}
		arg := "'*:store:_rootsync_store'"
		if c.name == "check" {
			arg = "'1:certificate:_files'"
		} else if c.name == "run" || c.name == "discover" || c.name == "restore" {
			arg = "'*::'"
		}
		fmt.Fprintf(&b, "\t\t\t%s\n\t\t;;\n", arg)
	}
	fmt.Fprintf(&b, "\thelp) _values 'command' %s ;;\n", strings.Join(commandNames()[:len(commands())], " "))
	b.WriteString("\tcompletion) _values 'shell' bash zsh fish ;;\n\tesac\n}\n\n_rootsync \"$@\"\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// fishText makes text safe inside single quotes in fish.
func fishText(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

func fishCompletion(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# fish completion for rootsync; generated by 'rootsync completion fish'\n")
	b.WriteString("complete -c rootsync -f\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "complete -c rootsync -n __fish_use_subcommand -a %s -d '%s'\n", c.name, fishText(c.summary))
	}
	b.WriteString("complete -c rootsync -n __fish_use_subcommand -a help -d 'help for a command'\n")
	b.WriteString("complete -c rootsync -n __fish_use_subcommand -a completion -d 'print a shell completion script'\n")
	b.WriteString("complete -c rootsync -n __fish_use_subcommand -a manpage -d 'print the manual page'\n")
	fmt.Fprintf(&b, "complete -c rootsync -n '__fish_seen_subcommand_from help' -a '%s'\n", strings.Join(commandNames()[:len(commands())], " "))
	b.WriteString("complete -c rootsync -n '__fish_seen_subcommand_from completion' -a 'bash zsh fish'\n")
	values := flagValues()
	for _, c := range commands() {
		for _, f := range docFlags(c) {
			line := fmt.Sprintf("complete -c rootsync -n '__fish_seen_subcommand_from %s' -l %s", c.name, f.name)
			if f.short != "" {
				line += " -s " + f.short
			}
			switch {
			case values[f.name] != nil:
				line += fmt.Sprintf(" -x -a '%s'", strings.Join(values[f.name], " "))
			case fileFlags[f.name], dirFlags[f.name]:
				line += " -r -F"
			case storeFlags[f.name]:
				line += fmt.Sprintf(" -x -a '%s'", strings.Join(kindPrefixes(), " "))
			case f.value != "":
				line += " -x"
			}
			line += fmt.Sprintf(" -d '%s'", fishText(f.usage))
			b.WriteString(line + "\n")
		}
	}
	fmt.Fprintf(&b, "complete -c rootsync -n '__fish_seen_subcommand_from list diff sync' -a '%s'\n", strings.Join(kindPrefixes(), " "))
	b.WriteString("complete -c rootsync -n '__fish_seen_subcommand_from check' -F\n")
	_, err := io.WriteString(w, b.String())
	return err
}
