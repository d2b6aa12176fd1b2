package nss

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/rootsync/rootsync/stores"
)

// Columns a write needs; a database without them has a layout rootsync does
// not know.
var (
	certWriteAttrs  = []uint32{attrClass, attrToken, attrPrivate, attrLabel, attrValue, attrCertType, attrIssuer, attrSerial, attrSubject, attrID, attrModifiable}
	trustWriteAttrs = []uint32{attrClass, attrToken, attrPrivate, attrLabel, attrModifiable, attrIssuer, attrSerial,
		attrTrustServer, attrTrustClient, attrTrustEmail, attrTrustCode, attrTrustStepUp, attrCertSHA1Hash, attrCertMD5Hash}
)

// rowWrite is one INSERT or UPDATE of nssPublic.
type rowWrite struct {
	id     uint32
	insert bool
	attrs  map[uint32][]byte
}

// plan is every statement of one write, computed (signatures included)
// before any lock is taken.
type plan struct {
	writes     []rowWrite
	deletes    []uint32 // nssPublic ids
	sigDeletes []uint32 // trust ids whose sig_cert_ rows go
	sigs       map[sigKey][]byte
	oldSigs    map[string][]byte // metaData rows replaced or deleted, to undo key4
}

func (p *plan) empty() bool { return len(p.writes) == 0 && len(p.deletes) == 0 }

// planner simulates the changes on the state read before the transaction.
type planner struct {
	st      *state
	a       *auth
	sg      *signer
	keyPath string
	p       *plan
	ix      *rowIndex // built on first use; kept in step with st.certs and st.trusts
}

// rowIndex finds rows by value without scanning the whole database, so that
// writing n certificates costs O(n), not O(n^2). Each slice keeps the order
// of st.certs or st.trusts.
type rowIndex struct {
	byDER     map[string][]*certRow
	byIssuer  map[string][]*certRow // issuer and serial
	bySubject map[string][]*certRow
	byLabel   map[string][]*certRow
	trusts    map[string][]*trustRow // issuer and serial
}

// pairKey is an unambiguous map key for an issuer and serial pair.
func pairKey(issuer, serial []byte) string {
	return string(binary.AppendUvarint(nil, uint64(len(issuer)))) + string(issuer) + string(serial)
}

func (pl *planner) index() *rowIndex {
	if pl.ix == nil {
		ix := &rowIndex{byDER: map[string][]*certRow{}, byIssuer: map[string][]*certRow{},
			bySubject: map[string][]*certRow{}, byLabel: map[string][]*certRow{}, trusts: map[string][]*trustRow{}}
		for _, r := range pl.st.certs {
			ix.addCert(r)
		}
		for _, t := range pl.st.trusts {
			ix.addTrust(t)
		}
		pl.ix = ix
	}
	return pl.ix
}

func (ix *rowIndex) addCert(r *certRow) {
	ix.byDER[string(r.der)] = append(ix.byDER[string(r.der)], r)
	k := pairKey(r.issuer, r.serial)
	ix.byIssuer[k] = append(ix.byIssuer[k], r)
	ix.bySubject[string(r.subject)] = append(ix.bySubject[string(r.subject)], r)
	ix.byLabel[string(r.label)] = append(ix.byLabel[string(r.label)], r)
}

func (ix *rowIndex) deleteCert(r *certRow) {
	ix.byDER[string(r.der)] = deleteRow(ix.byDER[string(r.der)], r)
	k := pairKey(r.issuer, r.serial)
	ix.byIssuer[k] = deleteRow(ix.byIssuer[k], r)
	ix.bySubject[string(r.subject)] = deleteRow(ix.bySubject[string(r.subject)], r)
	ix.byLabel[string(r.label)] = deleteRow(ix.byLabel[string(r.label)], r)
}

func (ix *rowIndex) addTrust(t *trustRow) {
	k := pairKey(t.issuer, t.serial)
	ix.trusts[k] = append(ix.trusts[k], t)
}

func (ix *rowIndex) deleteTrust(t *trustRow) {
	k := pairKey(t.issuer, t.serial)
	ix.trusts[k] = deleteRow(ix.trusts[k], t)
}

func (pl *planner) newID() uint32 {
	for {
		id := uint32(rand.IntN(0x3fffffff)) + 1
		if !pl.st.ids[id] {
			pl.st.ids[id] = true
			return id
		}
	}
}

func (pl *planner) certsByDER(der []byte) []*certRow {
	return append([]*certRow(nil), pl.index().byDER[string(der)]...)
}

func (pl *planner) trustsFor(issuer, serial []byte) []*trustRow {
	return append([]*trustRow(nil), pl.index().trusts[pairKey(issuer, serial)]...)
}

// nickname picks rootsync's nickname for c: one per subject, "rootsync - CN",
// with " (2)", " (3)", ... when another subject already uses it.
func (pl *planner) nickname(c *stores.Certificate) string {
	for _, r := range pl.index().bySubject[string(c.RawSubject)] {
		if strings.HasPrefix(string(r.label), OwnerPrefix) {
			return string(r.label)
		}
	}
	name := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.TrimSpace(c.CommonName()))
	if name == "" {
		name = c.Fingerprint.Short()
	}
	base := OwnerPrefix + name
	for n := 1; ; n++ {
		cand := base
		if n > 1 {
			cand = fmt.Sprintf("%s (%d)", base, n)
		}
		taken := false
		for _, r := range pl.index().byLabel[cand] {
			if string(r.subject) != string(c.RawSubject) {
				taken = true
				break
			}
		}
		if !taken {
			return cand
		}
	}
}

func (pl *planner) needKey(e *stores.Entry) error {
	if pl.a.pk != nil {
		return nil
	}
	return &stores.Error{Path: pl.keyPath, Entry: e.Cert.Subject,
		Err:  fmt.Errorf("%w: cannot sign trust: %s", stores.ErrBadPassword, pl.a.unverified),
		Hint: "give the database password with ?password-env=VAR or ?password-file=FILE"}
}

func (pl *planner) sign(id uint32, attrs map[uint32][]byte) {
	for a, v := range attrs {
		if authenticated[a] && v != nil {
			k := sigKey{id, a}
			if old, ok := pl.st.sigs[k]; ok {
				if _, saved := pl.p.oldSigs[k.metaID()]; !saved {
					pl.p.oldSigs[k.metaID()] = old
				}
			}
			pl.p.sigs[k] = pl.sg.sign(id, a, encodeValue(v))
		}
	}
}

// refuseUserCert refuses a change to a user certificate, one whose private
// key is in key4.db: plans never make one (see stores.Entry.PrivateKey).
func (pl *planner) refuseUserCert(ch stores.Change) error {
	if ch.Action == stores.Add && pl.index().byDER[string(ch.Entry.Cert.DER)] == nil {
		return nil
	}
	for _, r := range pl.certsByDER(ch.Entry.Cert.DER) {
		if isUser(pl.st, r) {
			return &stores.Error{Path: filepath.Join(filepath.Dir(pl.keyPath), certFile), Entry: ch.Entry.Cert.Subject,
				Err:  fmt.Errorf("%w: %q is a user certificate (its private key is in the database); rootsync does not change it", stores.ErrUnsupported, string(r.label)),
				Hint: "change it with certutil -M or certutil -D"}
		}
	}
	return nil
}

// ensure makes e's certificate present with e.Trust.
func (pl *planner) ensure(e *stores.Entry) error {
	c := e.Cert
	if len(c.RawIssuer) == 0 || len(c.RawSerial) == 0 {
		return &stores.Error{Path: pl.keyPath, Entry: c.Subject,
			Err: fmt.Errorf("%w: certificate has no readable issuer and serial number", stores.ErrUnsupported)}
	}
	if len(pl.certsByDER(c.DER)) == 0 {
		if same := pl.index().byIssuer[pairKey(c.RawIssuer, c.RawSerial)]; len(same) > 0 {
			return &stores.Error{Path: filepath.Join(filepath.Dir(pl.keyPath), certFile), Entry: c.Subject,
				Err:  fmt.Errorf("%w: the database holds a different certificate (%q) with the same issuer and serial number", stores.ErrUnsupported, string(same[0].label)),
				Hint: "remove that certificate first (certutil -D -n NICKNAME)"}
		}
		id := pl.newID()
		subject := c.RawSubject
		if subject == nil {
			subject = []byte{}
		}
		row := &certRow{id: id, label: []byte(pl.nickname(c)), der: c.DER, issuer: c.RawIssuer,
			serial: c.RawSerial, subject: subject, ckaID: keyID(c)}
		pl.st.certs = append(pl.st.certs, row)
		pl.index().addCert(row)
		pl.p.writes = append(pl.p.writes, rowWrite{id: id, insert: true, attrs: map[uint32][]byte{
			attrClass: ulongBytes(ckoCertificate), attrToken: {1}, attrPrivate: {0}, attrModifiable: {1},
			attrLabel: row.label, attrValue: row.der, attrCertType: ulongBytes(ckcX509),
			attrIssuer: row.issuer, attrSerial: row.serial, attrSubject: row.subject, attrID: row.ckaID,
		}})
	}
	want := fromStores(e.Trust)
	trusts := pl.trustsFor(c.RawIssuer, c.RawSerial)
	if len(trusts) == 0 && e.Trust.IsZero() {
		return nil // as certutil -t ",,": no trust object at all
	}
	if err := pl.needKey(e); err != nil {
		return err
	}
	sha1Sum, md5Sum := certHashes(c.DER)
	hasClassic := false
	for _, tr := range trusts {
		attrs := map[uint32][]byte{}
		if tr.class == ckoNSSTrust {
			hasClassic = true
			for i, a := range classicPurposeAttrs {
				attrs[a] = ulongBytes(want.vals[i])
			}
			attrs[attrTrustStepUp] = []byte{0}
			if su := tr.attrs[attrTrustStepUp]; len(su) == 1 {
				attrs[attrTrustStepUp] = su
			}
			attrs[attrCertSHA1Hash], attrs[attrCertMD5Hash] = sha1Sum, md5Sum
		} else {
			for i, a := range p11PurposeAttrs {
				attrs[a] = ulongBytes(p11Value(want.vals[i]))
			}
			if tr.attrs[attrHashOfCert] != nil {
				sum := sha256.Sum256(c.DER)
				attrs[attrHashOfCert] = sum[:]
			}
			if v := tr.attrs[attrNameHashAlg]; v != nil {
				attrs[attrNameHashAlg] = v
			}
		}
		for a, v := range attrs {
			tr.attrs[a] = v
		}
		pl.p.writes = append(pl.p.writes, rowWrite{id: tr.id, attrs: attrs})
		pl.sign(tr.id, attrs)
	}
	if hasClassic {
		return nil
	}
	id := pl.newID()
	attrs := map[uint32][]byte{
		attrClass: ulongBytes(ckoNSSTrust), attrToken: {1}, attrPrivate: {0}, attrModifiable: {1},
		attrLabel: {}, attrIssuer: c.RawIssuer, attrSerial: c.RawSerial,
		attrTrustStepUp: {0}, attrCertSHA1Hash: sha1Sum, attrCertMD5Hash: md5Sum,
	}
	for i, a := range classicPurposeAttrs {
		attrs[a] = ulongBytes(want.vals[i])
	}
	tr := &trustRow{id: id, class: ckoNSSTrust, issuer: c.RawIssuer, serial: c.RawSerial, attrs: attrs}
	pl.st.trusts = append(pl.st.trusts, tr)
	pl.index().addTrust(tr)
	pl.p.writes = append(pl.p.writes, rowWrite{id: id, insert: true, attrs: attrs})
	pl.sign(id, attrs)
	return nil
}

func p11Value(v uint32) uint32 {
	for k, m := range p11TrustValues {
		if m == v {
			return k
		}
	}
	return 0
}

// remove deletes the certificate, its trust objects and their signatures, as
// certutil -D does.
func (pl *planner) remove(e *stores.Entry) {
	rows := pl.certsByDER(e.Cert.DER)
	for _, r := range rows {
		pl.p.deletes = append(pl.p.deletes, r.id)
		for _, tr := range pl.trustsFor(r.issuer, r.serial) {
			pl.p.deletes = append(pl.p.deletes, tr.id)
			pl.p.sigDeletes = append(pl.p.sigDeletes, tr.id)
			for k, v := range pl.st.sigs {
				if k.id == tr.id {
					pl.p.oldSigs[k.metaID()] = v
				}
			}
			pl.st.trusts = deleteRow(pl.st.trusts, tr)
			pl.index().deleteTrust(tr)
		}
		pl.st.certs = deleteRow(pl.st.certs, r)
		pl.index().deleteCert(r)
	}
}

func deleteRow[T comparable](s []T, x T) []T {
	out := s[:0]
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

// keyID is the CKA_ID certutil gives a certificate: SHA-1 of the public key
// value (the RSA modulus, the EC point, ...).
func keyID(c *stores.Certificate) []byte {
	var spki struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		PublicKey asn1.BitString
	}
	var value []byte
	if p := c.Parsed(); p != nil {
		if _, err := asn1.Unmarshal(p.RawSubjectPublicKeyInfo, &spki); err == nil {
			value = spki.PublicKey.Bytes
			if spki.Algorithm.Algorithm.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}) {
				var rsa struct {
					N *big.Int
					E int
				}
				if _, err := asn1.Unmarshal(value, &rsa); err == nil && rsa.N != nil {
					value = rsa.N.Bytes()
				}
			}
		}
	}
	if value == nil {
		value = c.DER
	}
	sum := sha1.Sum(value)
	return sum[:]
}

// Apply makes the changes in one transaction on cert9.db with the key4.db
// transaction nested inside it and committed first, as NSS does. Signatures
// are computed before the locks are taken. A folder without a database gets a
// new one, protected by the store's password (password-env, password-file) or
// else by the empty password, which is removed again if the write fails.
func (s *Store) Apply(ctx context.Context, changes []stores.Change) error {
	if len(changes) == 0 {
		return nil
	}
	for i, ch := range changes {
		if ch.Entry == nil || ch.Entry.Cert == nil {
			return fmt.Errorf("%s: change %d has no certificate", s.dir, i+1)
		}
		switch ch.Action {
		case stores.Add, stores.Remove, stores.SetTrust:
		default:
			return fmt.Errorf("%s: %s: unknown change %v", s.dir, ch.Entry.Cert.Subject, ch.Action)
		}
	}
	if err := s.checkFiles(); err != nil && !errors.Is(err, stores.ErrNotExist) {
		return err
	}
	undo, err := s.create(ctx)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err = s.applyOnce(ctx, changes)
		if !errors.Is(err, errRetry) || attempt == 4 {
			break
		}
	}
	if errors.Is(err, errRetry) {
		err = &stores.Error{Path: s.certPath(), Err: fmt.Errorf("%w: %v", stores.ErrLocked, err),
			Hint: "another program keeps changing the database; retry when it is done"}
	}
	if err != nil {
		undo()
	}
	return err
}

// applyOnce makes the changes in one pair of transactions: it prepares the
// plan outside any lock, takes both databases' write locks, plans again if
// another program wrote in between, writes the rows and commits. errRetry
// asks the caller to start over.
func (s *Store) applyOnce(ctx context.Context, changes []stores.Change) error {
	cc, err := openConn(ctx, s.certPath(), true)
	if err != nil {
		return err
	}
	defer cc.close()
	kc, err := openConn(ctx, s.keyPath(), true)
	if err != nil {
		return err
	}
	defer kc.close()

	pr, err := s.prepare(ctx, cc, kc, changes)
	if err != nil {
		return err
	}
	if pr.p.empty() && pr.newPassword[0] == nil {
		return nil
	}

	if err := cc.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return dbError(cc.path, err)
	}
	locked := time.Now()
	certOpen, keyOpen := true, false
	defer func() {
		if keyOpen {
			_ = kc.exec(context.Background(), "ROLLBACK")
		}
		if certOpen {
			_ = cc.exec(context.Background(), "ROLLBACK")
		}
	}()
	if err := kc.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		return dbError(kc.path, err)
	}
	keyOpen = true
	if err := s.replanIfChanged(ctx, cc, kc, pr, changes); err != nil {
		return err
	}
	if err := writeRows(ctx, cc, kc, pr); err != nil {
		return err
	}
	if err := kc.exec(ctx, "COMMIT"); err != nil {
		return dbError(kc.path, err)
	}
	keyOpen = false
	if err := cc.exec(ctx, "COMMIT"); err != nil {
		// key4.db is committed already: put its rows back as they were.
		s.undoKey4(kc, pr.p)
		return dbError(cc.path, err)
	}
	certOpen = false
	lastLockHeld.Store(int64(time.Since(locked)))
	return nil
}

// prepared is what applyOnce works out before it takes any lock.
type prepared struct {
	certVer, keyVer int64 // the databases' data versions when read
	st              *state
	// newPassword is the salt and check value of the password entry to
	// create, for a database that was never initialised; nil otherwise.
	newPassword [2][]byte
	a           *auth
	sg          *signer
	p           *plan
}

// prepare reads both databases, logs in, derives the signing key (the
// expensive part with a password) and plans, all outside any lock.
func (s *Store) prepare(ctx context.Context, cc, kc *conn, changes []stores.Change) (*prepared, error) {
	pr := &prepared{}
	var err error
	if pr.certVer, err = cc.dataVersion(ctx); err != nil {
		return nil, dbError(cc.path, err)
	}
	if pr.keyVer, err = kc.dataVersion(ctx); err != nil {
		return nil, dbError(kc.path, err)
	}
	if pr.st, err = readState(ctx, cc, kc, inReadTx); err != nil {
		return nil, err
	}
	st := pr.st
	if !st.hasPasswordEntry {
		// As certutil -A does on a database that was never initialised,
		// with the password given for the store, if any.
		pw, err := s.initialPassword(kc.path)
		if err != nil {
			return nil, err
		}
		salt, check, err := newPasswordEntry(pw)
		if err != nil {
			return nil, err
		}
		pr.newPassword = [2][]byte{salt, check}
		st.hasPasswordEntry, st.globalSalt, st.check = true, salt, check
	}
	if pr.a, err = login(st, kc.path, s.secret); err != nil {
		return nil, err
	}
	if pr.a.pk != nil {
		if pr.sg, err = newSigner(pr.a.pk, pr.a.iterations); err != nil {
			return nil, err
		}
	}
	if pr.p, err = s.plan(st, pr.a, pr.sg, kc.path, changes); err != nil {
		return nil, err
	}
	return pr, nil
}

// replanIfChanged runs under both write locks: when another program wrote
// since prepare read, it plans again. This costs a read and one HMAC per
// signature; the key stays valid unless the password entry changed, and then
// the answer is errRetry.
func (s *Store) replanIfChanged(ctx context.Context, cc, kc *conn, pr *prepared, changes []stores.Change) error {
	cv, err := cc.dataVersion(ctx)
	if err != nil {
		return dbError(cc.path, err)
	}
	kv, err := kc.dataVersion(ctx)
	if err != nil {
		return dbError(kc.path, err)
	}
	if cv == pr.certVer && kv == pr.keyVer {
		return nil
	}
	st2, err := readState(ctx, cc, kc, func(_ context.Context, _ *conn, f func() error) error { return f() })
	if err != nil {
		return err
	}
	st := pr.st
	if pr.newPassword[0] == nil && (!st2.hasPasswordEntry || string(st2.globalSalt) != string(st.globalSalt) || string(st2.check) != string(st.check)) {
		return errRetry
	}
	if pr.newPassword[0] != nil {
		if st2.hasPasswordEntry {
			return errRetry
		}
		st2.hasPasswordEntry, st2.globalSalt, st2.check = true, pr.newPassword[0], pr.newPassword[1]
	}
	pr.p, err = s.plan(st2, pr.a, pr.sg, kc.path, changes)
	return err
}

// writeRows writes the plan's rows inside the open transactions: cert9.db's
// deletions and writes, then key4.db's password entry and signatures.
func writeRows(ctx context.Context, cc, kc *conn, pr *prepared) error {
	p := pr.p
	for _, id := range p.deletes {
		if err := cc.exec(ctx, "DELETE FROM nssPublic WHERE id = ?", int64(id)); err != nil {
			return dbError(cc.path, err)
		}
	}
	for _, w := range p.writes {
		if err := execWrite(ctx, cc, w); err != nil {
			return dbError(cc.path, err)
		}
	}
	if pr.newPassword[0] != nil {
		if err := kc.exec(ctx, "INSERT INTO metaData (id, item1, item2) VALUES ('password', ?, ?)", pr.newPassword[0], pr.newPassword[1]); err != nil {
			return dbError(kc.path, err)
		}
	}
	for _, id := range p.sigDeletes {
		if err := kc.exec(ctx, "DELETE FROM metaData WHERE id LIKE ?", fmt.Sprintf("sig_cert_%08x_%%", id)); err != nil {
			return dbError(kc.path, err)
		}
	}
	for k, v := range p.sigs {
		if err := kc.exec(ctx, "INSERT OR REPLACE INTO metaData (id, item1) VALUES (?, ?)", k.metaID(), v); err != nil {
			return dbError(kc.path, err)
		}
	}
	return nil
}

// lastLockHeld is how long the last successful write held cert9.db's write
// lock, for the benchmarks.
var lastLockHeld atomic.Int64

// readState reads both files, each through wrap (a read transaction, or
// nothing when a write transaction is already open).
func readState(ctx context.Context, cc, kc *conn, wrap func(context.Context, *conn, func() error) error) (*state, error) {
	st := &state{}
	if err := wrap(ctx, cc, func() error { return readCert9(ctx, cc, st) }); err != nil {
		return nil, err
	}
	if err := wrap(ctx, kc, func() error { return readKey4(ctx, kc, st) }); err != nil {
		return nil, err
	}
	if err := checkConverted(filepath.Dir(kc.path), st); err != nil {
		return nil, err
	}
	for _, need := range [][]uint32{certWriteAttrs, trustWriteAttrs} {
		for _, a := range need {
			if !st.certCols[column(a)] {
				return nil, &stores.Error{Path: cc.path, Err: fmt.Errorf("%w: nssPublic has no column %s", stores.ErrUnsupported, column(a)),
					Hint: "this database layout is unknown to rootsync; change it with certutil"}
			}
		}
	}
	return st, nil
}

// plan simulates the changes on st and returns the statements, signatures
// included.
func (s *Store) plan(st *state, a *auth, sg *signer, keyPath string, changes []stores.Change) (*plan, error) {
	pl := &planner{st: st, a: a, sg: sg, keyPath: keyPath, p: &plan{sigs: map[sigKey][]byte{}, oldSigs: map[string][]byte{}}}
	for _, ch := range changes {
		if err := pl.refuseUserCert(ch); err != nil {
			return nil, err
		}
		if ch.Action == stores.Remove {
			pl.remove(ch.Entry)
		} else if err := pl.ensure(ch.Entry); err != nil {
			return nil, err
		}
	}
	return pl.p, nil
}

// undoKey4 restores the signature rows a failed write replaced or deleted.
func (s *Store) undoKey4(kc *conn, p *plan) {
	ctx := context.Background()
	if kc.exec(ctx, "BEGIN IMMEDIATE") != nil {
		return
	}
	for k := range p.sigs {
		_ = kc.exec(ctx, "DELETE FROM metaData WHERE id = ?", k.metaID())
	}
	for id, v := range p.oldSigs {
		_ = kc.exec(ctx, "INSERT OR REPLACE INTO metaData (id, item1) VALUES (?, ?)", id, v)
	}
	if kc.exec(ctx, "COMMIT") != nil {
		_ = kc.exec(ctx, "ROLLBACK")
	}
}

func execWrite(ctx context.Context, c *conn, w rowWrite) error {
	var cols []string
	var args []any
	for a, v := range w.attrs {
		cols = append(cols, column(a))
		args = append(args, encodeValue(v))
	}
	if w.insert {
		q := "INSERT INTO nssPublic (id, " + strings.Join(cols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(cols)) + ")"
		return c.exec(ctx, q, append([]any{int64(w.id)}, args...)...)
	}
	set := make([]string, len(cols))
	for i, col := range cols {
		set[i] = col + " = ?"
	}
	return c.exec(ctx, "UPDATE nssPublic SET "+strings.Join(set, ", ")+" WHERE id = ?", append(args, int64(w.id))...)
}

// create makes the folder (0700) and the database files that are missing,
// as certutil -N would with the store's password (--empty-password without
// one), and returns a function that removes what it made.
func (s *Store) create(ctx context.Context) (_ func(), err error) {
	var made []string
	undo := func() {
		for i := len(made) - 1; i >= 0; i-- {
			os.Remove(made[i])
		}
	}
	defer func() {
		if err != nil {
			undo()
		}
	}()
	haveCert, err := exists(s.certPath())
	if err != nil {
		return nil, &stores.Error{Path: s.certPath(), Err: err}
	}
	haveKey, err := exists(s.keyPath())
	if err != nil {
		return nil, &stores.Error{Path: s.keyPath(), Err: err}
	}
	if haveCert && haveKey {
		return func() {}, nil
	}
	if err := s.checkLegacy(); err != nil {
		return nil, err
	}
	// Make the missing folders one by one, to remove exactly those on failure.
	var missing []string
	for d := s.dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || !errors.Is(err, fs.ErrNotExist) || d == filepath.Dir(d) {
			break
		}
		missing = append(missing, d)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o700); err != nil {
			return nil, &stores.Error{Path: missing[i], Err: err, Hint: "check that the parent folder is writable"}
		}
		made = append(made, missing[i])
	}
	if !haveKey {
		pw, err := s.initialPassword(s.keyPath())
		if err != nil {
			return nil, err
		}
		salt, check, err := newPasswordEntry(pw)
		if err != nil {
			return nil, err
		}
		schema := append(objectTableSchema("nssPrivate"), metaDataSchema)
		if err := createAt(ctx, s.keyPath(), schema, stmt{"INSERT INTO metaData (id, item1, item2) VALUES ('password', ?, ?)", []any{salt, check}}); err != nil {
			return nil, err
		}
		made = append(made, s.keyPath())
	}
	if !haveCert {
		if err := createAt(ctx, s.certPath(), objectTableSchema("nssPublic")); err != nil {
			return nil, err
		}
		made = append(made, s.certPath())
	}
	return undo, nil
}

// initialPassword is the password a new database gets: the store's
// password-env or password-file, else the empty password (as certutil -N
// --empty-password).
func (s *Store) initialPassword(keyPath string) ([]byte, error) {
	if s.secret.IsZero() {
		return nil, nil
	}
	pw, err := s.secret.Value()
	if err != nil {
		return nil, &stores.Error{Path: keyPath, Err: fmt.Errorf("%w: %v", stores.ErrBadPassword, err),
			Hint: stores.PasswordHint(s.secret, err, "check the password source "+s.secret.String()+"; a new database gets that password")}
	}
	return pw, nil
}

type stmt struct {
	q    string
	args []any
}

// createAt builds a new SQLite file under a temporary name and links it into
// place, so that no other program ever sees a half-made database, and an
// existing file is never replaced.
func createAt(ctx context.Context, path string, schema []string, extra ...stmt) error {
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.rootsync-%d", filepath.Base(path), rand.Uint32()))
	defer os.Remove(tmp)
	defer os.Remove(tmp + "-journal")
	if err := createFile(ctx, tmp, schema, extra...); err != nil {
		var se *stores.Error
		if errors.As(err, &se) {
			se.Path = path
			return se
		}
		return &stores.Error{Path: path, Err: err, Hint: "check that the folder is writable"}
	}
	if err := os.Link(tmp, path); err != nil {
		return &stores.Error{Path: path, Err: err, Hint: "check that the folder is writable"}
	}
	return nil
}
