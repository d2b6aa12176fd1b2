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
	"go.uber.org/zap"

	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/internal/config"
	"github.com/rootsync/rootsync/internal/job"
	"github.com/rootsync/rootsync/internal/journal"
	"github.com/rootsync/rootsync/internal/lock"
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
	prepared, err := o.prepare(e, cfg, jobs)
	if err != nil {
		return err
	}

	if o.dryRun {
		if p, err := journal.Pending(o.stateDir); err != nil || p != nil {
			warnPending(e.stderr, p, err)
		}
	} else {
		l, err := lock.Acquire(ctx, o.stateDir, o.lockWait)
		if err != nil {
			return err
		}
		defer l.Unlock()
		if err := recoverJournal(e, o.stateDir); err != nil {
			return err
		}
	}

	var results []jobResult
	failed, drift := false, false
	for _, pj := range prepared {
		res := o.runJob(ctx, e, cfg, pj)
		results = append(results, res)
		if res.err != nil {
			failed = true
		}
		if res.run != nil && res.run.Changed() {
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
func (o *runOptions) prepare(e *env, cfg *config.Config, jobs []*config.Job) ([]preparedJob, error) {
	var out []preparedJob
	var problems, hints []string
	usage := false
	open := func(cj *config.Job, role string, s *config.Store) []stores.Store {
		oo := o.openOptions()
		if s.Password != (stores.Secret{}) {
			oo.Password = s.Password
		}
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
		j := &job.Job{
			Name: cj.Name, Options: opts, DryRun: o.dryRun, StateDir: o.stateDir, Keep: cfg.KeepBackups,
			Log: e.log.With(zap.String("job", cj.Name)), Now: e.now,
		}
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
			return nil, errQuiet{ExitUsage}
		}
		return nil, errQuiet{ExitError}
	}
	return out, nil
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

// runJob runs one job under its journal.
func (o *runOptions) runJob(ctx context.Context, e *env, cfg *config.Config, pj preparedJob) jobResult {
	res := jobResult{name: pj.cfg.Name}
	start := time.Now()
	if o.dryRun {
		res.run, res.err = pj.job.Run(ctx)
	} else {
		res.run, res.err, res.journalErr = runJournaled(ctx, e, o.stateDir, pj.cfg.Name, pj.job)
	}
	log := e.log.With(zap.String("job", pj.cfg.Name))
	if res.err != nil {
		log.Error("job failed", zap.Error(res.err), zap.Duration("took", time.Since(start)))
	} else {
		log.Info("job done", zap.Bool("changed", res.run.Changed()), zap.Bool("dry_run", o.dryRun), zap.Duration("took", time.Since(start)))
	}
	return res
}

// runJournaled runs j under a journal in stateDir that names each target and
// its backup before the target changes, so that a run killed part-way is
// rolled back by the next one (recoverJournal). The journal is finished
// unless a target is still changed after a failure (its rollback did not
// complete): then the next run retries it. The caller holds the lock.
func runJournaled(ctx context.Context, e *env, stateDir, name string, j *job.Job) (r *report.Run, err, journalErr error) {
	jr, err := journal.Begin(stateDir, name, e.now())
	if err != nil {
		return nil, err, nil
	}
	j.BeforeApply = func(target string, b *backup.Backup) error { return jr.Add(target, b) }
	r, err = j.Run(ctx)
	if r != nil {
		for _, t := range r.Targets {
			if err != nil && t.Applied {
				return r, err, fmt.Errorf("%s: its rollback did not complete; the next run tries again", t.Plan.Target)
			}
		}
	}
	if ferr := jr.Finish(); ferr != nil {
		journalErr = ferr
		if err == nil {
			err = ferr
		}
	}
	return r, err, journalErr
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

// recoverJournal rolls back a run that was killed part-way, before anything
// else is done.
func recoverJournal(e *env, stateDir string) error {
	r, err := journal.Recover(stateDir)
	if r == nil && err == nil {
		return nil
	}
	if err != nil {
		if r == nil {
			return &hinted{err, "inspect the journal; 'rootsync restore' puts stores back from their backups; then remove the journal"}
		}
		return &hinted{fmt.Errorf("rolling back the interrupted run of job %q: %w", r.Job, err),
			"'rootsync restore BACKUP' puts a store back by hand; remove " + stateDir + "/" + journal.FileName + " once the stores are right"}
	}
	for _, t := range r.Targets {
		fmt.Fprintf(e.stderr, "rootsync: job %q: rolled back %s, left half-done by an interrupted run (process %d, started %s), from %s\n",
			r.Job, t.Store, r.PID, r.Started.Local().Format(time.DateTime), t.Backup)
	}
	e.log.Warn("rolled back an interrupted run", zap.String("job", r.Job), zap.Int("pid", r.PID), zap.Int("targets", len(r.Targets)))
	return nil
}

func warnPending(w io.Writer, r *journal.Record, err error) {
	if err != nil {
		fmt.Fprintf(w, "rootsync: warning: %v\n", err)
		return
	}
	fmt.Fprintf(w, "rootsync: warning: job %q was interrupted (process %d, started %s) and left %s half-done; the next run without --dry-run rolls it back first\n",
		r.Job, r.PID, r.Started.Local().Format(time.DateTime), plural(len(r.Targets), "target", "targets"))
}
