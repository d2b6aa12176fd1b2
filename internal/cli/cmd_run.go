package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/internal/config"
	"github.com/rootsync/rootsync/internal/job"
	"github.com/rootsync/rootsync/internal/report"
	"github.com/rootsync/rootsync/internal/securefs"
	"github.com/rootsync/rootsync/stores"
)

// RunSchema is the JSON schema of `run --output json`: the jobs, each with
// its rootsync.plan/v1 document.
const RunSchema = "rootsync.run/v1"

// runOptions are the flags of run.
type runOptions struct {
	commonOptions
	config   string
	jobs     []string
	dryRun   bool
	cron     bool
	lockWait time.Duration
}

func (o *runOptions) AddFlags(fs *pflag.FlagSet) {
	o.commonOptions.AddFlags(fs)
	fs.StringVarP(&o.config, "config", "c", "", "configuration file (default /etc/rootsync/config.yaml for root, else $XDG_CONFIG_HOME/rootsync/config.yaml or ~/.config/rootsync/config.yaml)")
	fs.StringArrayVar(&o.jobs, "job", nil, "run only this job (repeatable; default all jobs, in file order)")
	fs.BoolVarP(&o.dryRun, "dry-run", "n", false, "print what would change, change nothing, exit 3 if anything differs")
	fs.BoolVar(&o.cron, "cron", false, "for cron and timers: print nothing when all is in sync, one line per changed target otherwise")
	fs.DurationVar(&o.lockWait, "lock-wait", 0, "how long to wait for another rootsync run (default: the file's lock-wait, else 30s)")
}

// runRun runs the jobs of a configuration file, one after the other, under
// the run lock. Each job changes all of its targets or none; a job that fails
// does not stop the jobs after it, but the run then exits 1.
func runRun(ctx context.Context, e *env, args []string) error {
	var o runOptions
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	o.AddFlags(fs)
	fs.Usage = func() {
		e.stderr.Write([]byte("usage: rootsync run [--config FILE] [--job NAME]... [--dry-run] [--cron] [flags]\n"))
		fs.PrintDefaults()
	}
	if err := parse(fs, args, e.stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("run takes no arguments (the jobs come from the configuration file; pick some with --job NAME)")
	}
	if err := o.setup(e); err != nil {
		return err
	}
	if o.cron && o.output == "json" {
		return usagef("give --cron or --output json, not both")
	}

	path := o.config
	if path == "" {
		home, _ := os.UserHomeDir()
		path = config.DefaultPath(os.Geteuid(), os.Getenv, home)
	}
	cfg, err := config.Load(path)
	var ce *config.Error
	switch {
	case errors.As(err, &ce):
		for _, p := range ce.Problems {
			fmt.Fprintf(e.stderr, "rootsync: %s\n", p)
		}
		fmt.Fprintf(e.stderr, "hint: nothing was changed; fix %s (the format is in docs/config.md)\n", path)
		return errQuiet{ExitUsage}
	case err != nil && isDir(path):
		fmt.Fprintf(e.stderr, "rootsync: %v\n", err)
		fmt.Fprintf(e.stderr, "hint: nothing was changed; give the configuration file itself, such as --config %s\n", filepath.Join(path, "config.yaml"))
		return errQuiet{ExitUsage}
	case config.IsNotExist(err):
		fmt.Fprintf(e.stderr, "rootsync: %v\n", err)
		fmt.Fprintln(e.stderr, "hint: create it (the format, with a commented example, is in docs/config.md), or give --config FILE")
		return errQuiet{ExitUsage}
	case err != nil:
		return err
	}
	if !fs.Changed("state-dir") && os.Getenv("ROOTSYNC_STATE_DIR") == "" && cfg.StateDir != "" {
		o.stateDir = cfg.StateDir
	}
	if !fs.Changed("lock-wait") {
		o.lockWait = cfg.LockWait
	}
	jobs := cfg.Jobs
	if len(o.jobs) > 0 {
		jobs = nil
		for _, name := range o.jobs {
			j := cfg.Job(name)
			if j == nil {
				return usagef("--job %q: %s has no such job (it has %s)", name, path, strings.Join(cfg.Names(), ", "))
			}
			jobs = append(jobs, j)
		}
	}

	// Open every store of every job before anything is touched.
	prepared, secrets, err := o.prepare(e, cfg, jobs)
	if err != nil {
		return err
	}
	var units []job.Unit
	for _, pj := range prepared {
		units = append(units, pj.job)
	}
	tx := o.tx(e, o.lockWait, cfg.KeepBackups, o.dryRun, secrets)
	out, err := tx.Do(ctx, units...)
	reportRecovery(e.stderr, out)
	if err != nil {
		return err
	}

	var results []jobResult
	failed, drift := false, false
	for _, res := range out.Results {
		results = append(results, jobResult{name: res.Name, run: res.Run, err: res.Err, journalErr: res.JournalKept})
		if res.Err != nil {
			failed = true
		}
		if res.Run != nil && res.Run.Changed() {
			drift = true
		}
	}

	if err := o.render(e, results); err != nil {
		return err
	}
	for _, res := range results {
		if res.err != nil {
			reportFailure(e.stderr, res, o.stateDir)
		}
	}
	switch {
	case failed:
		return errQuiet{ExitError}
	case o.dryRun && drift:
		return errDrift
	}
	return nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

type preparedJob struct {
	cfg *config.Job
	job *job.Job
}

type jobResult struct {
	name string
	run  *report.Run
	err  error
	// journalErr: the job's journal could not be finished.
	journalErr error
}

// prepare opens the stores of every job, reporting all that cannot be opened.
// It also returns the environment variables passwords are read from.
func (o *runOptions) prepare(e *env, cfg *config.Config, jobs []*config.Job) ([]preparedJob, []string, error) {
	var out []preparedJob
	var problems, hints []string
	var specs []stores.Spec
	var secrets []stores.Secret
	usage := false
	open := func(cj *config.Job, role string, s *config.Store) []stores.Store {
		oo := o.openOptions()
		if s.Password != (stores.Secret{}) {
			oo.Password = s.Password
		}
		specs = append(specs, s.Spec)
		secrets = append(secrets, s.Password)
		sts, err := openStore(s.Spec, oo)
		if err != nil {
			var ue *usageError
			if errors.As(err, &ue) {
				usage = true
			}
			problems = append(problems, fmt.Sprintf("%s:%d: job %q: %s %q: %v", cfg.Path, s.Line, cj.Name, role, s.Raw, err))
			if h := hintOf(err, o.stateDir); h != "" && !slices.Contains(hints, h) {
				hints = append(hints, h)
			}
		}
		return sts
	}
	for _, cj := range jobs {
		opts := cj.Options
		opts.Now = e.now()
		j := &job.Job{Name: cj.Name, Options: opts}
		for _, s := range cj.Sources {
			j.Sources = append(j.Sources, open(cj, "source", s)...)
		}
		for _, s := range cj.Targets {
			var hooks []job.Hook
			for _, h := range s.Hooks {
				if err := checkHook(h.Argv); err != nil {
					problems = append(problems, fmt.Sprintf("%s:%d: job %q: target %q: %v", cfg.Path, s.Line, cj.Name, s.Raw, err))
				}
				hooks = append(hooks, job.Hook{Argv: h.Argv, Timeout: h.Timeout})
			}
			for _, st := range open(cj, "target", s) {
				j.Targets = append(j.Targets, job.Target{Store: st, Hooks: hooks})
			}
		}
		out = append(out, preparedJob{cfg: cj, job: j})
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(e.stderr, "rootsync: %s\n", p)
		}
		for _, h := range hints {
			fmt.Fprintf(e.stderr, "hint: %s\n", h)
		}
		fmt.Fprintln(e.stderr, "hint: nothing was changed")
		if usage {
			return nil, nil, errQuiet{ExitUsage}
		}
		return nil, nil, errQuiet{ExitError}
	}
	return out, o.secretEnv(specs, secrets...), nil
}

// checkHook refuses, as root, a hook program another user could have
// written. A program that is not found is left to fail when the hook runs.
func checkHook(argv []string) error {
	if len(argv) == 0 {
		return nil
	}
	p, err := exec.LookPath(argv[0])
	if err != nil {
		return nil
	}
	return securefs.CheckFile(p, "hook program")
}

func (o *runOptions) render(e *env, results []jobResult) error {
	switch {
	case o.output == "json":
		return renderRunJSON(e.stdout, results)
	case o.cron:
		return renderCron(e.stdout, results, o.dryRun)
	}
	for i, res := range results {
		if res.run == nil {
			continue
		}
		if i > 0 {
			fmt.Fprintln(e.stdout)
		}
		fmt.Fprintf(e.stdout, "job %s:\n", res.name)
		if err := report.Text(e.stdout, res.run); err != nil {
			return err
		}
	}
	return nil
}

// renderCron prints one line per changed (or, in a dry run, differing)
// target, and nothing at all when everything is in sync.
func renderCron(w io.Writer, results []jobResult, dryRun bool) error {
	for _, res := range results {
		if res.run == nil {
			continue
		}
		for _, t := range res.run.Targets {
			p := t.Plan
			if p == nil || p.Empty() {
				continue
			}
			a, rm, tr := p.Count(stores.Add), p.Count(stores.Remove), p.Count(stores.SetTrust)
			var what string
			switch {
			case dryRun:
				what = fmt.Sprintf("would add %d, remove %d, change trust of %d", a, rm, tr)
			case t.Applied:
				what = fmt.Sprintf("added %d, removed %d, changed trust of %d", a, rm, tr)
			default:
				continue // failures and rollbacks are reported on stderr
			}
			if _, err := fmt.Fprintf(w, "job %s: %s: %s\n", res.name, p.Target, what); err != nil {
				return err
			}
		}
	}
	return nil
}

type jsonRunJob struct {
	Job   string          `json:"job"`
	OK    bool            `json:"ok"`
	Error string          `json:"error,omitempty"`
	Plan  json.RawMessage `json:"plan,omitempty"`
}

func renderRunJSON(w io.Writer, results []jobResult) error {
	out := struct {
		Schema string       `json:"schema"`
		Jobs   []jsonRunJob `json:"jobs"`
	}{Schema: RunSchema, Jobs: []jsonRunJob{}}
	for _, res := range results {
		jj := jsonRunJob{Job: res.name, OK: res.err == nil}
		if res.err != nil {
			jj.Error = res.err.Error()
		}
		if res.run != nil {
			var buf bytes.Buffer
			if err := report.JSON(&buf, res.run); err != nil {
				return err
			}
			jj.Plan = json.RawMessage(buf.Bytes())
		}
		out.Jobs = append(out.Jobs, jj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// reportFailure says on stderr which job and target failed, why (a hook's
// output included), and what was rolled back.
func reportFailure(w io.Writer, res jobResult, stateDir string) {
	named := false
	var rolled []string
	if res.run != nil {
		for _, t := range res.run.Targets {
			if t.Plan == nil {
				continue
			}
			if t.Err != nil {
				fmt.Fprintf(w, "rootsync: job %q: target %s: %s\n", res.name, t.Plan.Target, indent(t.Err.Error()))
				named = true
			}
			if t.RolledBack {
				rolled = append(rolled, t.Plan.Target)
			}
			if t.RollbackErr != nil {
				fmt.Fprintf(w, "rootsync: job %q: target %s: rollback: %s\n", res.name, t.Plan.Target, indent(t.RollbackErr.Error()))
			}
		}
	}
	if !named || !errors.Is(res.err, job.ErrFailed) {
		fmt.Fprintf(w, "rootsync: job %q: %s\n", res.name, indent(res.err.Error()))
	}
	if len(rolled) > 0 {
		fmt.Fprintf(w, "rootsync: job %q: rolled back %s\n", res.name, strings.Join(rolled, ", "))
	}
	if res.journalErr != nil {
		fmt.Fprintf(w, "rootsync: job %q: %v\n", res.name, res.journalErr)
	}
	var he *job.HookError
	switch {
	case rollbackFailed(res.run) || res.journalErr != nil:
		fmt.Fprintln(w, "hint: the rollback did not complete: check the targets and services named above; the next run retries what the journal still names; 'rootsync restore' lists the backups")
	case errors.As(res.err, &he):
		fmt.Fprintf(w, "hint: the job's targets are as they were before the run; fix what the hook reports (or the hook in the configuration) and run again\n")
	default:
		if h := hintOf(res.err, stateDir); h != "" {
			for _, line := range strings.Split(h, "\n") {
				fmt.Fprintf(w, "hint: %s\n", line)
			}
		} else if errors.Is(res.err, job.ErrFailed) {
			fmt.Fprintln(w, "hint: every target this job changed was restored; 'rootsync restore' lists the backups")
		}
	}
}

// indent keeps a multi-line message (a hook's output) readable under the
// line that introduces it.
func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(s, "\n", "\n    ")
}
