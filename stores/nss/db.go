package nss

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rootsync/rootsync/stores"
)

// BusyTimeout is how long a statement waits for another program's lock on
// cert9.db or key4.db before the operation fails with stores.ErrLocked. NSS
// itself waits about one second; rootsync's own transactions last a few
// milliseconds.
var BusyTimeout = 3 * time.Second

const (
	certFile = "cert9.db"
	keyFile  = "key4.db"
)

// conn is one SQLite connection to one file of the database.
type conn struct {
	path string
	db   *sql.DB
	c    *sql.Conn
}

// dsn builds a SQLite URI for path (a Windows path too): mode=ro for
// reading, mode=rw for writing (neither creates the file).
func dsn(path string, write bool) string {
	p := filepath.ToSlash(path)
	if filepath.VolumeName(path) != "" {
		// A Windows path: file:///C:/dir/cert9.db.
		p = "/" + p
	}
	u := url.URL{Scheme: "file", Path: p}
	mode := "ro"
	if write {
		mode = "rw"
	}
	return u.String() + "?mode=" + mode + fmt.Sprintf("&_pragma=busy_timeout(%d)", BusyTimeout.Milliseconds())
}

// openConn opens path for reading or writing. Before a read it rolls back a
// hot journal, one left by a writer that died mid-transaction (a killed
// rootsync or certutil, a crashed browser): a read-only connection cannot, and
// would fail with SQLITE_READONLY_ROLLBACK. NSS does the same when it opens
// the file. A journal that a live writer holds is left alone: SQLite's locks
// tell the two apart.
func openConn(ctx context.Context, path string, write bool) (*conn, error) {
	if !write {
		if fi, err := os.Stat(path + "-journal"); err == nil && fi.Size() > 0 {
			if err := rollbackHotJournal(ctx, path); err != nil {
				return nil, err
			}
		}
	}
	return open1(ctx, path, write)
}

// rollbackHotJournal reads through a read-write connection, which makes
// SQLite roll a hot journal back. Without write access it does nothing, and
// the read that follows reports the problem.
func rollbackHotJournal(ctx context.Context, path string) error {
	c, err := open1(ctx, path, true)
	if err != nil {
		return nil
	}
	defer c.close()
	var n int
	if err := c.c.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		return dbError(path, err)
	}
	return nil
}

func open1(ctx context.Context, path string, write bool) (*conn, error) {
	db, err := sql.Open("sqlite", dsn(path, write))
	if err != nil {
		return nil, dbError(path, err)
	}
	db.SetMaxOpenConns(1)
	c, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, dbError(path, err)
	}
	return &conn{path: path, db: db, c: c}, nil
}

func (c *conn) close() {
	if c == nil {
		return
	}
	c.c.Close()
	c.db.Close()
}

func (c *conn) exec(ctx context.Context, q string, args ...any) error {
	_, err := c.c.ExecContext(ctx, q, args...)
	return err
}

// columns lists the columns of table, or nil if there is no such table.
func (c *conn) columns(ctx context.Context, table string) (map[string]bool, error) {
	rows, err := c.c.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[strings.ToLower(n)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// dataVersion changes whenever another connection commits to the file.
func (c *conn) dataVersion(ctx context.Context) (int64, error) {
	var v int64
	err := c.c.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v)
	return v, err
}

// sqliteCode is the primary SQLite result code in err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// dbError turns a SQLite error about path into a *stores.Error with the
// sentinel callers branch on and a hint.
func dbError(path string, err error) error {
	var se *stores.Error
	if errors.As(err, &se) {
		return err
	}
	e := &stores.Error{Path: path, Err: err}
	switch sqliteCode(err) {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		e.Err = fmt.Errorf("%w: %v", stores.ErrLocked, err)
		e.Hint = "another program (a browser, certutil) holds the database; retry when it is done"
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		e.Err = fmt.Errorf("%w: not an NSS database: %v", stores.ErrCorrupt, err)
		e.Hint = "restore the database from a backup or remove it"
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
		e.Hint = "check that the folder and the database files are writable"
	case sqlite3.SQLITE_FULL:
		e.Hint = "free disk space and retry"
	case sqlite3.SQLITE_IOERR:
		e.Hint = "SQLite could not read or write the database: check that " + path + " is a regular file (not a folder, pipe or device) on a working disk with room, or restore the database from a backup"
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		e.Hint = ""
	}
	return e
}

func corrupt(path, format string, args ...any) error {
	return &stores.Error{
		Path: path,
		Err:  fmt.Errorf("%w: %s", stores.ErrCorrupt, fmt.Sprintf(format, args...)),
		Hint: "restore the database from a backup or remove it",
	}
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// nssColumns are the attribute columns NSS 3.87 creates, in its order.
const nssColumns = "a0, a1, a2, a3, a10, a11, a12, a80, a81, a82, a83, a84, a85, a86, a87, a88, a89, a8a, a8b, a90, a100, a101, a102, a103, a104, a105, a106, a107, a108, a109, a10a, a10b, a10c, a110, a111, a120, a121, a122, a123, a124, a125, a126, a127, a128, a129, a130, a131, a132, a133, a134, a160, a161, a162, a163, a164, a165, a166, a170, a180, a181, a200, a201, a202, a210, a300, a301, a302, a400, a401, a402, a403, a404, a405, a406, a480, a481, a482, a500, a501, a502, a503, a40000211, a40000212, a80000001, ace534351, ace534352, ace534353, ace534354, ace534355, ace534356, ace534357, ace534358, ace534364, ace534365, ace534366, ace534367, ace534368, ace534369, ace534373, ace534374, ace536351, ace536352, ace536353, ace536354, ace536355, ace536356, ace536357, ace536358, ace536359, ace53635a, ace53635b, ace53635c, ace53635d, ace53635e, ace53635f, ace536360, ace5363b4, ace5363b5, ad5a0db00"

// objectTableSchema is the SQL NSS runs to create nssPublic or nssPrivate.
func objectTableSchema(table string) []string {
	return []string{
		"CREATE TABLE " + table + " (id PRIMARY KEY UNIQUE ON CONFLICT ABORT, " + nssColumns + ")",
		"CREATE INDEX issuer ON " + table + " (a81)",
		"CREATE INDEX subject ON " + table + " (a101)",
		"CREATE INDEX label ON " + table + " (a3)",
		"CREATE INDEX ckaid ON " + table + " (a102)",
	}
}

const metaDataSchema = "CREATE TABLE metaData (id PRIMARY KEY UNIQUE ON CONFLICT REPLACE, item1, item2)"

// createFile makes a new SQLite file at path (mode 0600, as NSS) holding the
// given schema, in one transaction. The file must not exist.
func createFile(ctx context.Context, path string, schema []string, extra ...stmt) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	c, err := openConn(ctx, path, true)
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return dbError(path, err)
	}
	all := make([]stmt, 0, len(schema)+len(extra))
	for _, q := range schema {
		all = append(all, stmt{q: q})
	}
	for _, x := range append(all, extra...) {
		if err := c.exec(ctx, x.q, x.args...); err != nil {
			_ = c.exec(ctx, "ROLLBACK")
			return dbError(path, err)
		}
	}
	if err := c.exec(ctx, "COMMIT"); err != nil {
		_ = c.exec(ctx, "ROLLBACK")
		return dbError(path, err)
	}
	return nil
}
