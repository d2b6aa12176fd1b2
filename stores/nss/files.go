package nss

import (
	"errors"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// dbFolderFiles are the names that may sit in a database folder without
// cert9.db, which the first Apply then creates: NSS's other files.
var dbFolderFiles = map[string]bool{keyFile: true, "pkcs11.txt": true, "secmod.db": true, "key3.db": true}

// checkFiles checks, before anything opens them, that the folder and its
// database files are what they should be: a folder (stores.ErrNotExist when
// missing), cert9.db and key4.db regular files (not folders, pipes or
// devices), and, without cert9.db, a folder holding nothing but NSS's files
// (stores.ErrWrongKind otherwise: rootsync does not make a database inside
// another program's folder). A folder without cert9.db is stores.ErrNotExist
// naming cert9.db.
func (s *Store) checkFiles() error {
	if _, err := stores.StatDir(s.dir); errors.Is(err, fs.ErrNotExist) {
		return stores.NotExist(s.dir)
	} else if err != nil {
		return err
	}
	for _, p := range []string{s.certPath(), s.keyPath()} {
		// Open and close each file before SQLite does: a pipe or a device
		// is refused without blocking, an unreadable file is named as such.
		f, err := stores.OpenFile(p)
		if err == nil {
			f.Close()
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var se *stores.Error
		if errors.Is(err, stores.ErrWrongKind) && errors.As(err, &se) {
			se.Hint = "an NSS database file must be a regular file: move the folder named " + p + " away, or name another database"
		}
		return err
	}
	if ok, err := exists(s.certPath()); err != nil || ok {
		return err
	}
	if err := s.checkLegacy(); err != nil {
		return err
	}
	des, err := stores.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var others []string
	for _, de := range des {
		if !dbFolderFiles[de.Name()] && !strings.HasPrefix(de.Name(), ".") {
			others = append(others, de.Name())
		}
	}
	if len(others) > 0 {
		sort.Strings(others)
		found := "it has no " + certFile + " but holds " + strings.Join(others, ", ")
		if len(others) > 3 {
			found = "it has no " + certFile + " but holds " + strings.Join(others[:3], ", ") + " and " + strconv.Itoa(len(others)-3) + " more"
		}
		return stores.WrongKind(s.dir, "an NSS database folder", found,
			"name the folder that holds cert9.db (certutil -d sql:DIR), or an empty or new folder for a new database")
	}
	return stores.NotExist(s.certPath())
}
