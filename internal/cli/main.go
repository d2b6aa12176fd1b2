// Package cli is rootsync's command line: flags, commands, output streams and
// exit codes. It is the only package that sees the program's arguments. Each
// command builds a result value and hands it to internal/report, which
// prints it on stdout (one JSON document with --output json), and returns
// an error; exitStatus, the one exit path, prints errors (prefixed
// "rootsync: ") and their hints ("hint: ") on stderr and maps them to the
// exit status.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/rootsync/rootsync/internal/report"
	"github.com/rootsync/rootsync/internal/storekinds"
)

// Exit statuses: the contract scripts rely on.
const (
	ExitOK       = 0 // success, or in sync
	ExitError    = 1 // something failed; nothing was left half-written
	ExitUsage    = 2 // the command line is wrong
	ExitDrift    = 3 // differences found (diff, sync --dry-run, run --dry-run)
	ExitRejected = 4 // check: the server would reject the certificate
	ExitBusy     = 5 // another rootsync run holds the lock
)

// env is what every command gets.
type env struct {
	stdout, stderr io.Writer
	log            *zap.Logger
	now            func() time.Time
	// stateDir is the command's state folder once its flags are read, so
	// that messages can tell it from a store's folder.
	stateDir string
	// abort ends on a second interruption (the first one ends the command's
	// context): a rollback still re-runs hooks until then.
	abort context.Context
	// color: stdout is a terminal and NO_COLOR is not set.
	color bool
}

// style is how report renders text for this invocation.
func (e *env) style() report.Style { return report.Style{Color: e.color} }

// isTerminal reports whether w is a terminal; tests replace it to force one.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// useColor: colour only on a terminal, and never when NO_COLOR is set to
// anything (https://no-color.org).
func useColor(stdout io.Writer) bool {
	return os.Getenv("NO_COLOR") == "" && isTerminal(stdout)
}

type command struct {
	name, args, summary string
	run                 func(ctx context.Context, e *env, args []string) error
	// flags registers the command's flags on a flag set, as run does: help,
	// the manual page and the shell completions read them from here.
	flags func(*pflag.FlagSet)
}

func commands() []command {
	return []command{
		{"list", "STORE...", "show what stores hold, with trust per purpose", runList, func(fs *pflag.FlagSet) { new(listOptions).AddFlags(fs) }},
		{"diff", "SOURCE... --to TARGET...", "show the plan that would make targets match sources (changes nothing)", runDiff, func(fs *pflag.FlagSet) { new(syncOptions).AddFlags(fs, false) }},
		{"sync", "SOURCE... --to TARGET... [--dry-run] [--mode add|prune|mirror]", "apply that plan", runSync, func(fs *pflag.FlagSet) { new(syncOptions).AddFlags(fs, true) }},
		{"remove", "FINGERPRINT... --from STORE...|--all-stores [--all-users] [--dry-run]", "take certificates out of stores (a compromised or retired CA)", runRemove, func(fs *pflag.FlagSet) { new(editOptions).AddFlags(fs, "from") }},
		{"distrust", "FINGERPRINT... --in STORE...|--all-stores [--all-users] [--dry-run]", "distrust certificates where a store can record it, remove them where it cannot", runDistrust, func(fs *pflag.FlagSet) { new(editOptions).AddFlags(fs, "in") }},
		{"restore", "[BACKUP]", "list backups, or put a store back as a backup saved it", runRestore, func(fs *pflag.FlagSet) { new(restoreOptions).AddFlags(fs) }},
		{"run", "[--config FILE] [--job NAME]... [--dry-run] [--cron]", "run the jobs of the configuration file (for cron and systemd timers)", runRun, func(fs *pflag.FlagSet) { new(runOptions).AddFlags(fs) }},
		{"discover", "", "list the trust stores of this user and host (browsers' NSS databases, system, Java)", runDiscover, func(fs *pflag.FlagSet) { new(discoverOptions).AddFlags(fs) }},
		{"status", "[--config FILE] [--no-discover]", "the drift view: local roots against every store, and whether each job is in sync (exit 3: a job is not)", runStatus, func(fs *pflag.FlagSet) { new(statusOptions).AddFlags(fs) }},
		{"check", "CERT --store STORE... [--intermediates FILE]... [--crl FILE]... [--at TIME]", "explain why a server would accept or reject a client certificate (exit 4: rejected)", runCheck, func(fs *pflag.FlagSet) { new(checkOptions).AddFlags(fs) }},
	}
}

// Main runs rootsync with args (without the program name) and returns the
// exit status.
//
// Standard output is buffered (a plan of 100,000 lines is a few write calls,
// not one per line) and flushed before anything is written to standard error
// and when the command ends, so that the two keep their order.
func Main(args []string, stdout, stderr io.Writer) int {
	out := bufio.NewWriterSize(stdout, 64<<10)
	code := run(args, out, flushFirst{out, stderr}, useColor(stdout))
	if err := out.Flush(); err != nil && code == ExitOK {
		fmt.Fprintf(stderr, "rootsync: writing the output: %v\n", err)
		return ExitError
	}
	return code
}

// Memory policy. A sync of many certificates holds every certificate of its
// stores at once, so the collector's headroom (how far the heap may grow past
// its live part before the next collection) decides both the peak memory and
// how often the whole live heap is marked. Go's default (GOGC 100: the heap
// doubles) costs as much memory again as the certificates take. A fixed
// quarter (GOGC 25) keeps the heap low but collects a small heap over and over
// (its smallest goal is 1 MiB), and the memory a collection frees stays with
// the process: at 100,000 certificates about a third of the peak was free
// heap kept from earlier collections. rootsync instead sets a memory limit
// of the live heap plus a quarter plus heapHeadroom, but at least
// minHeadroom more than the live heap, again after every collection, with no
// GOGC target: small runs do not collect at all, a large run collects when
// the heap has grown by a quarter and 16 MiB, and the runtime returns freed
// memory to the system to stay under the limit (docs/benchmarks.md).
//
// The floor is for the heap a large run builds: a run whose live heap grows
// to 100 MiB, each collection marking all of it, collected 9 times while it
// grew by a quarter at a time, and collects 3 times in steps of 48 MiB; the
// peak stays where the quarter puts it (the live heap plus 41 MiB at 100
// MiB, plus 48 MiB below it).
const (
	// liveShare is the proportional part of the headroom, in percent of
	// the live heap.
	liveShare = 25
	// heapHeadroom is the fixed part.
	heapHeadroom = 16 << 20
	// minHeadroom is the least headroom.
	minHeadroom = 48 << 20
)

// memoryLimit is the runtime memory allowed with a live heap of live bytes
// and other bytes of the runtime's own (stacks, span and collector metadata:
// the memory limit counts them too, and without them the heap's headroom
// would be 12 MiB short).
func memoryLimit(live, other uint64) int64 {
	return int64(other + live + max(live*liveShare/100+heapHeadroom, minHeadroom))
}

// TuneMemory applies the memory policy: collections only when the runtime's
// memory reaches memoryLimit of the live heap, the limit set again after
// every collection; the runtime returns freed memory to the system to stay
// under it. GOGC or GOMEMLIMIT in the environment overrides the policy.
// Programs that run Main call it once.
func TuneMemory() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(memoryLimit(heapNow()))
	debug.SetGCPercent(-1)
	afterEachGC(func(live, other uint64) { debug.SetMemoryLimit(memoryLimit(live, other)) })
}

// heapNow is the heap in use and the runtime's other memory.
func heapNow() (live, other uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, ms.Sys - ms.HeapSys
}

// afterEachGC calls f with the heap left at the end of every garbage
// collection and the runtime's other memory. It runs as a cleanup of an
// object made anew after each collection, so it costs nothing between
// collections (and runtime/metrics, whose start-up alone costs more than a
// small run's reads of the heap size, stays out of the program).
func afterEachGC(f func(live, other uint64)) {
	var arm func()
	arm = func() {
		runtime.AddCleanup(new(gcTick), func(struct{}) {
			f(heapNow())
			arm()
		}, struct{}{})
	}
	arm()
}

// gcTick is the object afterEachGC waits on: big enough not to share a
// memory block with others (so that it is freed by the first collection
// after it is dropped).
type gcTick struct{ _ [16]byte }

// flushFirst writes to w after flushing the buffered standard output.
type flushFirst struct {
	out *bufio.Writer
	w   io.Writer
}

func (f flushFirst) Write(p []byte) (int, error) {
	_ = f.out.Flush()
	return f.w.Write(p)
}

// run is Main on buffered output; color says whether the real standard
// output takes colour.
func run(args []string, stdout, stderr io.Writer, color bool) int {
	ctx, abort, stop := interrupts()
	defer stop()
	e := &env{stdout: stdout, stderr: stderr, log: zap.NewNop(), now: time.Now, abort: abort, color: color}
	if len(args) == 0 {
		usage(stderr)
		return ExitUsage
	}
	switch args[0] {
	case "help", "-h", "--help":
		if len(args) > 1 && args[0] == "help" {
			return exitStatus(stderr, commandHelp(stdout, args[1]), "")
		}
		usage(stdout)
		return ExitOK
	case "version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return ExitOK
	case "completion":
		return exitStatus(stderr, runCompletion(stdout, args[1:]), "")
	case "manpage":
		return exitStatus(stderr, manPage(stdout), "")
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, e, args[1:])
			_ = e.log.Sync()
			return exitStatus(stderr, err, e.stateDir)
		}
	}
	fmt.Fprintf(stderr, "rootsync: unknown command %q\n", args[0])
	usage(stderr)
	return ExitUsage
}

// interrupts returns a context that ends on the first SIGINT or SIGTERM, and
// one that ends on the second: the first stops the work and rolls back, the
// second also skips the hooks the rollback would run.
func interrupts() (ctx, abort context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	abort, cancelAbort := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
			return
		}
		select {
		case <-sigs:
			cancelAbort()
		case <-done:
		}
	}()
	return ctx, abort, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
		cancelAbort()
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: rootsync COMMAND [flags]\n\ncommands:")
	cs := commands()
	for _, c := range cs {
		fmt.Fprintf(w, "  %-8s %s\n           %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\nrun 'rootsync help COMMAND' (or 'rootsync COMMAND --help') for a command's flags;")
	fmt.Fprintln(w, "also: rootsync --version, rootsync completion bash|zsh|fish, rootsync manpage")
	fmt.Fprintln(w)
	storeHelp(w)
}

// storeHelp lists the store kinds, their shorthands and options, from the
// registry.
func storeHelp(w io.Writer) {
	fmt.Fprintln(w, "stores: KIND:LOCATION[?OPTION=VALUE&...]; in a location, '?' is written %3F and '%' is %25")
	for _, k := range storekinds.Registry().Kinds() {
		fmt.Fprintf(w, "  %-15s %s\n", k.Usage(), k.Summary)
		if len(k.Shorthands) > 0 {
			var forms []string
			for _, sh := range k.Shorthands {
				forms = append(forms, k.Name+":"+sh.Form)
			}
			fmt.Fprintf(w, "  %-15s shorthands: %s\n", "", strings.Join(forms, ", "))
		}
		for _, o := range k.Options {
			fmt.Fprintf(w, "  %-15s ?%s=%s: %s\n", "", o.Name, o.Value, o.Meaning)
		}
	}
}

// usageError is a wrong command line: exit status 2.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// errDrift means differences were found and not applied: exit status 3.
var errDrift = errors.New("differences found")

// errQuiet is an error already reported to the user; only the status remains.
type errQuiet struct{ code int }

func (e errQuiet) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// problems is several errors reported at once (the stores of a
// configuration that cannot be opened, the jobs of a run that failed):
// exitStatus prints one "rootsync:" line for each message, then each hint
// once, and exits with status.
type problems struct {
	msgs   []string
	hints  []string
	status int
}

func (p *problems) Error() string { return strings.Join(p.msgs, "; ") }

// add records a message and, once, each of the hints.
func (p *problems) add(msg string, hints ...string) {
	p.msgs = append(p.msgs, msg)
	p.hint(hints...)
}

// hint records hints, each once, leaving out empty ones.
func (p *problems) hint(hints ...string) {
	for _, h := range hints {
		if h != "" && !slices.Contains(p.hints, h) {
			p.hints = append(p.hints, h)
		}
	}
}

// hinted lets the CLI attach a hint to an error that carries none.
type hinted struct {
	err  error
	hint string
}

func (h *hinted) Error() string    { return h.err.Error() }
func (h *hinted) Unwrap() error    { return h.err }
func (h *hinted) HintText() string { return h.hint }

// exitStatus prints err and maps it to an exit status: the one switch.
// stateDir is the command's state folder ("" if it had none).
func exitStatus(stderr io.Writer, err error, stateDir string) int {
	var ue *usageError
	var q errQuiet
	var ps *problems
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errDrift):
		return ExitDrift
	case errors.As(err, &q):
		return q.code
	case errors.As(err, &ps):
		for _, m := range ps.msgs {
			fmt.Fprintf(stderr, "rootsync: %s\n", m)
		}
		printHint(stderr, strings.Join(ps.hints, "\n"))
		return ps.status
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "rootsync: %s\n", ue.msg)
		fmt.Fprintln(stderr, "hint: run 'rootsync --help' for usage")
		return ExitUsage
	case errors.Is(err, pflag.ErrHelp):
		return ExitOK
	}
	fmt.Fprintf(stderr, "rootsync: %s\n", err)
	printHint(stderr, hintOf(err, stateDir))
	if errors.Is(err, errBusy) {
		return ExitBusy
	}
	return ExitError
}

// notice prints, while a command goes on, something the user must know that
// is not its result and not an error (a rollback of an interrupted run, a
// recovery still pending). Errors and hints are printed by exitStatus only.
func notice(stderr io.Writer, format string, args ...any) {
	fmt.Fprintf(stderr, "rootsync: "+format+"\n", args...)
}

// printHint prints a hint, one "hint:" line per line of it.
func printHint(stderr io.Writer, h string) {
	if h == "" {
		return
	}
	for _, line := range strings.Split(h, "\n") {
		fmt.Fprintf(stderr, "hint: %s\n", line)
	}
}
