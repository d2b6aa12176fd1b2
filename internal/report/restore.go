package report

import (
	"fmt"
	"io"
	"time"
)

// Backup is one saved state of a store, as rootsync restore lists it.
type Backup struct {
	ID      string
	Created time.Time
	Store   string
	Dir     string
}

// Backups is the list of backups under a state folder, newest first.
type Backups struct {
	StateDir string
	Backups  []Backup
}

// BackupsText writes the backups as a table (times in local time).
func BackupsText(w io.Writer, b Backups) error {
	ew := &errWriter{w: w}
	if len(b.Backups) == 0 {
		ew.printf("no backups under %s\n", b.StateDir)
		return ew.err
	}
	table{
		rows: len(b.Backups) + 1,
		cells: func(i int, row []string) []string {
			if i == 0 {
				return append(row, "BACKUP", "CREATED", "STORE")
			}
			x := b.Backups[i-1]
			return append(row, x.ID, x.Created.Local().Format(time.DateTime), x.Store)
		},
	}.write(ew)
	return ew.err
}

type jsonBackup struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Store   string    `json:"store"`
	Dir     string    `json:"dir"`
}

// BackupsJSON writes the backups as one JSON document (schema
// rootsync.backups/v1).
func BackupsJSON(w io.Writer, b Backups) error {
	out := struct {
		Schema   string       `json:"schema"`
		StateDir string       `json:"state_dir"`
		Backups  []jsonBackup `json:"backups"`
	}{BackupsSchema, b.StateDir, []jsonBackup{}}
	for _, x := range b.Backups {
		out.Backups = append(out.Backups, jsonBackup{x.ID, x.Created.UTC(), x.Store, x.Dir})
	}
	return encode(w, out)
}

// Restored is what rootsync restore BACKUP did: the store it put back, the
// backup it used, and the backup of the state before the restore (to undo
// it).
type Restored struct {
	Store string
	From  string
	Undo  string
}

// RestoredText writes the restore for people.
func RestoredText(w io.Writer, r Restored) error {
	_, err := fmt.Fprintf(w, "restored %s from %s\nthe state before the restore is saved as %s\n", r.Store, r.From, r.Undo)
	return err
}

// RestoredJSON writes the restore as one JSON document (schema
// rootsync.restore/v1).
func RestoredJSON(w io.Writer, r Restored) error {
	return encode(w, struct {
		Schema string `json:"schema"`
		Store  string `json:"store"`
		From   string `json:"from"`
		Undo   string `json:"undo"`
	}{RestoreSchema, r.Store, r.From, r.Undo})
}
