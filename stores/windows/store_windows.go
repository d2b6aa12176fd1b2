//go:build windows

package windows

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/windows"

	"github.com/rootsync/rootsync/stores"
)

// Store is one Windows certificate store (with, for a store of trust
// anchors, the store its distrust goes to).
type Store struct {
	spec stores.Spec
	loc  location
}

// Open returns the store a windows: spec names. Nothing is read yet.
func Open(spec stores.Spec, _ stores.OpenOptions) (stores.Store, error) {
	loc, err := parseLocation(spec)
	if err != nil {
		return nil, err
	}
	return &Store{spec: spec, loc: loc}, nil
}

// Spec returns the spec the store was opened with.
func (s *Store) Spec() stores.Spec { return s.spec }

// Capabilities depend on the store's name: see the package comment.
func (s *Store) Capabilities() stores.Capabilities { return s.loc.capabilities() }

// Paths is empty: a Windows store is no file. Backups go through SaveState.
func (s *Store) Paths() []string { return nil }

// item is one certificate of a store as rootsync reads it.
type item struct {
	der    []byte
	name   string // friendly name
	eku    []byte
	hasEKU bool
}

// contents is what one store holds, by fingerprint.
type contents map[stores.Fingerprint]item

// read reads PLACE\NAME (view: the system store, else the registry store).
func read(place, name string, view bool) (contents, error) {
	cs, err := openStore(place, name, view, false)
	if err != nil {
		return nil, err
	}
	defer cs.close()
	out := contents{}
	err = cs.each(func(c *windows.CertContext) error {
		it := item{der: certDER(c)}
		var err error
		if it.name, err = friendlyName(c); err != nil {
			return fmt.Errorf("read %s: friendly name: %w", cs.name, err)
		}
		if it.eku, it.hasEKU, err = property(c, propEnhKeyUsage); err != nil {
			return fmt.Errorf("read %s: enhanced key usage: %w", cs.name, err)
		}
		out[stores.FingerprintOf(it.der)] = it
		return nil
	})
	return out, err
}

// readOrEmpty is read for a store that need not exist.
func readOrEmpty(place, name string, view bool) (contents, error) {
	c, err := read(place, name, view)
	if errors.Is(err, errMissing) {
		return contents{}, nil
	}
	return c, err
}

// inheritNote marks an entry the view shows but the place's own store does
// not hold.
func (s *Store) inheritNote(name string) string {
	from := "LocalMachine\\" + name + " or a group policy"
	if s.loc.place == LocalMachine {
		from = "a group policy or enterprise store"
	}
	return fmt.Sprintf("inherited from %s, not held by %s\\%s: change it there", from, s.loc.place, name)
}

// Load reads the store: for a store of trust anchors, its entries (trust
// from their enhanced-key-usage property) and those of its distrust store.
func (s *Store) Load(ctx context.Context) (*stores.Set, error) {
	view, err := read(s.loc.place, s.loc.name, true)
	if errors.Is(err, errMissing) {
		return nil, &stores.Error{Path: s.spec.String(), Err: fmt.Errorf("%s: %w", s.loc, stores.ErrNotExist),
			Hint: "check the store name for a typo: a store read from must exist (only a target is created when missing)"}
	}
	if err != nil {
		return nil, s.wrap(err)
	}
	own, err := readOrEmpty(s.loc.place, s.loc.name, false)
	if err != nil {
		return nil, s.wrap(err)
	}
	set := stores.NewSet()
	for fp, it := range view {
		e, err := s.entry(fp, it, s.loc.role)
		if err != nil {
			return nil, err
		}
		if _, ok := own[fp]; !ok {
			e.Notes = append(e.Notes, s.inheritNote(s.loc.name))
		}
		set.Add(e)
	}
	if s.loc.role != anchors {
		return set, nil
	}
	dview, err := readOrEmpty(s.loc.place, s.loc.companion, true)
	if err != nil {
		return nil, s.wrap(err)
	}
	down, err := readOrEmpty(s.loc.place, s.loc.companion, false)
	if err != nil {
		return nil, s.wrap(err)
	}
	for fp, it := range dview {
		e, err := s.entry(fp, it, disallowed)
		if err != nil {
			return nil, err
		}
		e.Notes = append(e.Notes, "distrusted in "+s.loc.place+`\`+s.loc.companion)
		if _, ok := down[fp]; !ok {
			e.Notes = append(e.Notes, s.inheritNote(s.loc.companion))
		}
		set.Add(e)
	}
	return set, nil
}

// entry turns a store item into an entry of the given role.
func (s *Store) entry(fp stores.Fingerprint, it item, r role) (*stores.Entry, error) {
	c, err := stores.ParseCertificate(it.der)
	if err != nil {
		return nil, &stores.Error{Path: s.spec.String(), Entry: fp.Short(), Err: err,
			Hint: "remove the damaged entry with certlm.msc or certmgr.msc"}
	}
	e := &stores.Entry{Cert: c, Label: it.name, Owned: strings.HasPrefix(it.name, OwnerPrefix)}
	if e.Label == "" {
		e.Label = c.Subject
	}
	switch r {
	case anchors:
		t, unknown, err := trustOfEKU(it.eku, it.hasEKU)
		if err != nil {
			return nil, &stores.Error{Path: s.spec.String(), Entry: e.Label, Err: err,
				Hint: "reset the entry's purposes in certlm.msc or certmgr.msc"}
		}
		e.Trust = t
		if len(unknown) > 0 {
			e.Notes = append(e.Notes, "also trusted for purposes rootsync does not model: "+strings.Join(unknown, ", "))
		}
		if t.IsZero() {
			e.Notes = append(e.Notes, "its enhanced-key-usage property trusts it for no purpose rootsync models")
		}
	case disallowed:
		e.Trust = stores.DistrustAll()
	case intermediates:
		e.Notes = append(e.Notes, "in the CA store: an intermediate, not a trust anchor")
	}
	return e, nil
}

func (s *Store) wrap(err error) error {
	return &stores.Error{Path: s.spec.String(), Err: err}
}

// Apply makes the changes in the place's own registry stores and commits
// them; on any error it puts both stores back as they were.
func (s *Store) Apply(ctx context.Context, changes []stores.Change) error {
	if len(changes) == 0 {
		return nil
	}
	names := s.names()
	own := map[string]contents{}
	for _, n := range names {
		c, err := readOrEmpty(s.loc.place, n, false)
		if err != nil {
			return s.wrap(err)
		}
		own[n] = c
	}
	// An entry the view inherits is never removed or changed here.
	for _, ch := range changes {
		if ch.Action == stores.Add {
			continue
		}
		fp := ch.Entry.Cert.Fingerprint
		held := false
		for _, n := range names {
			_, ok := own[n][fp]
			held = held || ok
		}
		if !held {
			return &stores.Error{Path: s.spec.String(), Entry: ch.Entry.Label,
				Err:  fmt.Errorf("not held by %s (the entry is inherited): %s refused", s.loc, ch.Action),
				Hint: "change it in the store that holds it (for CurrentUser: windows:LocalMachine/" + s.loc.name + ")"}
		}
	}
	saved, err := s.SaveState(ctx)
	if err != nil {
		return err
	}
	if err := s.apply(changes, own); err != nil {
		if rerr := s.RestoreSavedState(ctx, saved); rerr != nil {
			return errors.Join(err, fmt.Errorf("%s: putting it back failed too: %w", s.spec, rerr))
		}
		return err
	}
	return nil
}

// names lists the stores Apply writes: the store, and for a store of trust
// anchors its distrust store.
func (s *Store) names() []string {
	if s.loc.role == anchors {
		return []string{s.loc.name, s.loc.companion}
	}
	return []string{s.loc.name}
}

// writer holds the open registry stores of one Apply.
type writer struct {
	s    *Store
	open map[string]*certStore
	own  map[string]contents
}

func (w *writer) store(name string) (*certStore, error) {
	if cs := w.open[name]; cs != nil {
		return cs, nil
	}
	cs, err := openStore(w.s.loc.place, name, false, true)
	if err != nil {
		return nil, err
	}
	w.open[name] = cs
	return cs, nil
}

func (s *Store) apply(changes []stores.Change, own map[string]contents) (err error) {
	w := &writer{s: s, open: map[string]*certStore{}, own: own}
	defer func() {
		for _, n := range sortedKeys(w.open) {
			cs := w.open[n]
			if err == nil {
				err = cs.commit()
			}
			cs.close()
		}
	}()
	for _, ch := range changes {
		if err := w.change(ch); err != nil {
			return &stores.Error{Path: s.spec.String(), Entry: ch.Entry.Label, Err: err}
		}
	}
	return nil
}

func sortedKeys(m map[string]*certStore) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// label is the friendly name of an entry rootsync adds: the label it had
// elsewhere when it is rootsync's already, else the owner prefix and the
// certificate's common name.
func label(e *stores.Entry) string {
	if strings.HasPrefix(e.Label, OwnerPrefix) {
		return e.Label
	}
	name := e.Cert.CommonName()
	if name == "" {
		name = e.Cert.Subject
	}
	return OwnerPrefix + name
}

func (w *writer) change(ch stores.Change) error {
	e := ch.Entry
	t := e.Trust
	loc := w.s.loc
	switch loc.role {
	case disallowed:
		switch ch.Action {
		case stores.Add:
			if !t.All(stores.Distrusted) {
				return fmt.Errorf("the Disallowed store records distrust only, not %v", t)
			}
			return w.add(loc.name, e.Cert.DER, label(e), nil)
		case stores.Remove:
			return w.remove(loc.name, e.Cert.DER)
		}
		if t.All(stores.Distrusted) {
			return nil
		}
		return fmt.Errorf("the Disallowed store records distrust only, not %v", t)
	case intermediates:
		switch ch.Action {
		case stores.Add:
			return w.add(loc.name, e.Cert.DER, label(e), nil)
		case stores.Remove:
			return w.remove(loc.name, e.Cert.DER)
		}
		return errors.New("the CA store records no trust")
	}
	fp := e.Cert.Fingerprint
	switch ch.Action {
	case stores.Remove:
		for _, n := range w.s.names() {
			if _, ok := w.own[n][fp]; ok {
				if err := w.remove(n, e.Cert.DER); err != nil {
					return err
				}
			}
		}
		return nil
	case stores.Add:
		if t.All(stores.Distrusted) {
			return w.add(loc.companion, e.Cert.DER, label(e), nil)
		}
		eku, err := ekuOfTrust(t)
		if err != nil {
			return err
		}
		return w.add(loc.name, e.Cert.DER, label(e), eku)
	}
	// SetTrust: the friendly name moves with the certificate, so ownership
	// stays as it was.
	name := label(e)
	for _, n := range w.s.names() {
		if it, ok := w.own[n][fp]; ok && it.name != "" {
			name = it.name
		}
	}
	if t.All(stores.Distrusted) {
		if _, ok := w.own[loc.name][fp]; ok {
			if err := w.remove(loc.name, e.Cert.DER); err != nil {
				return err
			}
		}
		if _, ok := w.own[loc.companion][fp]; ok {
			return nil
		}
		return w.add(loc.companion, e.Cert.DER, name, nil)
	}
	eku, err := ekuOfTrust(t)
	if err != nil {
		return err
	}
	if _, ok := w.own[loc.companion][fp]; ok {
		if err := w.remove(loc.companion, e.Cert.DER); err != nil {
			return err
		}
	}
	if _, ok := w.own[loc.name][fp]; !ok {
		return w.add(loc.name, e.Cert.DER, name, eku)
	}
	return w.setEKU(loc.name, e.Cert.DER, eku)
}

// find returns the context of der in the named store (to be freed).
func (w *writer) find(name string, der []byte) (*certStore, *windows.CertContext, error) {
	cs, err := w.store(name)
	if err != nil {
		return nil, nil, err
	}
	var found *windows.CertContext
	err = cs.each(func(c *windows.CertContext) error {
		if bytes.Equal(certDER(c), der) {
			found = windows.CertDuplicateCertificateContext(c)
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, nil, err
	}
	if found == nil {
		sum := sha1.Sum(der)
		return nil, nil, fmt.Errorf("%s holds no certificate %X", cs.name, sum)
	}
	return cs, found, nil
}

var errStop = errors.New("stop")

func (w *writer) add(name string, der []byte, friendly string, eku []byte) error {
	cs, err := w.store(name)
	if err != nil {
		return err
	}
	c, err := cs.addEncoded(der, addNew)
	if err != nil {
		return err
	}
	defer windows.CertFreeCertificateContext(c)
	if err := setFriendlyName(c, friendly); err != nil {
		return fmt.Errorf("%s: friendly name: %w", cs.name, err)
	}
	if eku != nil {
		if err := setProperty(c, propEnhKeyUsage, eku); err != nil {
			return fmt.Errorf("%s: enhanced key usage: %w", cs.name, err)
		}
	}
	return nil
}

func (w *writer) remove(name string, der []byte) error {
	cs, c, err := w.find(name, der)
	if err != nil {
		return err
	}
	// CertDeleteCertificateFromStore frees the context, even on failure.
	if err := windows.CertDeleteCertificateFromStore(c); err != nil {
		return fmt.Errorf("delete from %s: %w", cs.name, err)
	}
	return nil
}

func (w *writer) setEKU(name string, der []byte, eku []byte) error {
	cs, c, err := w.find(name, der)
	if err != nil {
		return err
	}
	defer windows.CertFreeCertificateContext(c)
	if err := setProperty(c, propEnhKeyUsage, eku); err != nil {
		return fmt.Errorf("%s: enhanced key usage: %w", cs.name, err)
	}
	return nil
}

// saved is the state SaveState returns: every certificate of the place's
// own stores with its properties, in crypt32's serialized form.
type saved struct {
	Place  string              `json:"place"`
	Stores map[string][][]byte `json:"stores"`
}

// SaveState returns the certificates of the stores Apply writes, with all
// their properties.
func (s *Store) SaveState(ctx context.Context) ([]byte, error) {
	st := saved{Place: s.loc.place, Stores: map[string][][]byte{}}
	for _, n := range s.names() {
		cs, err := openStore(s.loc.place, n, false, false)
		if errors.Is(err, errMissing) {
			st.Stores[n] = [][]byte{}
			continue
		}
		if err != nil {
			return nil, s.wrap(err)
		}
		var elems [][]byte
		err = cs.each(func(c *windows.CertContext) error {
			b, err := serialize(c)
			if err != nil {
				return fmt.Errorf("save %s: %w", cs.name, err)
			}
			elems = append(elems, b)
			return nil
		})
		cs.close()
		if err != nil {
			return nil, s.wrap(err)
		}
		sort.Slice(elems, func(i, j int) bool { return bytes.Compare(elems[i], elems[j]) < 0 })
		st.Stores[n] = elems
	}
	return json.Marshal(st)
}

// RestoreSavedState puts the stores back as SaveState found them: every
// certificate not saved is deleted, and every saved one is put back with
// its properties.
func (s *Store) RestoreSavedState(ctx context.Context, state []byte) error {
	var st saved
	if err := json.Unmarshal(state, &st); err != nil {
		return fmt.Errorf("%s: saved state: %w", s.spec, err)
	}
	if st.Place != s.loc.place {
		return fmt.Errorf("%s: the saved state is of %s, not %s", s.spec, st.Place, s.loc.place)
	}
	names := make([]string, 0, len(st.Stores))
	for n := range st.Stores {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := restoreOne(s.loc.place, n, st.Stores[n]); err != nil {
			return s.wrap(err)
		}
	}
	return nil
}

func restoreOne(place, name string, elems [][]byte) error {
	cs, err := openStore(place, name, false, true)
	if err != nil {
		return err
	}
	defer cs.close()
	for _, e := range elems {
		if err := cs.addSerialized(e); err != nil {
			return err
		}
	}
	// What the saved elements hold, by certificate: read back after adding.
	var del []*windows.CertContext
	err = cs.each(func(c *windows.CertContext) error {
		b, err := serialize(c)
		if err != nil {
			return err
		}
		if !containsElem(elems, b) && !holdsCert(elems, c) {
			del = append(del, windows.CertDuplicateCertificateContext(c))
		}
		return nil
	})
	if err != nil {
		for _, c := range del {
			windows.CertFreeCertificateContext(c)
		}
		return err
	}
	for i, c := range del {
		if err := windows.CertDeleteCertificateFromStore(c); err != nil {
			for _, c := range del[i+1:] {
				windows.CertFreeCertificateContext(c)
			}
			return fmt.Errorf("delete from %s: %w", cs.name, err)
		}
	}
	return cs.commit()
}

func containsElem(elems [][]byte, b []byte) bool {
	for _, e := range elems {
		if bytes.Equal(e, b) {
			return true
		}
	}
	return false
}

// holdsCert reports whether a saved element is c's certificate (its
// encoding appears in the element).
func holdsCert(elems [][]byte, c *windows.CertContext) bool {
	d := certDER(c)
	for _, e := range elems {
		if bytes.Contains(e, d) {
			return true
		}
	}
	return false
}
