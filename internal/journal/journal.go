// Package journal makes a job's "all targets or none" promise survive a
// crash. Before a target is changed, the job's journal in the state folder
// (STATE/journal.json) records the target and its backup, synced to disk. A
// job that ends — committed or rolled back in-process — removes the journal.
// A journal found at the start of the next run therefore belongs to a run
// that was killed (SIGKILL, power loss) part-way; the next run restores every
// target it names from its backup, so the job's targets are all back in
// their state before that run. Rolling back is the transaction's work
// (internal/job); this package reads and writes the journal.
//
// A journal is written in two steps: Stage writes it under a temporary name,
// and Publish flushes it, together with the backup it names and whatever
// the caller staged for its next change, with one syncfs per file system,
// then gives it its name and flushes the state folder. Add is both.
//
// The journal never names a target before its backup is complete, and each
// store's Apply is atomic on its own, so restoring every named target is
// always safe, also when the killed run had already finished some of them.
// A journal is data to check, never instructions: it is read without
// following a symbolic link (and, as root, only when root owns it), and
// OpenBackup accepts only backups in the state folder's own backups folder
// that were taken of the store the journal names; the backup's manifest is
// checked in turn (see internal/backup). The package never logs and never
// runs hooks.
package journal

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/internal/securefs"
)

// FileName is the journal's name inside the state folder.
const FileName = "journal.json"

// stagedPrefix starts the name of a journal Stage wrote and Publish has not
// yet renamed.
const stagedPrefix = "." + FileName + ".rootsync-"

// Record is what a journal holds.
type Record struct {
	Job     string    `json:"job"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Targets []Target  `json:"targets"`
}

// Target is one store the job was about to change, with its backup folder.
type Target struct {
	Store  string `json:"store"`
	Backup string `json:"backup"`
}

// Journal is the open journal of one running job.
type Journal struct {
	path    string
	rec     Record
	written bool
	// staged is the temporary file Stage wrote and Publish has not yet
	// renamed into place ("": none).
	staged string
}

// Begin starts the journal of job in stateDir. Nothing is written until the
// first Add, so a job that changes nothing leaves no trace. Begin fails if an
// unfinished journal is still there: it must be rolled back first.
func Begin(stateDir, job string, now time.Time) (*Journal, error) {
	path := filepath.Join(stateDir, FileName)
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%s: an interrupted run's journal is still there; it must be recovered first", path)
	}
	// Journals a killed process staged and never published: it changed
	// nothing after them. The caller holds the state folder's lock.
	if stale, err := filepath.Glob(filepath.Join(stateDir, stagedPrefix+"*")); err == nil {
		for _, p := range stale {
			_ = os.Remove(p)
		}
	}
	return &Journal{path: path, rec: Record{Job: job, PID: os.Getpid(), Started: now.UTC()}}, nil
}

// Add records that store is about to change and b holds its state before;
// it returns once the record is on disk. It is Stage and Publish.
func (j *Journal) Add(store string, b *backup.Backup) error {
	if err := j.Stage(store, b); err != nil {
		return err
	}
	return j.Publish()
}

// Stage writes the journal with store added (b holds its state before)
// under a temporary name in the state folder, without flushing it; the
// journal on disk is still the one before. Publish makes it the journal;
// Discard drops it.
func (j *Journal) Stage(store string, b *backup.Backup) error {
	j.Discard()
	j.rec.Targets = append(j.rec.Targets, Target{Store: store, Backup: b.Dir})
	data, _ := json.MarshalIndent(j.rec, "", "  ")
	dir := filepath.Dir(j.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		j.rec.Targets = j.rec.Targets[:len(j.rec.Targets)-1]
		return fmt.Errorf("journal: %w", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, stagedPrefix+hex.EncodeToString(rnd[:]))
	// O_EXCL: never through a link put there.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = f.Write(append(data, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(tmp)
		}
	}
	if err != nil {
		j.rec.Targets = j.rec.Targets[:len(j.rec.Targets)-1]
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	j.staged = tmp
	return nil
}

// Publish makes the staged journal the journal, durably. First everything
// written so far on the state folder's file system (the staged journal, the
// backup it names: backup.TakeUnflushed leaves that to this flush) and on
// the file systems that hold dirs (what the caller wrote aside, to put in
// place once the journal is on disk) is flushed, one flush per file system,
// in parallel; then the journal takes its name and the state folder is
// flushed. It returns once the journal is on disk. On an error the staged
// journal is dropped, and the journal on disk is the one before, or (when
// only the last flush failed) the new one, which Finish removes.
func (j *Journal) Publish(dirs ...string) error {
	if j.staged == "" {
		return fmt.Errorf("journal %s: nothing staged", j.path)
	}
	stateDir := filepath.Dir(j.path)
	if err := flushStaged(j.staged, stateDir, dirs); err != nil {
		j.Discard()
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if err := os.Rename(j.staged, j.path); err != nil {
		j.Discard()
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	j.staged, j.written = "", true
	if err := atomicfile.SyncDir(stateDir); err != nil {
		return fmt.Errorf("journal %s: %w: %w", j.path, atomicfile.ErrDirSync, err)
	}
	return nil
}

// Discard drops what Stage wrote and Publish did not publish (the last
// target it added).
func (j *Journal) Discard() {
	if j.staged == "" {
		return
	}
	os.Remove(j.staged)
	j.staged = ""
	j.rec.Targets = j.rec.Targets[:len(j.rec.Targets)-1]
}

// Finish ends the journal: the job either completed or rolled itself back.
func (j *Journal) Finish() error {
	j.Discard()
	if !j.written {
		return nil
	}
	if err := os.Remove(j.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("journal: %w", err)
	}
	j.written = false
	return atomicfile.SyncDir(filepath.Dir(j.path))
}

// Pending returns the unfinished journal in stateDir, or nil when there is
// none. It changes nothing.
func Pending(stateDir string) (*Record, error) {
	path := filepath.Join(stateDir, FileName)
	data, err := securefs.ReadFile(path, securefs.MaxStateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	for i, t := range r.Targets {
		if t.Store == "" || t.Backup == "" {
			return nil, fmt.Errorf("journal %s: target %d: no store or no backup named", path, i+1)
		}
	}
	return &r, nil
}

// ErrForeignBackup is wrapped by OpenBackup's error for a journal that names a
// backup outside the state folder's backups, or one of another store.
var ErrForeignBackup = errors.New("not a backup this state folder took of that store")

// OpenBackup opens the backup a journal target names, which must be a backup
// of that store directly in stateDir's backups folder: a journal is data to
// validate, never instructions.
func OpenBackup(stateDir string, t Target) (*backup.Backup, error) {
	want, err1 := filepath.Abs(filepath.Join(stateDir, "backups"))
	got, err2 := filepath.Abs(filepath.Dir(t.Backup))
	id := filepath.Base(t.Backup)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if got != want || !filepath.IsLocal(id) || strings.HasPrefix(id, ".") {
		return nil, &securefs.Error{Path: t.Backup,
			Msg:  fmt.Sprintf("backup %s: %v (it is not in %s)", t.Backup, ErrForeignBackup, want),
			Hint: "rootsync's journals name only backups in its own state folder; check who wrote the journal, then remove it"}
	}
	b, err := backup.Open(filepath.Join(stateDir, "backups", id))
	if err != nil {
		return nil, err
	}
	if b.Store != t.Store {
		return nil, &securefs.Error{Path: b.Dir,
			Msg:  fmt.Sprintf("backup %s: %v (it holds %s)", b.Dir, ErrForeignBackup, b.Store),
			Hint: "check who wrote the journal, then remove it; 'rootsync restore' lists the backups"}
	}
	return b, nil
}

// Clear removes the journal in stateDir once the transaction it describes
// was rolled back.
func Clear(stateDir string) error {
	path := filepath.Join(stateDir, FileName)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("journal: %w", err)
	}
	return atomicfile.SyncDir(stateDir)
}
