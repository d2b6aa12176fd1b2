// Package nss reads and writes NSS shared SQL databases (cert9.db with
// key4.db), the trust stores of Chromium and Firefox on Linux, natively
// through SQLite, without NSS's tools.
//
// Certificates are read with their nickname (Entry.Label) and their
// per-purpose trust from both classic NSS trust objects and PKCS#11 3.2 ones.
// The integrity signatures that NSS keeps in key4.db for trust values are
// checked the way NSS checks them: trust whose signature does not verify is
// reported as NSS treats it (untrusted), with a note on the entry. Writes
// add, remove and change trust in one short SQLite transaction per file, with
// correct signatures, in the classic format that every NSS version reads.
// rootsync's entries carry the nickname prefix "rootsync - " (no colon: certutil reads "a:b" as token:nickname).
//
// Databases NSS converted from its old Berkeley DB format (cert8.db, key3.db)
// are read and written too; their password check may still use key3.db's
// PKCS#12-era encryption (legacypbe.go). A folder holding only the old
// format, or a conversion NSS has not finished, is refused with a hint. A
// certificate whose private key is in key4.db (flag u) is marked
// stores.Entry.PrivateKey and is never changed. A database this package
// creates gets the store's password, else the empty password.
//
// Unknown extra columns (a newer NSS adds some) are fine: rows rootsync
// inserts leave them NULL, which NSS reads as an absent attribute, and rows it
// updates keep them. The package never changes the schema or the journal mode
// and never logs; it holds the databases' write locks only to check that
// nothing changed since it planned and to write its rows (milliseconds for a
// few hundred roots, seconds for tens of thousands). Browser database locations are in discover.go.
package nss

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rootsync/rootsync/stores"
)

// OwnerPrefix starts the nickname of every certificate rootsync adds.
const OwnerPrefix = "rootsync - "

// Store is one NSS database folder.
type Store struct {
	spec   stores.Spec
	dir    string
	secret stores.Secret
}

var _ stores.Store = (*Store)(nil)

// Open returns the store for spec, whose location is the database folder
// (certutil's "sql:" prefix is accepted) or a shorthand (chromium, system,
// firefox/PROFILE) that names exactly one database; see ResolveShorthand. The
// password, needed only for a password-protected database, comes from the
// spec's password-env or password-file option, else from opts.Password. Open
// reads nothing but profiles.ini for a shorthand and creates nothing.
func Open(spec stores.Spec, opts stores.OpenOptions) (stores.Store, error) {
	if spec.Kind != "nss" {
		return nil, fmt.Errorf("store %s: not an nss store", spec)
	}
	loc := spec.Location
	if len(loc) > 4 && loc[:4] == "sql:" {
		loc = loc[4:]
	}
	if loc == "" {
		return nil, fmt.Errorf("store %s: missing database folder", spec)
	}
	if IsShorthand(loc) {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", spec, err)
		}
		dirs, err := ResolveShorthand(loc, home)
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", spec, err)
		}
		if len(dirs) != 1 {
			return nil, fmt.Errorf("store %s: names %d databases; name one (nss:firefox/PROFILE) or resolve the shorthand first", spec, len(dirs))
		}
		loc = dirs[0]
	}
	if filepath.Base(loc) == certFile {
		loc = filepath.Dir(loc)
	}
	dir, err := filepath.Abs(loc)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", spec, err)
	}
	return &Store{spec: spec, dir: dir, secret: stores.SecretFromSpec(spec, opts.Password)}, nil
}

// Spec returns the spec the store was opened with.
func (s *Store) Spec() stores.Spec { return s.spec }

// Dir is the database folder.
func (s *Store) Dir() string { return s.dir }

// Capabilities: NSS keeps trust per purpose, records distrust, and rootsync
// marks its entries by nickname.
func (s *Store) Capabilities() stores.Capabilities {
	return stores.Capabilities{PerPurpose: true, Distrust: true, Ownership: true}
}

// Paths are the two database files.
func (s *Store) Paths() []string { return []string{s.certPath(), s.keyPath()} }

// LockFolders is empty: writers of an NSS database take turns through
// SQLite's own locking, which browsers and certutil share (stores.FolderLocker).
func (s *Store) LockFolders() []string { return nil }

func (s *Store) certPath() string { return filepath.Join(s.dir, certFile) }
func (s *Store) keyPath() string  { return filepath.Join(s.dir, keyFile) }

// Files of NSS's old Berkeley DB format, which NSS converts to cert9.db and
// key4.db and then leaves in place.
const (
	legacyCertFile = "cert8.db"
	legacyKeyFile  = "key3.db"
)

// convertHint tells how to have NSS convert an old database: changing the
// password (to the same one) makes certutil log in, which completes the
// conversion, including the key database that needs the password.
func convertHint(dir string) string {
	return "let NSS convert it: run certutil -W -d sql:" + dir +
		" and give the current password as the old and the new one (press Enter at each prompt if it has none)"
}

// checkLegacy refuses a folder that holds only the old Berkeley DB format.
func (s *Store) checkLegacy() error {
	for _, f := range []string{legacyCertFile, legacyKeyFile} {
		if ok, _ := exists(filepath.Join(s.dir, f)); !ok {
			continue
		}
		return &stores.Error{Path: filepath.Join(s.dir, f),
			Err: fmt.Errorf("%w: NSS database in the old Berkeley DB format (cert8.db, key3.db); rootsync reads only the SQL format (cert9.db, key4.db)",
				stores.ErrUnsupported),
			Hint: convertHint(s.dir)}
	}
	return nil
}

// checkConverted refuses a database whose conversion from the old format NSS
// began but did not finish: cert9.db exists, but key4.db has no password
// entry yet (NSS copies it from key3.db only after a login with the
// password). Until then NSS still reads cert8.db, so what cert9.db holds is
// not what NSS sees, and a write there would give the database a new empty
// password.
func checkConverted(dir string, st *state) error {
	if st.hasPasswordEntry {
		return nil
	}
	for _, f := range []string{legacyKeyFile, legacyCertFile} {
		if ok, _ := exists(filepath.Join(dir, f)); ok {
			return &stores.Error{Path: filepath.Join(dir, keyFile),
				Err: fmt.Errorf("%w: NSS began converting the old database (%s) but has not finished, so NSS still reads the old one",
					stores.ErrUnsupported, f),
				Hint: convertHint(dir)}
		}
	}
	return nil
}

// Load reads every certificate with the trust NSS sees for it. A missing
// folder, or one without cert9.db, is stores.ErrNotExist; a folder holding
// other files but no cert9.db, or a cert9.db that is not a regular file, is
// stores.ErrWrongKind.
func (s *Store) Load(ctx context.Context) (*stores.Set, error) {
	if err := s.checkFiles(); err != nil {
		if errors.Is(err, stores.ErrNotExist) && !s.secret.IsZero() {
			// The password a new database gets must be readable now, so
			// that a plan (diff) already reports a missing password file.
			if _, perr := s.secret.Value(); perr != nil {
				return nil, &stores.Error{Path: s.dir, Err: fmt.Errorf("%w: %w", stores.ErrBadPassword, perr),
					Hint: stores.PasswordHint(s.secret, perr, "set the password in "+s.secret.String()+", or name another source with ?password-env=VAR or ?password-file=FILE")}
			}
		}
		return nil, err
	}
	var es []*stores.Entry
	// A trust object that fails its check may be one whose signatures another
	// program is rewriting at this moment; look again before reporting it.
	for attempt := 0; ; attempt++ {
		st, a, v, err := s.readListing(ctx)
		if err != nil {
			return nil, err
		}
		var bad int
		es, bad, err = entries(st, a, v)
		if err != nil {
			return nil, &stores.Error{Path: s.keyPath(), Err: fmt.Errorf("%w: %w", stores.ErrUnsupported, err),
				Hint: "NSS writes 1 or 10000 PBKDF2 iterations per signature; if another program wrote this database, have NSS rewrite its trust (certutil -M for each certificate) or name another database"}
		}
		if bad == 0 || attempt == 2 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	set := stores.NewSet()
	for _, e := range es {
		set.Add(e)
	}
	return set, nil
}

// readListing reads the state for Load and logs in. Logging in as key4.db is
// read lets the signatures be checked as they are read, so that they need
// not be kept (see checkAsRead); v is the verifier that checked them, nil
// when there is no key.
func (s *Store) readListing(ctx context.Context) (st *state, a *auth, v *verifier, err error) {
	st, err = s.readWith(ctx, func(st *state) (func(sigKey, []byte) bool, error) {
		if err := checkConverted(s.dir, st); err != nil {
			return nil, err
		}
		var err error
		if a, err = login(st, s.keyPath(), s.secret); err != nil {
			return nil, err
		}
		if a.pk == nil {
			return func(sigKey, []byte) bool { return false }, nil // nothing is checked
		}
		v = newVerifier(a.pk)
		v.reading = &readAllowance{first: readWork, shared: readWorkShared, deferred: map[string]bool{}}
		return st.checkAsRead(v), nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	if a == nil { // no key4.db
		if err := checkConverted(s.dir, st); err != nil {
			return nil, nil, nil, err
		}
		if a, err = login(st, s.keyPath(), s.secret); err != nil {
			return nil, nil, nil, err
		}
	}
	if v != nil {
		v.reading = nil
	}
	return st, a, v, nil
}

// read loads the state through read-only connections, each in one short
// read transaction.
func (s *Store) read(ctx context.Context, write bool) (*state, error) {
	return s.readState(ctx, &state{}, write, nil)
}

// readWith is read for listing: the state has no object ids (only a write
// needs them), and onKey, called once key4.db's password entry is read,
// returns which signatures to keep (see readKey4). onKey is not called
// without a key4.db.
func (s *Store) readWith(ctx context.Context, onKey func(*state) (func(sigKey, []byte) bool, error)) (*state, error) {
	return s.readState(ctx, &state{listing: true}, false, onKey)
}

// readState reads cert9.db and, when there is one, key4.db into st.
func (s *Store) readState(ctx context.Context, st *state, write bool, onKey func(*state) (func(sigKey, []byte) bool, error)) (*state, error) {
	cc, err := openConn(ctx, s.certPath(), write)
	if err != nil {
		return nil, err
	}
	defer cc.close()
	if err := inReadTx(ctx, cc, func() error { return readCert9(ctx, cc, st) }); err != nil {
		return nil, err
	}
	ok, err := exists(s.keyPath())
	if err != nil {
		return nil, &stores.Error{Path: s.keyPath(), Err: err}
	}
	if !ok {
		return st, nil
	}
	kc, err := openConn(ctx, s.keyPath(), write)
	if err != nil {
		return nil, err
	}
	defer kc.close()
	if err := inReadTx(ctx, kc, func() error { return readKey4(ctx, kc, st, onKey) }); err != nil {
		return nil, err
	}
	return st, nil
}

func inReadTx(ctx context.Context, c *conn, f func() error) error {
	if err := c.exec(ctx, "BEGIN"); err != nil {
		return dbError(c.path, err)
	}
	err := f()
	if rerr := c.exec(ctx, "COMMIT"); rerr != nil && err == nil {
		err = dbError(c.path, rerr)
	}
	if err != nil {
		_ = c.exec(ctx, "ROLLBACK")
	}
	return err
}

var errRetry = errors.New("database changed while planning")
