package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/internal/journal"
	"github.com/rootsync/rootsync/internal/lock"
	"github.com/rootsync/rootsync/internal/report"
	"github.com/rootsync/rootsync/stores"
)

// ErrBusy is wrapped by Do's error when another rootsync run holds the state
// folder's lock, or a store folder's, after the wait.
var ErrBusy = lock.ErrBusy

// Record is an interrupted transaction's journal.
type Record = journal.Record

// ErrFailed is wrapped by a unit's error when one of its stores failed and
// the unit was rolled back.
var ErrFailed = errors.New("sync failed")

// Tx is the transaction every writing command goes through; see the package
// documentation. Do is its one entry point.
type Tx struct {
	// StateDir holds the lock, the journal and the backups.
	StateDir string
	// LockWait is how long to wait for the state folder's lock, and then
	// for the store folders' locks.
	LockWait time.Duration
	// Keep is how many backups of each store to keep after a unit that
	// succeeded (0 keeps all).
	Keep int
	// DryRun only loads and plans: no lock, no recovery, no write.
	DryRun bool
	Log    *zap.Logger
	// Now gives the time for backups and the journal; nil means time.Now.
	Now func() time.Time
	// Open opens a store from the spec a journal or backup recorded, so
	// that recovery and restore can restore the store's state, not only
	// its files (stores.Restorer). nil: files only.
	Open func(spec string) (stores.Store, error)
	// HideEnv names environment variables hooks must not see (the password
	// variables rootsync read).
	HideEnv []string
	// Abort ends only on a second interruption. A rollback runs the hooks
	// of the stores it put back under Abort (each bounded by its timeout),
	// not under the interrupted context; once Abort ends, the remaining
	// hooks are skipped and the journal is kept for the next process. nil
	// means never.
	Abort context.Context
	// Changing, when set, is called before a unit starts changing stores
	// (after planning, once the plan has changes; never in a dry run), so
	// that the caller can start work it needs only after a change, such as
	// reading server configurations, alongside the writes. It must not
	// block.
	Changing func()
}

// Unit is one piece of work a transaction carries out all or nothing: a
// *Job, a *Restore or an *Edit.
type Unit interface {
	unitName() string
	// folders returns the folders to lock before the unit reads its stores.
	folders(t *Tx) []string
	// prepare reads and plans, filling res, and returns the steps that
	// change stores (none in a dry run).
	prepare(ctx context.Context, t *Tx, res *Result) ([]*step, error)
}

// Outcome is what Do did.
type Outcome struct {
	// Recovered is the interrupted transaction Do rolled back first (nil:
	// there was none).
	Recovered *Recovery
	// Pending, in a dry run, is an interrupted transaction that the next
	// writing run rolls back first; PendingErr says why the journal could
	// not be read.
	Pending    *Record
	PendingErr error
	// Results has one entry per unit, in order.
	Results []*Result
}

// Recovery is an interrupted transaction rolled back.
type Recovery struct {
	Record *Record
	// Notes are stores whose files were put back but whose state could not
	// be restored because the store could not be opened.
	Notes []string
}

// Result is what happened to one unit.
type Result struct {
	Name string
	// Run is a Job's plans and, per target, what happened.
	Run *report.Run
	// Restored is a Restore's outcome.
	Restored *Restored
	// Err is why the unit failed (nil: it succeeded).
	Err error
	// JournalKept says why the unit's journal was left for the next
	// process to recover (nil: it was finished).
	JournalKept error
}

// Restored describes a restore.
type Restored struct {
	Store string // the store's spec
	From  string // the backup restored
	Undo  string // the backup of the state before the restore
}

// step is one store a unit changes.
type step struct {
	spec  string
	store stores.Store // nil: the store could not be opened; files only
	paths []string
	apply func(ctx context.Context) error
	// stage, when the store can (stores.Stager), writes aside what apply
	// would make, to be flushed with the journal and put in place by a
	// rename instead of apply; nil Staged: it staged nothing.
	stage func(ctx context.Context) (stores.Staged, error)
	// partial: a failing apply may have changed the store (it makes no
	// all-or-nothing promise of its own), so it is put back all the same.
	partial bool
	hooks   []Hook
	// report, for a Job's target, is filled in as the step goes.
	report *report.Target

	backup      *backup.Backup
	applied     bool
	hooked      bool
	rolledBack  bool
	err         error
	rollbackErr error
}

func (t *Tx) log() *zap.Logger {
	if t.Log == nil {
		return zap.NewNop()
	}
	return t.Log
}

func (t *Tx) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Tx) abort() context.Context {
	if t.Abort == nil {
		return context.Background()
	}
	return t.Abort
}

// Pending returns the journal of an interrupted transaction in stateDir that
// waits for recovery, or nil. It changes nothing (for commands that only
// read, to warn).
func Pending(stateDir string) (*Record, error) {
	return journal.Pending(stateDir)
}

// Do carries out units, one after the other, under the state folder's lock,
// after rolling back an interrupted transaction. The error is for what
// stopped Do before any unit ran (the lock, the recovery); each unit's own
// failure is in its Result, and a failing unit does not stop the ones after
// it.
func (t *Tx) Do(ctx context.Context, units ...Unit) (*Outcome, error) {
	out := &Outcome{}
	if t.DryRun {
		out.Pending, out.PendingErr = journal.Pending(t.StateDir)
		for _, u := range units {
			out.Results = append(out.Results, t.runUnit(ctx, u))
		}
		return out, nil
	}
	l, err := lock.Acquire(ctx, t.StateDir, t.LockWait)
	if err != nil {
		return out, err
	}
	defer l.Unlock()
	pending, err := journal.Pending(t.StateDir)
	if err != nil {
		return out, &hintedError{err: err, hint: "inspect the journal; 'rootsync restore' puts stores back from their backups; then remove the journal"}
	}

	var dirs []string
	var rec *recovery
	if pending != nil {
		rec = t.openRecovery(pending)
		dirs = append(dirs, rec.folders()...)
	}
	for _, u := range units {
		dirs = append(dirs, u.folders(t)...)
	}
	fl, err := lock.AcquireFolders(ctx, dirs, t.LockWait)
	if err != nil {
		return out, err
	}
	defer fl.Unlock()

	if rec != nil {
		if out.Recovered, err = t.recover(ctx, rec); err != nil {
			return out, err
		}
	}
	for _, u := range units {
		out.Results = append(out.Results, t.runUnit(ctx, u))
	}
	return out, nil
}

func (t *Tx) runUnit(ctx context.Context, u Unit) *Result {
	res := &Result{Name: u.unitName()}
	log := t.log().With(zap.String("job", res.Name))
	start := time.Now()
	steps, err := u.prepare(ctx, t, res)
	if err == nil && len(steps) > 0 {
		if t.Changing != nil {
			t.Changing()
		}
		err, res.JournalKept = t.transact(ctx, res.Name, steps, log)
	}
	res.Err = err
	if f, ok := u.(interface{ finish(*Result) }); ok {
		f.finish(res)
	}
	if err != nil {
		log.Error("job failed", zap.Error(err), zap.Duration("took", time.Since(start)))
	} else {
		log.Info("job done", zap.Int("stores_changed", len(steps)), zap.Bool("dry_run", t.DryRun), zap.Duration("took", time.Since(start)))
	}
	return res
}

// transact changes the stores of steps all or nothing under a journal.
func (t *Tx) transact(ctx context.Context, name string, steps []*step, log *zap.Logger) (err, journalKept error) {
	env := hookEnv(t.HideEnv)
	jr, err := journal.Begin(t.StateDir, name, t.now())
	if err != nil {
		return err, nil
	}
	var changed []*step
	var failure error
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			failure = fmt.Errorf("interrupted before changing %s: %w", s.spec, err)
			break
		}
		// A Stager builds the new content aside (changing nothing a
		// reader of the store sees, so not the backup either) on the
		// other core while the backup and the journal are written.
		stagedc := make(chan stagedResult, 1)
		if s.stage != nil {
			go func() {
				sg, err := s.stage(ctx)
				stagedc <- stagedResult{sg, err}
			}()
		} else {
			stagedc <- stagedResult{}
		}
		b, err := takeBackup(ctx, t.StateDir, s.spec, s.store, s.paths, t.now())
		if err != nil {
			discardStaged(stagedc)
			s.err = fmt.Errorf("backup before changing %s: %w", s.spec, err)
			failure = s.err
			s.sync()
			break
		}
		s.backup = b
		log.Info("backed up", zap.String("store", s.spec), zap.String("backup", b.Dir))
		if err := jr.Stage(s.spec, b); err != nil {
			discardStaged(stagedc)
			s.err = fmt.Errorf("before changing %s: %w", s.spec, err)
			failure = s.err
			s.sync()
			break
		}
		st := <-stagedc
		staged := st.staged
		if st.err != nil {
			// Nothing was changed and nothing staged is left.
			jr.Discard()
			s.err = st.err
			failure = fmt.Errorf("%s: %w", s.spec, st.err)
			s.sync()
			break
		}
		// One flush per file system for the backup, the journal and what
		// was staged; then the journal takes its name.
		var dirs []string
		if staged != nil {
			dirs = staged.Dirs()
		}
		if err := jr.Publish(dirs...); err != nil {
			if staged != nil {
				_ = staged.Discard()
			}
			s.err = fmt.Errorf("before changing %s: %w", s.spec, err)
			failure = s.err
			s.sync()
			break
		}
		apply := s.apply
		if staged != nil {
			apply = func(context.Context) error { return staged.Commit() }
		}
		if err := apply(ctx); err != nil {
			s.err = err
			failure = fmt.Errorf("%s: %w", s.spec, err)
			if s.partial || errors.Is(err, atomicfile.ErrDirSync) {
				// The new content is in place but may not survive a
				// crash: the store counts as changed and is put back.
				s.applied = true
				changed = append(changed, s)
			}
			// Otherwise Apply promises to leave the store as it was; the
			// backup stays for inspection but there is nothing to restore.
			s.sync()
			break
		}
		s.applied = true
		changed = append(changed, s)
		applied := []zap.Field{zap.String("store", s.spec)}
		if s.report != nil && s.report.Plan != nil {
			applied = append(applied, zap.Int("changes", len(s.report.Plan.Changes)), zap.Strings("what", report.Changes(s.report.Plan, 8)))
		}
		log.Info("applied", applied...)
		s.hooked = len(s.hooks) > 0
		if err := runHooks(ctx, s.hooks, env, log); err != nil {
			s.err = err
			failure = fmt.Errorf("%s: %w", s.spec, err)
			s.sync()
			break
		}
		s.sync()
	}
	if failure == nil {
		// The journal's removal is flushed while old backups are pruned:
		// the journal names only this unit's backups, the newest, which
		// pruning keeps.
		finished := make(chan error, 1)
		go func() { finished <- jr.Finish() }()
		if t.Keep > 0 {
			if err := backup.Prune(t.StateDir, t.Keep); err != nil {
				log.Warn("pruning old backups", zap.Error(err))
			}
		}
		if err := <-finished; err != nil {
			return err, err
		}
		return nil, nil
	}

	keep := t.rollback(changed, env, log)
	var rbErrs []error
	for _, s := range changed {
		if s.rollbackErr != nil {
			rbErrs = append(rbErrs, s.rollbackErr)
		}
	}
	if keep != nil {
		journalKept = keep
	} else if ferr := jr.Finish(); ferr != nil {
		journalKept = ferr
		rbErrs = append(rbErrs, ferr)
	}
	if len(rbErrs) > 0 {
		return fmt.Errorf("%w: %w; rollback incomplete: %w", ErrFailed, failure, errors.Join(rbErrs...)), journalKept
	}
	return fmt.Errorf("%w: %w", ErrFailed, failure), journalKept
}

// stagedResult is what a step's stage returned.
type stagedResult struct {
	staged stores.Staged
	err    error
}

// discardStaged waits for a stage that is no longer wanted and removes what
// it built.
func discardStaged(c <-chan stagedResult) {
	if r := <-c; r.staged != nil {
		_ = r.staged.Discard()
	}
}

// sync copies the step's state into its report target.
func (s *step) sync() {
	if s.report == nil {
		return
	}
	s.report.Applied, s.report.RolledBack = s.applied, s.rolledBack
	s.report.Err, s.report.RollbackErr = s.err, s.rollbackErr
	if s.backup != nil {
		s.report.Backup = s.backup.Dir
	}
}

// rollback puts changed stores back, last first: files from the backup, then
// the store's state, then its hooks again (so that services pick up the
// restored state), each hook bounded by its timeout and run under Abort
// rather than the possibly interrupted context. It returns why the journal
// must be kept for the next process (nil: the rollback is complete).
func (t *Tx) rollback(changed []*step, env []string, log *zap.Logger) error {
	abort := t.abort()
	var keep []error
	for k := len(changed) - 1; k >= 0; k-- {
		s := changed[k]
		if err := s.backup.Restore(); err != nil {
			s.rollbackErr = fmt.Errorf("rolling back %s from %s: %w", s.spec, s.backup.Dir, err)
			keep = append(keep, fmt.Errorf("%s: its rollback did not complete; the next run tries again", s.spec))
			s.sync()
			continue
		}
		if s.store != nil {
			err := restoreSaved(abort, s.backup, s.store)
			if err == nil {
				err = stores.RestoreState(abort, s.store)
			}
			if err != nil {
				s.rollbackErr = fmt.Errorf("rolling back %s: %w", s.spec, err)
				keep = append(keep, fmt.Errorf("%s: its rollback did not complete; the next run tries again", s.spec))
				s.sync()
				continue
			}
		}
		s.applied, s.rolledBack = false, true
		log.Warn("rolled back", zap.String("store", s.spec), zap.String("backup", s.backup.Dir))
		if s.hooked {
			if abort.Err() != nil {
				s.rollbackErr = fmt.Errorf("hooks of %s not run after the rollback: interrupted again", s.spec)
				keep = append(keep, fmt.Errorf("interrupted again: hooks of %s skipped; the journal is kept, the next run rolls back again", s.spec))
			} else if err := runHooks(abort, s.hooks, env, log); err != nil {
				s.rollbackErr = fmt.Errorf("hooks of %s after the rollback: %w", s.spec, err)
				if abort.Err() != nil {
					keep = append(keep, fmt.Errorf("interrupted again: hooks of %s stopped; the journal is kept, the next run rolls back again", s.spec))
				}
			}
		}
		s.sync()
	}
	return errors.Join(keep...)
}

// recovery is an interrupted transaction about to be rolled back, with the
// stores it names opened where possible.
type recovery struct {
	rec     *journal.Record
	backups []*backup.Backup // per target; nil when the backup cannot be read
	stores  []stores.Store   // per target; nil when the store cannot be opened
	openErr []error
}

func (t *Tx) openRecovery(rec *journal.Record) *recovery {
	r := &recovery{rec: rec}
	for _, tg := range rec.Targets {
		b, _ := journal.OpenBackup(t.StateDir, tg)
		r.backups = append(r.backups, b)
		var st stores.Store
		var err error
		if t.Open != nil {
			st, err = t.Open(tg.Store)
		}
		r.stores = append(r.stores, st)
		r.openErr = append(r.openErr, err)
	}
	return r
}

func (r *recovery) folders() []string {
	var out []string
	for i := range r.rec.Targets {
		var paths []string
		if b := r.backups[i]; b != nil {
			for _, it := range b.Items {
				paths = append(paths, it.Path)
			}
		}
		out = append(out, lockFolders(r.stores[i], paths)...)
	}
	return out
}

// recover rolls back an interrupted transaction: every store its journal
// names is put back from its backup (last first) and its state restored, and
// the journal is removed. When that fails the journal stays, so the next
// process tries again.
func (t *Tx) recover(ctx context.Context, r *recovery) (*Recovery, error) {
	out := &Recovery{Record: r.rec}
	var errs []error
	for i := len(r.rec.Targets) - 1; i >= 0; i-- {
		tg := r.rec.Targets[i]
		b := r.backups[i]
		var err error
		if b == nil {
			b, err = journal.OpenBackup(t.StateDir, tg)
		}
		if err == nil && r.stores[i] != nil {
			err = b.Within(r.stores[i].Paths())
		}
		if err == nil {
			err = b.Restore()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("rolling back %s from %s: %w", tg.Store, tg.Backup, err))
			continue
		}
		switch {
		case r.stores[i] != nil:
			err := restoreSaved(ctx, b, r.stores[i])
			if err == nil {
				err = stores.RestoreState(ctx, r.stores[i])
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("rolling back %s: %w", tg.Store, err))
			}
		case r.openErr[i] != nil:
			out.Notes = append(out.Notes, fmt.Sprintf("%s: files restored, but the store could not be opened to restore its state: %v", tg.Store, r.openErr[i]))
		}
	}
	if len(errs) > 0 {
		return out, &hintedError{
			err: fmt.Errorf("rolling back the interrupted run of job %q: %w", r.rec.Job, errors.Join(errs...)),
			hint: "'rootsync restore BACKUP' puts a store back by hand; remove " +
				filepath.Join(t.StateDir, journal.FileName) + " once the stores are right",
		}
	}
	t.log().Warn("rolled back an interrupted run", zap.String("job", r.rec.Job), zap.Int("pid", r.rec.PID), zap.Int("targets", len(r.rec.Targets)))
	return out, journal.Clear(t.StateDir)
}

// hintedError is an error with what the user can do about it.
type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string    { return e.err.Error() }
func (e *hintedError) Unwrap() error    { return e.err }
func (e *hintedError) HintText() string { return e.hint }

// lockFolders returns the folders to lock for writing a store: those it names
// (stores.FolderLocker), or else, for each of its Paths (or paths when the
// store could not be opened), the folder itself or the nearest existing
// folder above a file.
func lockFolders(s stores.Store, paths []string) []string {
	if s != nil {
		if fl, ok := s.(stores.FolderLocker); ok {
			return fl.LockFolders()
		}
		paths = s.Paths()
	}
	var out []string
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
			out = append(out, abs)
			continue
		}
		for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
			if fi, err := os.Stat(dir); (err == nil && fi.IsDir()) || dir == filepath.Dir(dir) {
				out = append(out, dir)
				break
			}
		}
	}
	return out
}
