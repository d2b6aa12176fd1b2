package nss

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io/fs"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/rootsync/rootsync/stores"
)

// Columns a write needs; a database without them has a layout rootsync does
// not know.
var (
	certWriteAttrs  = []uint32{attrClass, attrToken, attrPrivate, attrLabel, attrValue, attrCertType, attrIssuer, attrSerial, attrSubject, attrID, attrModifiable}
	trustWriteAttrs = []uint32{attrClass, attrToken, attrPrivate, attrLabel, attrModifiable, attrIssuer, attrSerial,
		attrTrustServer, attrTrustClient, attrTrustEmail, attrTrustCode, attrTrustStepUp, attrCertSHA1Hash, attrCertMD5Hash}
)

// writeKind says what a rowWrite writes.
type writeKind uint8

const (
	insertCert  writeKind = iota // a new certificate object, and its new trust object when trust is set
	insertTrust                  // a new classic trust object
	updateTrust                  // new trust values on an existing trust object
)

// rowWrite is one INSERT or UPDATE of nssPublic. It holds no attribute
// values: they are made from its rows and certificate as the row is written
// (see values), so that a plan of n certificates holds little more than n
// small records, and the signatures are made then too.
type rowWrite struct {
	kind  writeKind
	want  [4]uint32           // the trust values to write, in stores.Purposes order
	cert  *certRow            // insertCert; its pairTrust is inserted next
	trust *trustRow           // insertTrust, updateTrust
	c     *stores.Certificate // the trust object's certificate, whose hashes it carries
}

func (w *rowWrite) id() uint32 {
	if w.kind == insertCert {
		return w.cert.id
	}
	return w.trust.id
}

// attrVal is one attribute value of a row to write.
type attrVal struct {
	attr uint32
	val  []byte
}

// Constant attribute values.
var (
	valTrue        = []byte{1}
	valFalse       = []byte{0}
	valCertificate = ulongBytes(ckoCertificate)
	valNSSTrust    = ulongBytes(ckoNSSTrust)
	valX509        = ulongBytes(ckcX509)
)

// rowValues is scratch space for the values of one row.
type rowValues struct {
	attrs   []attrVal
	signed  []attrVal // see rowWriter.write
	label   []byte
	ckaID   [sha1.Size]byte
	purpose [4][4]byte
	sha1    [sha1.Size]byte
	md5     [md5.Size]byte
	sha256  [sha256.Size]byte
}

// values lists the attributes w writes, in a fixed order per kind of write;
// the slices stay valid until the next call with the same v.
func (v *rowValues) values(w *rowWrite) []attrVal {
	a := v.attrs[:0]
	if w.kind == insertCert {
		r := w.cert
		if r.labelN != 0 {
			v.label = appendNick(v.label[:0], r.cert, int(r.labelN))
		} else {
			v.label = append(v.label[:0], r.label...)
		}
		v.ckaID = keyID(r.cert)
		a = append(a, attrVal{attrClass, valCertificate}, attrVal{attrToken, valTrue}, attrVal{attrPrivate, valFalse},
			attrVal{attrLabel, v.label}, attrVal{attrValue, r.der()}, attrVal{attrCertType, valX509},
			attrVal{attrIssuer, r.issuer()}, attrVal{attrSerial, r.serial()}, attrVal{attrSubject, r.subject()},
			attrVal{attrID, v.ckaID[:]}, attrVal{attrModifiable, valTrue})
		v.attrs = a
		return a
	}
	tr := w.trust
	if tr.class == ckoNSSTrust {
		if w.kind == insertTrust {
			a = append(a, attrVal{attrClass, valNSSTrust}, attrVal{attrToken, valTrue}, attrVal{attrPrivate, valFalse},
				attrVal{attrModifiable, valTrue}, attrVal{attrLabel, []byte{}}, attrVal{attrIssuer, tr.issuer()},
				attrVal{attrSerial, tr.serial()})
		}
		for i, at := range classicPurposeAttrs {
			a = append(a, attrVal{at, trustBytes(w.want[i], &v.purpose[i])})
		}
		stepUp := valFalse
		if su := tr.attrs.get(attrTrustStepUp); w.kind == updateTrust && len(su) == 1 {
			stepUp = su
		}
		v.sha1, v.md5 = sha1.Sum(w.c.DER), md5.Sum(w.c.DER)
		a = append(a, attrVal{attrTrustStepUp, stepUp}, attrVal{attrCertSHA1Hash, v.sha1[:]}, attrVal{attrCertMD5Hash, v.md5[:]})
	} else {
		for i, at := range p11PurposeAttrs {
			a = append(a, attrVal{at, trustBytes(p11Value(w.want[i]), &v.purpose[i])})
		}
		if tr.attrs.get(attrHashOfCert) != nil {
			v.sha256 = sha256.Sum256(w.c.DER)
			a = append(a, attrVal{attrHashOfCert, v.sha256[:]})
		}
		if nh := tr.attrs.get(attrNameHashAlg); nh != nil {
			a = append(a, attrVal{attrNameHashAlg, nh})
		}
	}
	v.attrs = a
	return a
}

// plan is every statement of one write, worked out before any lock is taken;
// the signatures, one HMAC each with the key derived beforehand, are made as
// the rows are written.
type plan struct {
	writes     []rowWrite
	deletes    []uint32          // nssPublic ids
	sigDeletes []uint32          // trust ids whose sig_cert_ rows go
	oldSigs    map[string][]byte // metaData rows replaced or deleted, to undo key4
}

func (p *plan) empty() bool { return len(p.writes) == 0 && len(p.deletes) == 0 }

// trustPart is the trust object write of w: w itself, or for a certificate
// inserted with its trust object, that insertion, whose trustRow is made in
// tr; ok is false when w writes no trust object.
func (w *rowWrite) trustPart(tr *trustRow) (_ rowWrite, ok bool) {
	switch {
	case w.kind != insertCert:
		return *w, true
	case w.cert.pairTrust != 0:
		*tr = w.cert.pairRow()
		return rowWrite{kind: insertTrust, trust: tr, c: w.c, want: w.want}, true
	}
	return rowWrite{}, false
}

// pairRow is the trust object inserted with r (see certRow.pairTrust).
func (r *certRow) pairRow() trustRow {
	return trustRow{id: r.pairTrust, class: ckoNSSTrust, src: r}
}

// signedKeys calls f with the key of every signature the plan writes.
func (p *plan) signedKeys(f func(sigKey)) {
	var v rowValues
	var pair trustRow
	for i := range p.writes {
		tw, ok := p.writes[i].trustPart(&pair)
		if !ok {
			continue
		}
		for _, av := range v.values(&tw) {
			if authenticated[av.attr] {
				f(sigKey{tw.trust.id, av.attr})
			}
		}
	}
}

// planner simulates the changes on the state read before the transaction.
type planner struct {
	st      *state
	a       *auth
	sg      *signer
	keyPath string
	p       *plan
	ix      *rowIndex // built on first use; kept in step with st.certs and st.trusts
	next    uint32    // the next object id to try (see newID)
}

// rowIndex finds rows by value without scanning the whole database, so that
// writing n certificates costs O(n), not O(n^2). Keys are hashes of the
// values (so that the index holds no copy of them); lookups compare the
// values. Rows under one key keep the order of st.certs or st.trusts.
type rowIndex struct {
	seed      maphash.Seed
	byDER     rowMap[*certRow] // only rows whose columns are kept (cols not nil)
	byIssuer  rowMap[*certRow] // issuer and serial
	bySubject rowMap[*certRow]
	byLabel   rowMap[*certRow]
	trusts    rowMap[*trustRow] // issuer and serial
}

// rowMap maps a hash to the rows under it, in the order they were added; a
// key with one row (nearly all of them) costs one pointer.
type rowMap[T comparable] struct {
	one  map[uint64]T
	many map[uint64][]T
}

func newRowMap[T comparable]() rowMap[T] {
	return rowMap[T]{one: map[uint64]T{}, many: map[uint64][]T{}}
}

func (m rowMap[T]) add(k uint64, r T) {
	if rows, ok := m.many[k]; ok {
		m.many[k] = append(rows, r)
	} else if old, ok := m.one[k]; ok {
		delete(m.one, k)
		m.many[k] = []T{old, r}
	} else {
		m.one[k] = r
	}
}

func (m rowMap[T]) remove(k uint64, r T) {
	if rows, ok := m.many[k]; ok {
		switch rows = deleteRow(rows, r); len(rows) {
		case 0:
			delete(m.many, k)
		case 1:
			delete(m.many, k)
			m.one[k] = rows[0]
		default:
			m.many[k] = rows
		}
	} else if old, ok := m.one[k]; ok && old == r {
		delete(m.one, k)
	}
}

// find returns the rows under k for which ok holds, in order; nil when none
// does.
func (m rowMap[T]) find(k uint64, ok func(T) bool) []T {
	if r, found := m.one[k]; found {
		if ok(r) {
			return []T{r}
		}
		return nil
	}
	var out []T
	for _, r := range m.many[k] {
		if ok(r) {
			out = append(out, r)
		}
	}
	return out
}

func (ix *rowIndex) hash(b []byte) uint64 { return maphash.Bytes(ix.seed, b) }

func (ix *rowIndex) pairHash(issuer, serial []byte) uint64 { return pairHash(ix.seed, issuer, serial) }

// certsByDER finds the certificate objects holding c. One that names its
// certificate as the certificate does (cols nil) is found by c's issuer
// and serial number; byDER holds only the others.
func (ix *rowIndex) certsByDER(c *stores.Certificate) []*certRow {
	rows := ix.byIssuer.find(ix.pairHash(c.RawIssuer, c.RawSerial), func(r *certRow) bool {
		return r.cols == nil && bytes.Equal(r.der(), c.DER)
	})
	if len(ix.byDER.one) > 0 || len(ix.byDER.many) > 0 {
		rows = append(rows, ix.byDER.find(ix.hash(c.DER), func(r *certRow) bool { return bytes.Equal(r.der(), c.DER) })...)
	}
	return rows
}

func (ix *rowIndex) certsByIssuer(issuer, serial []byte) []*certRow {
	return ix.byIssuer.find(ix.pairHash(issuer, serial), func(r *certRow) bool {
		return bytes.Equal(r.issuer(), issuer) && bytes.Equal(r.serial(), serial)
	})
}

func (ix *rowIndex) certsBySubject(subject []byte) []*certRow {
	return ix.bySubject.find(ix.hash(subject), func(r *certRow) bool { return bytes.Equal(r.subject(), subject) })
}

func (ix *rowIndex) certsByLabel(label string) []*certRow {
	return ix.byLabel.find(maphash.String(ix.seed, label), func(r *certRow) bool { return r.nick() == label })
}

func (ix *rowIndex) trustsFor(issuer, serial []byte) []*trustRow {
	return ix.trusts.find(ix.pairHash(issuer, serial), func(t *trustRow) bool {
		return bytes.Equal(t.issuer(), issuer) && bytes.Equal(t.serial(), serial)
	})
}

func (pl *planner) index() *rowIndex {
	if pl.ix == nil {
		ix := &rowIndex{seed: maphash.MakeSeed(), byDER: newRowMap[*certRow](), byIssuer: newRowMap[*certRow](),
			bySubject: newRowMap[*certRow](), byLabel: newRowMap[*certRow](), trusts: newRowMap[*trustRow]()}
		for _, r := range pl.st.certs {
			ix.addCert(r, r.label)
		}
		for _, t := range pl.st.trusts {
			ix.addTrust(t)
		}
		pl.ix = ix
	}
	return pl.ix
}

// addCert adds r, whose nickname is label, to the index.
func (ix *rowIndex) addCert(r *certRow, label string) {
	if r.cols != nil {
		ix.byDER.add(ix.hash(r.der()), r)
	}
	ix.byIssuer.add(ix.pairHash(r.issuer(), r.serial()), r)
	ix.bySubject.add(ix.hash(r.subject()), r)
	ix.byLabel.add(maphash.String(ix.seed, label), r)
}

func (ix *rowIndex) deleteCert(r *certRow) {
	if r.cols != nil {
		ix.byDER.remove(ix.hash(r.der()), r)
	}
	ix.byIssuer.remove(ix.pairHash(r.issuer(), r.serial()), r)
	ix.bySubject.remove(ix.hash(r.subject()), r)
	ix.byLabel.remove(maphash.String(ix.seed, r.nick()), r)
}

func (ix *rowIndex) addTrust(t *trustRow) { ix.trusts.add(ix.pairHash(t.issuer(), t.serial()), t) }

func (ix *rowIndex) deleteTrust(t *trustRow) {
	ix.trusts.remove(ix.pairHash(t.issuer(), t.serial()), t)
}

// maxID is the largest object id NSS uses (its ids are 30 bits).
const maxID = 0x3fffffff

// newID returns an object id no object has, the way NSS's sdb_getObjectId
// picks them: counting up from a start (NSS takes the time, rootsync a random
// number), skipping ids in use. The ids it hands out are not
// recorded: the count meets them again only after 2^30 of them.
func (pl *planner) newID() uint32 {
	if pl.next == 0 {
		pl.next = uint32(rand.IntN(maxID)) + 1
	}
	for {
		id := pl.next
		if pl.next++; pl.next > maxID {
			pl.next = 1
		}
		if !pl.st.ids[id] {
			return id
		}
	}
}

// certsByDER and trustsFor return copies, which the caller may hold while
// the planner changes the index.
func (pl *planner) certsByDER(c *stores.Certificate) []*certRow {
	return append([]*certRow(nil), pl.index().certsByDER(c)...)
}

// trustsFor gives the trust objects of a certificate planned earlier in
// the write (certRow.pairTrust) their trustRow first, so that what the
// caller plans for them is planned after their insertion.
func (pl *planner) trustsFor(issuer, serial []byte) []*trustRow {
	ix := pl.index()
	for _, r := range ix.certsByIssuer(issuer, serial) {
		if r.pairTrust != 0 && !r.shown {
			tr := r.pairRow()
			ix.addTrust(&tr)
			r.shown = true
		}
	}
	return append([]*trustRow(nil), ix.trustsFor(issuer, serial)...)
}

// nickname picks rootsync's nickname for c: one per subject, "rootsync - CN",
// with " (2)", " (3)", ... when another subject already uses it. It returns
// the nickname and n when it is nickFor(c, n), 0 when it is another
// subject's.
func (pl *planner) nickname(c *stores.Certificate) (string, int) {
	for _, r := range pl.index().certsBySubject(c.RawSubject) {
		if l := r.nick(); strings.HasPrefix(l, OwnerPrefix) {
			return l, 0
		}
	}
	var buf []byte
	for n := 1; ; n++ {
		buf = appendNick(buf[:0], c, n)
		taken := false
		for _, r := range pl.index().certsByLabel(string(buf)) {
			if string(r.subject()) != string(c.RawSubject) {
				taken = true
				break
			}
		}
		if !taken {
			return string(buf), n
		}
	}
}

// appendNick appends nickname n of c to dst: "rootsync - " and c's common
// name (control characters as spaces; the short fingerprint when it has
// none), then " (n)" from n = 2 on.
func appendNick(dst []byte, c *stores.Certificate, n int) []byte {
	dst = append(dst, OwnerPrefix...)
	start := len(dst)
	for _, r := range strings.TrimSpace(c.CommonName()) {
		if unicode.IsControl(r) {
			r = ' '
		}
		dst = utf8.AppendRune(dst, r)
	}
	if len(dst) == start {
		dst = append(dst, c.Fingerprint.Short()...)
	}
	if n > 1 {
		dst = append(dst, " ("...)
		dst = strconv.AppendInt(dst, int64(n), 10)
		dst = append(dst, ')')
	}
	return dst
}

func (pl *planner) needKey(e *stores.Entry) error {
	if pl.a.pk != nil {
		return nil
	}
	return &stores.Error{Path: pl.keyPath, Entry: e.Cert.Subject,
		Err:  fmt.Errorf("%w: cannot sign trust: %s", stores.ErrBadPassword, pl.a.unverified),
		Hint: "give the database password with ?password-env=VAR or ?password-file=FILE"}
}

// saveOldSigs keeps the signatures w will replace, for undoKey4.
func (pl *planner) saveOldSigs(w *rowWrite) {
	if pl.st.sigs.len() == 0 {
		return
	}
	var v rowValues
	for _, av := range v.values(w) {
		if !authenticated[av.attr] {
			continue
		}
		k := sigKey{w.trust.id, av.attr}
		if old, ok := pl.st.sigs.get(k); ok {
			if _, saved := pl.p.oldSigs[k.metaID()]; !saved {
				pl.p.oldSigs[k.metaID()] = old
			}
		}
	}
}

// addWrite plans w.
func (pl *planner) addWrite(w rowWrite) {
	pl.p.writes = append(pl.p.writes, w)
	if w.kind != insertCert {
		pl.saveOldSigs(&pl.p.writes[len(pl.p.writes)-1])
	}
}

// refuseUserCert refuses a change to a user certificate, one whose private
// key is in key4.db: plans never make one (see stores.Entry.PrivateKey).
func (pl *planner) refuseUserCert(ch stores.Change) error {
	if ch.Action == stores.Add && len(pl.index().certsByDER(ch.Entry.Cert)) == 0 {
		return nil
	}
	for _, r := range pl.certsByDER(ch.Entry.Cert) {
		if isUser(pl.st, r) {
			return &stores.Error{Path: filepath.Join(filepath.Dir(pl.keyPath), certFile), Entry: ch.Entry.Cert.Subject,
				Err:  fmt.Errorf("%w: %q is a user certificate (its private key is in the database); rootsync does not change it", stores.ErrUnsupported, r.nick()),
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
	if len(pl.index().certsByDER(c)) == 0 {
		if same := pl.index().certsByIssuer(c.RawIssuer, c.RawSerial); len(same) > 0 {
			return &stores.Error{Path: filepath.Join(filepath.Dir(pl.keyPath), certFile), Entry: c.Subject,
				Err:  fmt.Errorf("%w: the database holds a different certificate (%q) with the same issuer and serial number", stores.ErrUnsupported, same[0].nick()),
				Hint: "remove that certificate first (certutil -D -n NICKNAME)"}
		}
		// Planned rows are in the index only, not in pl.st.certs.
		row := &certRow{id: pl.newID(), cert: c, planned: true}
		label, n := pl.nickname(c)
		if n > 0 && n <= math.MaxUint16 {
			row.labelN = uint16(n)
		} else {
			row.label = label
		}
		if c.RawSubject == nil {
			row.cols = &certCols{der: c.DER, issuer: c.RawIssuer, serial: c.RawSerial, subject: []byte{}}
		}
		pl.index().addCert(row, label)
		pl.addWrite(rowWrite{kind: insertCert, cert: row})
	}
	want := fromStores(e.Trust).vals
	trusts := pl.trustsFor(c.RawIssuer, c.RawSerial)
	if len(trusts) == 0 && e.Trust.IsZero() {
		return nil // as certutil -t ",,": no trust object at all
	}
	if err := pl.needKey(e); err != nil {
		return err
	}
	hasClassic := false
	for _, tr := range trusts {
		if tr.class == ckoNSSTrust {
			hasClassic = true
		}
		pl.addWrite(rowWrite{kind: updateTrust, trust: tr, c: c, want: want})
	}
	if hasClassic {
		return nil
	}
	id := pl.newID()
	if n := len(pl.p.writes); n > 0 && pl.p.writes[n-1].kind == insertCert && pl.p.writes[n-1].cert.cert == c && pl.p.writes[n-1].cert.pairTrust == 0 {
		// The certificate inserted just before: one planned row for both,
		// and no trustRow until one is looked up (see trustsFor).
		last := &pl.p.writes[n-1]
		last.cert.pairTrust, last.c, last.want = id, c, want
		var pair trustRow
		tw, _ := last.trustPart(&pair)
		pl.saveOldSigs(&tw)
		return nil
	}
	tr := ownTrust(id, ckoNSSTrust, c.RawIssuer, c.RawSerial)
	pl.index().addTrust(tr)
	pl.addWrite(rowWrite{kind: insertTrust, trust: tr, c: c, want: want})
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
	rows := pl.certsByDER(e.Cert)
	for _, r := range rows {
		pl.p.deletes = append(pl.p.deletes, r.id)
		for _, tr := range pl.trustsFor(r.issuer(), r.serial()) {
			pl.p.deletes = append(pl.p.deletes, tr.id)
			pl.p.sigDeletes = append(pl.p.sigDeletes, tr.id)
			pl.st.sigs.forID(tr.id, func(k sigKey, v []byte) { pl.p.oldSigs[k.metaID()] = v })
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
func keyID(c *stores.Certificate) [sha1.Size]byte {
	var value []byte
	if c.ParseError == nil {
		raw := rawSPKI(c.DER)
		if raw == nil {
			if p := c.Parsed(); p != nil {
				raw = p.RawSubjectPublicKeyInfo
			}
		}
		value = publicKeyValue(raw)
	}
	if value == nil {
		value = c.DER
	}
	return sha1.Sum(value)
}

// rawSPKI finds the SubjectPublicKeyInfo in a certificate's DER without
// parsing the rest, or returns nil.
func rawSPKI(der []byte) []byte {
	in := cryptobyte.String(der)
	var cert, tbs cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !in.Empty() || !cert.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil
	}
	if !tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil
	}
	// Serial number, signature algorithm, issuer, validity, subject.
	for range 5 {
		var field cryptobyte.String
		var tag cbasn1.Tag
		if !tbs.ReadAnyASN1(&field, &tag) {
			return nil
		}
	}
	var spki cryptobyte.String
	if !tbs.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil
	}
	return spki
}

// publicKeyValue is the public key value of a SubjectPublicKeyInfo: the
// modulus of an RSA key, the content of the BIT STRING otherwise; nil when
// spki does not read.
func publicKeyValue(raw []byte) []byte {
	var spki struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		PublicKey asn1.BitString
	}
	if raw == nil {
		return nil
	}
	if _, err := asn1.Unmarshal(raw, &spki); err != nil {
		return nil
	}
	value := spki.PublicKey.Bytes
	if spki.Algorithm.Algorithm.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}) {
		var rsa struct {
			N *big.Int
			E int
		}
		if _, err := asn1.Unmarshal(value, &rsa); err == nil && rsa.N != nil {
			value = rsa.N.Bytes()
		}
	}
	return value
}

// Apply makes the changes in one transaction on cert9.db with the key4.db
// transaction nested inside it and committed first, as NSS does. The plan,
// and the signing key (the expensive part of a signature), are worked out
// before the locks are taken. A folder without a database gets a
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
// deletions, key4.db's password entry and deleted signatures, then each row
// with its signatures.
func writeRows(ctx context.Context, cc, kc *conn, pr *prepared) error {
	p := pr.p
	for _, id := range p.deletes {
		if err := cc.exec(ctx, "DELETE FROM nssPublic WHERE id = ?", int64(id)); err != nil {
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
	// The rows go through the driver's own connections (see rowWriter).
	return cc.c.Raw(func(cd any) error {
		return kc.c.Raw(func(kd any) error {
			certConn, ok1 := cd.(driver.ConnPrepareContext)
			keyConn, ok2 := kd.(driver.ConnPrepareContext)
			if !ok1 || !ok2 {
				return fmt.Errorf("%s: the SQLite driver cannot prepare statements", cc.path)
			}
			wr := &rowWriter{conns: [2]driver.ConnPrepareContext{certConn, keyConn}, paths: [2]string{cc.path, kc.path},
				sg: pr.sg, stmts: map[string]driver.Stmt{}}
			defer wr.close()
			return wr.writeAll(ctx, p)
		})
	})
}

// rowWriter writes rows and their signatures through statements prepared
// once per shape of statement, on the driver's connections rather than
// through database/sql, which copies every statement's arguments: a write of
// 100,000 certificates is 300,000 statements, and what each of them
// allocates is collected while the whole sync's certificates are live.
// Constant values are bound as arguments boxed once (constArgs), and a
// signature's metaData id is formatted by SQLite (printf).
type rowWriter struct {
	conns [2]driver.ConnPrepareContext // cert9.db, key4.db
	paths [2]string
	sg    *signer
	stmts map[string]driver.Stmt // by shape (see shape)
	v     rowValues
	args  []driver.NamedValue
	sigs  []byte // the signatures of one row, back to back
	shape []byte
}

// The connections of rowWriter.conns.
const (
	certDB = 0
	keyDB  = 1
)

func (wr *rowWriter) close() {
	for _, st := range wr.stmts {
		st.Close()
	}
}

// writeAll writes the plan's rows in order. The statements run without ctx
// (which costs SQLite's driver a goroutine per statement); ctx is looked at
// every 256 rows instead.
func (wr *rowWriter) writeAll(ctx context.Context, p *plan) error {
	var pair trustRow
	for i := range p.writes {
		if i%256 == 0 && ctx.Err() != nil {
			return dbError(wr.paths[certDB], ctx.Err())
		}
		w := &p.writes[i]
		if err := wr.write(w); err != nil {
			return err
		}
		if w.kind == insertCert {
			if tw, ok := w.trustPart(&pair); ok {
				if err := wr.write(&tw); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// constArgs are the constant attribute values boxed as statement arguments,
// by their first byte, so that binding them allocates nothing.
var constArgs = func() map[*byte]driver.Value {
	m := map[*byte]driver.Value{}
	for _, b := range append([][]byte{valTrue, valFalse, valCertificate, valNSSTrust, valX509, emptyValue}, trustValueBytes...) {
		m[&b[0]] = b
	}
	return m
}()

// trustValueBytes are the trust values rootsync writes, stored once; see
// trustBytes.
var trustValueBytes = func() [][]byte {
	var out [][]byte
	for _, v := range []uint32{trustTrusted, trustTrustedDelegator, trustMustVerify, trustUnknown, trustNotTrusted, trustValidDelegator, 0, 1, 2, 3, 4} {
		out = append(out, ulongBytes(v))
	}
	return out
}()

// trustBytes is v as stored: one of trustValueBytes, or else made in
// scratch.
func trustBytes(v uint32, scratch *[4]byte) []byte {
	for _, b := range trustValueBytes {
		if binary.BigEndian.Uint32(b) == v {
			return b
		}
	}
	binary.BigEndian.PutUint32(scratch[:], v)
	return scratch[:]
}

// arg appends one argument to wr.args.
func (wr *rowWriter) arg(v driver.Value) {
	wr.args = append(wr.args, driver.NamedValue{Ordinal: len(wr.args) + 1, Value: v})
}

// blobArg appends a stored attribute value (see encodeValue) as an argument.
func (wr *rowWriter) blobArg(b []byte) {
	b = encodeValue(b)
	if len(b) > 0 {
		if v, ok := constArgs[&b[0]]; ok {
			wr.arg(v)
			return
		}
	}
	wr.arg(b)
}

// exec runs the statement of the given shape on connection db with
// wr.args, preparing it with the SQL build returns on first use.
func (wr *rowWriter) exec(db int, build func() string) error {
	st, ok := wr.stmts[string(wr.shape)]
	if !ok {
		var err error
		if st, err = wr.conns[db].PrepareContext(context.Background(), build()); err != nil {
			return dbError(wr.paths[db], err)
		}
		wr.stmts[string(wr.shape)] = st
	}
	if _, err := st.(driver.StmtExecContext).ExecContext(context.Background(), wr.args); err != nil {
		return dbError(wr.paths[db], err)
	}
	return nil
}

// setShape names a statement: its connection, its kind and the attributes
// it writes.
func (wr *rowWriter) setShape(db int, kind byte, vals []attrVal) {
	wr.shape = append(wr.shape[:0], byte(db), kind)
	for _, av := range vals {
		wr.shape = binary.BigEndian.AppendUint32(wr.shape, av.attr)
	}
}

// write writes one row of nssPublic and then, in one statement, the
// signatures of its authenticated attributes.
func (wr *rowWriter) write(w *rowWrite) error {
	vals := wr.v.values(w)
	id := w.id()
	wr.args = wr.args[:0]
	var build func() string
	if w.kind == updateTrust {
		for _, av := range vals {
			wr.blobArg(av.val)
		}
		wr.arg(int64(id))
		wr.setShape(certDB, 'u', vals)
		build = func() string {
			var q strings.Builder
			q.WriteString("UPDATE nssPublic SET ")
			for i, av := range vals {
				if i > 0 {
					q.WriteString(", ")
				}
				q.WriteString(column(av.attr) + " = ?")
			}
			q.WriteString(" WHERE id = ?")
			return q.String()
		}
	} else {
		wr.arg(int64(id))
		for _, av := range vals {
			wr.blobArg(av.val)
		}
		wr.setShape(certDB, 'i', vals)
		build = func() string {
			var q strings.Builder
			q.WriteString("INSERT INTO nssPublic (id")
			for _, av := range vals {
				q.WriteString(", " + column(av.attr))
			}
			q.WriteString(") VALUES (?" + strings.Repeat(", ?", len(vals)) + ")")
			return q.String()
		}
	}
	if err := wr.exec(certDB, build); err != nil {
		return err
	}
	if w.kind == insertCert {
		return nil
	}
	// The signatures: made into one buffer first (append may move it),
	// then bound as slices of it, after the object id (?1).
	wr.sigs = wr.sigs[:0]
	var ends [16]int
	signed := wr.v.signed[:0]
	for _, av := range vals {
		if authenticated[av.attr] {
			wr.sigs = wr.sg.appendSig(wr.sigs, id, av.attr, encodeValue(av.val))
			ends[len(signed)] = len(wr.sigs)
			signed = append(signed, av)
		}
	}
	wr.v.signed = signed
	if len(signed) == 0 {
		return nil
	}
	wr.args = wr.args[:0]
	wr.arg(int64(id))
	start := 0
	for i := range signed {
		wr.arg(wr.sigs[start:ends[i]])
		start = ends[i]
	}
	wr.setShape(keyDB, 's', signed)
	return wr.exec(keyDB, func() string {
		// As sigKey.metaID formats it.
		var q strings.Builder
		q.WriteString("INSERT OR REPLACE INTO metaData (id, item1) VALUES ")
		for i, av := range signed {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "(printf('sig_cert_%%08x_%08x', ?1), ?%d)", av.attr, i+2)
		}
		return q.String()
	})
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
	if err := wrap(ctx, kc, func() error { return readKey4(ctx, kc, st, nil) }); err != nil {
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
	// An addition plans one write (a certificate and its trust object),
	// mostly.
	n := 0
	for _, ch := range changes {
		if ch.Action != stores.Remove {
			n++
		}
	}
	pl := &planner{st: st, a: a, sg: sg, keyPath: keyPath, p: &plan{oldSigs: map[string][]byte{}, writes: make([]rowWrite, 0, n)}}
	pl.index() // before any row is planned: planned rows are in the index only
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
	// Rows go in in ascending id order (writes of one row keep theirs), so
	// that the id indexes of nssPublic and metaData grow at one end instead
	// of at random pages: a large write touches each page once.
	slices.SortStableFunc(pl.p.writes, func(a, b rowWrite) int { return cmp.Compare(a.id(), b.id()) })
	return pl.p, nil
}

// undoKey4 restores the signature rows a failed write replaced or deleted.
func (s *Store) undoKey4(kc *conn, p *plan) {
	ctx := context.Background()
	if kc.exec(ctx, "BEGIN IMMEDIATE") != nil {
		return
	}
	p.signedKeys(func(k sigKey) {
		_ = kc.exec(ctx, "DELETE FROM metaData WHERE id = ?", k.metaID())
	})
	for id, v := range p.oldSigs {
		_ = kc.exec(ctx, "INSERT OR REPLACE INTO metaData (id, item1) VALUES (?, ?)", id, v)
	}
	if kc.exec(ctx, "COMMIT") != nil {
		_ = kc.exec(ctx, "ROLLBACK")
	}
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
