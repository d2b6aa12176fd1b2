// Package toystore is a store adapter written outside rootsync's module, the
// way a third party would write one: a whole trust store in one JSON file.
// It imports only rootsync's public packages; its tests run the public
// conformance suite (stores/storetest) against it, and against deliberately
// broken variants of it that the suite must fail.
package toystore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rootsync/rootsync/stores"
)

// Kind is the spec kind of the toy store.
const Kind = "toy"

// Fault names one deliberate defect of a broken variant; the zero Fault is
// the correct store.
type Fault string

// The defects the conformance suite must find.
const (
	// DropsEntry: Load leaves out the last entry of the file.
	DropsEntry Fault = "drops-entry"
	// RewritesOnEmptyPlan: Apply writes the file even when there is nothing
	// to change (and so creates a store that did not exist).
	RewritesOnEmptyPlan Fault = "rewrites-on-empty-plan"
	// IgnoresOwnership: Load reports every entry as added by rootsync.
	IgnoresOwnership Fault = "ignores-ownership"
)

// Record is one entry as the file holds it.
type Record struct {
	Label string       `json:"label"`
	DER   []byte       `json:"der"`
	Trust stores.Trust `json:"trust"`
	Owned bool         `json:"owned,omitempty"`
}

// File is the whole store file.
type File struct {
	Entries []Record `json:"entries"`
}

// Store is a trust store kept in one JSON file.
type Store struct {
	path  string
	fault Fault
}

// Open opens the store at path; nothing is read or created yet.
func Open(path string, fault Fault) *Store { return &Store{path: path, fault: fault} }

// Spec implements stores.Store.
func (s *Store) Spec() stores.Spec { return stores.Spec{Kind: Kind, Location: s.path} }

// Capabilities implements stores.Store.
func (s *Store) Capabilities() stores.Capabilities {
	return stores.Capabilities{PerPurpose: true, Distrust: true, Ownership: true}
}

// Paths implements stores.Store: the one file.
func (s *Store) Paths() []string { return []string{s.path} }

// Load implements stores.Store.
func (s *Store) Load(ctx context.Context) (*stores.Set, error) {
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	if s.fault == DropsEntry && len(f.Entries) > 0 {
		f.Entries = f.Entries[:len(f.Entries)-1]
	}
	set := stores.NewSet()
	for _, r := range f.Entries {
		c, err := stores.ParseCertificate(r.DER)
		if err != nil {
			return nil, &stores.Error{Path: s.path, Entry: r.Label, Err: fmt.Errorf("%w: %v", stores.ErrCorrupt, err)}
		}
		set.Add(&stores.Entry{Cert: c, Trust: r.Trust, Owned: r.Owned || s.fault == IgnoresOwnership, Label: r.Label})
	}
	return set, nil
}

// read reads and decodes the file; a missing file is stores.ErrNotExist.
func (s *Store) read() (*File, error) {
	b, err := stores.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, stores.NotExist(s.path)
	}
	if err != nil {
		return nil, err
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, &stores.Error{Path: s.path, Err: fmt.Errorf("%w: %v", stores.ErrCorrupt, err),
			Hint: "restore the file from a backup or remove it"}
	}
	return &f, nil
}

// Apply implements stores.Store: it works on a copy of the file's entries and
// replaces the file in one rename, so a failure leaves it as it was.
func (s *Store) Apply(ctx context.Context, changes []stores.Change) error {
	if len(changes) == 0 && s.fault != RewritesOnEmptyPlan {
		return nil
	}
	f, err := s.read()
	if errors.Is(err, stores.ErrNotExist) {
		f, err = &File{}, nil
	}
	if err != nil {
		return err
	}
	for _, ch := range changes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f, err = change(f, ch); err != nil {
			return &stores.Error{Path: s.path, Entry: ch.Entry.Cert.Subject, Err: err}
		}
	}
	return s.write(f)
}

// change returns f with ch made.
func change(f *File, ch stores.Change) (*File, error) {
	out := &File{}
	found := false
	for _, r := range f.Entries {
		if stores.FingerprintOf(r.DER) != ch.Entry.Cert.Fingerprint {
			out.Entries = append(out.Entries, r)
			continue
		}
		found = true
		switch ch.Action {
		case stores.Remove:
		case stores.SetTrust:
			r.Trust = ch.Entry.Trust
			out.Entries = append(out.Entries, r)
		default:
			return nil, fmt.Errorf("%s: already in the store", ch.Action)
		}
	}
	switch {
	case ch.Action == stores.Add && !found:
		out.Entries = append(out.Entries, Record{Label: ch.Entry.Cert.Subject, DER: ch.Entry.Cert.DER, Trust: ch.Entry.Trust, Owned: true})
	case ch.Action != stores.Add && !found:
		return nil, fmt.Errorf("%s: not in the store", ch.Action)
	}
	return out, nil
}

// write replaces the file with f through a temporary file and a rename.
func (s *Store) write(f *File) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), "."+filepath.Base(s.path)+".*")
	if err != nil {
		return &stores.Error{Path: s.path, Err: err}
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path)
	}
	if err != nil {
		return &stores.Error{Path: s.path, Err: err}
	}
	return nil
}

// AddForeign puts c into the store as another program would: trusted for
// every purpose, without the ownership mark.
func AddForeign(path string, c *stores.Certificate) error {
	var f File
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &f); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f.Entries = append(f.Entries, Record{Label: "foreign " + c.CommonName(), DER: c.DER, Trust: stores.TrustAll()})
	b, err := json.Marshal(&f)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
