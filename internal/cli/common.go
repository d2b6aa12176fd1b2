package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/internal/job"
	"github.com/rootsync/rootsync/internal/plan"
	"github.com/rootsync/rootsync/internal/storekinds"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/system"
)

var errBusy = job.ErrBusy

// commonOptions are the flags every command has.
type commonOptions struct {
	output       string
	verbose      bool
	logFormat    string
	passwordEnv  string
	passwordFile string
	stateDir     string
}

func (o *commonOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "structured diagnostics on stderr")
	fs.StringVar(&o.logFormat, "log-format", "console", "diagnostics format with -v: console or json (for journald or a log shipper)")
	fs.StringVar(&o.passwordEnv, "password-env", "", "read store passwords from this environment variable (a store's own ?password-env= wins)")
	fs.StringVar(&o.passwordFile, "password-file", "", "read store passwords from the first line of this file")
	fs.StringVar(&o.stateDir, "state-dir", "", "where backups and the lock live (default $ROOTSYNC_STATE_DIR, /var/lib/rootsync for root, else ~/.local/state/rootsync)")
}

// setup checks the common flags and builds the logger.
func (o *commonOptions) setup(e *env) error {
	if o.output != "text" && o.output != "json" {
		return usagef("--output %q: want text or json", o.output)
	}
	if o.passwordEnv != "" && o.passwordFile != "" {
		return usagef("give --password-env or --password-file, not both")
	}
	if o.stateDir == "" {
		o.stateDir = backup.DefaultRoot()
	}
	e.stateDir = o.stateDir
	if !o.verbose {
		return nil
	}
	var enc zapcore.Encoder
	switch o.logFormat {
	case "console":
		cfg := zap.NewDevelopmentEncoderConfig()
		cfg.TimeKey = ""
		enc = zapcore.NewConsoleEncoder(cfg)
	case "json":
		cfg := zap.NewProductionEncoderConfig()
		cfg.EncodeTime = zapcore.RFC3339NanoTimeEncoder
		enc = zapcore.NewJSONEncoder(cfg)
	default:
		return usagef("--log-format %q: want console or json", o.logFormat)
	}
	e.log = zap.New(zapcore.NewCore(enc, zapcore.AddSync(e.stderr), zap.DebugLevel))
	return nil
}

func (o *commonOptions) openOptions() stores.OpenOptions {
	return stores.OpenOptions{Password: stores.Secret{Env: o.passwordEnv, File: o.passwordFile}}
}

// parseCommand is what every command does first: a flag set with the
// command's flags, its usage text (with the store kinds after it when
// withStores), parsing, and the common options' setup. args are the
// arguments after the command's name, multi-value flags already taken out.
func parseCommand(e *env, name, usageText string, withStores bool, addFlags func(*pflag.FlagSet), common *commonOptions, args []string) (*pflag.FlagSet, error) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	addFlags(fs)
	fs.Usage = func() {
		io.WriteString(e.stderr, "usage: "+usageText+"\n")
		fs.PrintDefaults()
		if withStores {
			fmt.Fprintln(e.stderr)
			storeHelp(e.stderr)
		}
	}
	if err := parse(fs, args, e.stderr); err != nil {
		return nil, err
	}
	if err := common.setup(e); err != nil {
		return nil, err
	}
	return fs, nil
}

// parse parses args with fs, turning pflag's errors into usage errors.
func parse(fs *pflag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	return nil
}

// splitTo takes the targets out of args: every argument after --to up to the
// next flag (so both "--to A B" and "--to A --to B" work), and --to=A.
func splitTo(args []string) (rest, targets []string) {
	in := false
	for _, a := range args {
		switch {
		case a == "--to":
			in = true
		case strings.HasPrefix(a, "--to="):
			targets = append(targets, strings.TrimPrefix(a, "--to="))
			in = false
		case in && !strings.HasPrefix(a, "-"):
			targets = append(targets, a)
		default:
			in = false
			rest = append(rest, a)
		}
	}
	return rest, targets
}

// hintOf finds a hint in err's chain, or makes one for common causes.
// stateDir is the command's state folder, so that a folder rootsync may not
// write is named as the state folder or as a store's.
func hintOf(err error, stateDir string) string {
	if h := stores.HintOf(err); h != "" {
		return h
	}
	switch {
	case (errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)) && inStateDir(err, stateDir):
		return "the state folder " + stateDir + " (backups, lock, journal) is not writable by this user: run rootsync as the user who owns it, or choose another with --state-dir or $ROOTSYNC_STATE_DIR"
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return "the store's folder is not writable by this user: run rootsync as a user who may write there (for system stores: sudo), or choose another target"
	case errors.Is(err, job.ErrBusy):
		return "wait for the other run to finish, or raise --lock-wait"
	case errors.Is(err, stores.ErrBadPassword):
		return "give the store's password with --password-env VAR or --password-file FILE (or ?password-env= on the store spec)"
	case errors.Is(err, stores.ErrNothingFound):
		return "run 'rootsync discover' to see this user's stores and the spec of each; a shorthand never creates a store: to create one, name its folder"
	case errors.Is(err, stores.ErrCorrupt):
		return "the file is damaged or not in the format its spec names; fix or restore it (rootsync restore lists backups), or choose another spec kind"
	}
	return ""
}

// inStateDir reports whether the file err is about (the path of an
// *fs.PathError or *os.LinkError in its chain) is the state folder, inside it
// or one of its parents.
func inStateDir(err error, stateDir string) bool {
	if stateDir == "" {
		return false
	}
	var paths []string
	var pe *fs.PathError
	if errors.As(err, &pe) {
		paths = append(paths, pe.Path)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		paths = append(paths, le.Old, le.New)
	}
	dir := filepath.Clean(stateDir)
	for _, p := range paths {
		p = filepath.Clean(p)
		if p == dir || strings.HasPrefix(p, dir+string(filepath.Separator)) || strings.HasPrefix(dir, p+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// loadPublic reads the packaged public root set that opts.Origin is judged
// against, unless no target takes an origin other than all: under the root
// of the first system:ROOT among specs, else on the running system.
func loadPublic(ctx context.Context, opts *plan.Options, specs, targets []stores.Spec) error {
	var kinds []string
	for _, t := range targets {
		kinds = append(kinds, t.Kind)
	}
	if !opts.NeedsPublic(kinds) {
		return nil
	}
	root := "/"
	for _, s := range specs {
		if s.Kind == "system" && s.Location != "" {
			root = s.Location
			break
		}
	}
	ps, err := system.Packaged(ctx, root)
	if err != nil {
		return err
	}
	opts.Public = ps.Roots
	return nil
}

// parseSpecs parses store specs, as usage errors.
func parseSpecs(args []string) ([]stores.Spec, error) {
	var out []stores.Spec
	for _, a := range args {
		s, err := storekinds.Registry().ParseSpec(a)
		if err != nil {
			return nil, usagef("%v", err)
		}
		out = append(out, s)
	}
	return out, nil
}

func openAll(specs []stores.Spec, o stores.OpenOptions) ([]stores.Store, error) {
	var out []stores.Store
	for _, s := range specs {
		st, err := openStore(s, o)
		if err != nil {
			return nil, err
		}
		out = append(out, st...)
	}
	return out, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
