package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/internal/config"
	"github.com/rootsync/rootsync/internal/job"
	"github.com/rootsync/rootsync/internal/report"
	"github.com/rootsync/rootsync/internal/securefs"
	"github.com/rootsync/rootsync/stores"
)

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
	fs, err := parseCommand(e, "run", "rootsync run [--config FILE] [--job NAME]... [--dry-run] [--cron] [flags]", false, o.AddFlags, &o.commonOptions, args)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("run takes no arguments (the jobs come from the configuration file; pick some with --job NAME)")
	}
	if o.cron && o.output == "json" {
		return usagef("give --cron or --output json, not both")
	}

	path, cfg, err := loadConfig(o.config)
	if err != nil {
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
	prepared, secrets, err := o.prepare(ctx, e, cfg, jobs)
	if err != nil {
		return err
	}
	var units []job.Unit
	for _, pj := range prepared {
		units = append(units, pj.job)
	}
	tx := o.tx(e, o.lockWait, cfg.KeepBackups, o.dryRun, secrets)
	su := &serverUses{}
	defer su.wait()
	tx.Changing = su.start
	out, err := tx.Do(ctx, units...)
	reportRecovery(e.stderr, out)
	if err != nil {
		return err
	}

	var results []jobResult
	done := report.Jobs{DryRun: o.dryRun}
	for _, res := range out.Results {
		for _, pj := range prepared {
			if pj.cfg.Name == res.Name {
				noteReloads(res.Run, pj.job, su)
			}
		}
		results = append(results, jobResult{name: res.Name, run: res.Run, err: res.Err, journalErr: res.JournalKept})
		done.Jobs = append(done.Jobs, report.Job{Name: res.Name, Run: res.Run, Err: res.Err})
	}
	switch {
	case o.output == "json":
		err = report.JobsJSON(e.stdout, done)
	case o.cron:
		err = report.JobsCron(e.stdout, done)
	default:
		err = report.JobsText(e.stdout, done, e.style())
	}
	if err != nil {
		return err
	}
	ps := &problems{status: ExitError}
	for _, res := range results {
		if res.err != nil {
			jobFailure(ps, res, o.stateDir)
		}
	}
	switch {
	case len(ps.msgs) > 0:
		return ps
	case o.dryRun && done.Changed():
		return errDrift
	}
	return nil
}

// loadConfig reads the configuration file (the default one for this user
// when path is ""), turning its mistakes into a usage error that names them.
func loadConfig(path string) (string, *config.Config, error) {
	if path == "" {
		home, _ := os.UserHomeDir()
		path = config.DefaultPath(os.Geteuid(), os.Getenv, home)
	}
	cfg, err := config.Load(path)
	var ce *config.Error
	switch {
	case errors.As(err, &ce):
		ps := &problems{status: ExitUsage}
		for _, p := range ce.Problems {
			ps.add(p.String())
		}
		ps.hint(fmt.Sprintf("nothing was changed; fix %s (the format is in docs/config.md)", path))
		return path, nil, ps
	case err != nil && isDir(path):
		ps := &problems{status: ExitUsage}
		ps.add(err.Error(), fmt.Sprintf("nothing was changed; give the configuration file itself, such as --config %s", filepath.Join(path, "config.yaml")))
		return path, nil, ps
	case config.IsNotExist(err):
		ps := &problems{status: ExitUsage}
		ps.add(err.Error(), "create it (the format, with a commented example, is in docs/config.md), or give --config FILE")
		return path, nil, ps
	case err != nil:
		return path, nil, err
	}
	return path, cfg, nil
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
func (o *runOptions) prepare(ctx context.Context, e *env, cfg *config.Config, jobs []*config.Job) ([]preparedJob, []string, error) {
	var out []preparedJob
	ps := &problems{status: ExitError}
	var specs []stores.Spec
	var secrets []stores.Secret
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
				ps.status = ExitUsage
			}
			ps.add(fmt.Sprintf("%s:%d: job %q: %s %q: %v", cfg.Path, s.Line, cj.Name, role, s.Raw, err), hintOf(err, o.stateDir))
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
		var jobSpecs, targetSpecs []stores.Spec
		for _, s := range append(append([]*config.Store(nil), cj.Sources...), cj.Targets...) {
			jobSpecs = append(jobSpecs, s.Spec)
		}
		for _, s := range cj.Targets {
			targetSpecs = append(targetSpecs, s.Spec)
		}
		if err := loadPublic(ctx, &j.Options, jobSpecs, targetSpecs); err != nil {
			ps.add(fmt.Sprintf("%s:%d: job %q: the public root set: %v", cfg.Path, cj.Line, cj.Name, err), hintOf(err, o.stateDir))
		}
		for _, s := range cj.Targets {
			var hooks []job.Hook
			for _, h := range s.Hooks {
				if err := checkHook(h.Argv); err != nil {
					ps.add(fmt.Sprintf("%s:%d: job %q: target %q: %v", cfg.Path, s.Line, cj.Name, s.Raw, err))
				}
				hooks = append(hooks, job.Hook{Argv: h.Argv, Timeout: h.Timeout})
			}
			for _, st := range open(cj, "target", s) {
				j.Targets = append(j.Targets, job.Target{Store: st, Hooks: hooks})
			}
		}
		out = append(out, preparedJob{cfg: cj, job: j})
	}
	if len(ps.msgs) > 0 {
		ps.hint("nothing was changed")
		return nil, nil, ps
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

// jobFailure records which job and target failed, why (a hook's output
// included), what was rolled back, and what to do.
func jobFailure(ps *problems, res jobResult, stateDir string) {
	named := false
	var rolled []string
	if res.run != nil {
		for _, t := range res.run.Targets {
			if t.Plan == nil {
				continue
			}
			if t.Err != nil {
				ps.add(fmt.Sprintf("job %q: target %s: %s", res.name, t.Plan.Target, indent(t.Err.Error())))
				named = true
			}
			if t.RolledBack {
				rolled = append(rolled, t.Plan.Target)
			}
			if t.RollbackErr != nil {
				ps.add(fmt.Sprintf("job %q: target %s: rollback: %s", res.name, t.Plan.Target, indent(t.RollbackErr.Error())))
			}
		}
	}
	if !named || !errors.Is(res.err, job.ErrFailed) {
		ps.add(fmt.Sprintf("job %q: %s", res.name, indent(res.err.Error())))
	}
	if len(rolled) > 0 {
		ps.add(fmt.Sprintf("job %q: rolled back %s", res.name, strings.Join(rolled, ", ")))
	}
	if res.journalErr != nil {
		ps.add(fmt.Sprintf("job %q: %v", res.name, res.journalErr))
	}
	var he *job.HookError
	switch {
	case rollbackFailed(res.run) || res.journalErr != nil:
		ps.hint("the rollback did not complete: check the targets and services named above; the next run retries what the journal still names; 'rootsync restore' lists the backups")
	case errors.As(res.err, &he):
		ps.hint("the job's targets are as they were before the run; fix what the hook reports (or the hook in the configuration) and run again")
	case hintOf(res.err, stateDir) != "":
		ps.hint(hintOf(res.err, stateDir))
	case errors.Is(res.err, job.ErrFailed):
		ps.hint("every target this job changed was restored; 'rootsync restore' lists the backups")
	}
}

// indent keeps a multi-line message (a hook's output) readable under the
// line that introduces it.
func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(s, "\n", "\n    ")
}
