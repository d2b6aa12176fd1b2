package nss

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"hash/maphash"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// certRow is one certificate object of nssPublic: one read, or one a write
// adds (planned). A planned row holds no bytes of its own beyond the
// certificate it adds: its nickname (see nick), CKA_ID and trust object are
// made from the certificate as it is written, so that a write of n new
// certificates holds little more than n small records.
type certRow struct {
	id uint32
	// pairTrust is the id of the classic trust object a write adds with the
	// row, 0 for none. It has no trustRow of its own until a later change
	// of the same write looks it up (see planner.trustsFor).
	pairTrust uint32
	// labelN, for a planned row, says its nickname is nickFor(cert,
	// labelN); 0 when label holds it.
	labelN  uint16
	planned bool
	shown   bool   // pairTrust has its trustRow
	label   string // nickname; absent reads as ""
	ckaID   string // a read row's; a planned row's is keyID(cert)
	// cert is the Certificate of the row's value when one was in use as the
	// row was read (see stores.InUse), or the one a write adds; cols holds
	// the value, issuer, serial number and subject columns unless they are
	// all cert's own bytes.
	cert *stores.Certificate
	cols *certCols
}

// nick is the row's nickname.
func (r *certRow) nick() string {
	if r.labelN == 0 {
		return r.label
	}
	return string(appendNick(nil, r.cert, int(r.labelN)))
}

// certCols are the columns of a certificate object that name it; nil for
// an absent one.
type certCols struct{ der, issuer, serial, subject []byte }

func (r *certRow) der() []byte {
	if r.cols != nil {
		return r.cols.der
	}
	return r.cert.DER
}

func (r *certRow) issuer() []byte {
	if r.cols != nil {
		return r.cols.issuer
	}
	return r.cert.RawIssuer
}

func (r *certRow) serial() []byte {
	if r.cols != nil {
		return r.cols.serial
	}
	return r.cert.RawSerial
}

func (r *certRow) subject() []byte {
	if r.cols != nil {
		return r.cols.subject
	}
	return r.cert.RawSubject
}

// trustRow is one trust object (classic or PKCS#11 3.2) of nssPublic.
type trustRow struct {
	id    uint32
	class uint32
	// attrs are the attributes read, then, when src is nil, the object's
	// issuer (issuerLen bytes) and serial number.
	attrs attrList
	// verified has bit i set when the signature of attrs[i] was checked
	// and holds (see checkAsRead).
	verified  uint16
	issuerLen uint32
	// src is the certificate object whose issuer and serial number are the
	// object's own (the same bytes), or nil.
	src *certRow
}

func (t *trustRow) issuer() []byte {
	if t.src != nil {
		return t.src.issuer()
	}
	e := t.attrs.extra()
	return e[:t.issuerLen:t.issuerLen]
}

func (t *trustRow) serial() []byte {
	if t.src != nil {
		return t.src.serial()
	}
	return t.attrs.extra()[t.issuerLen:]
}

// ownTrust is a trust object whose issuer and serial number are copied.
func ownTrust(id, class uint32, issuer, serial []byte) *trustRow {
	tr := &trustRow{id: id, class: class, issuerLen: uint32(len(issuer))}
	var buf []byte
	tr.attrs, buf = newAttrList(func(uint32) []byte { return nil }, len(issuer)+len(serial))
	tr.attrs.buf = append(append(buf, issuer...), serial...)
	return tr
}

type sigKey struct{ id, attr uint32 }

func (k sigKey) metaID() string { return fmt.Sprintf("sig_cert_%08x_%08x", k.id, k.attr) }

// parseSigID reads a metaData id written by metaID; ok is false for any
// other id. NSS looks signatures up by the exact id it formats (lower-case
// hex digits), so a row whose id differs in any byte (upper-case digits, a
// sign) is not the signature of anything.
func parseSigID[T string | []byte](id T) (k sigKey, ok bool) {
	const prefix = "sig_cert_"
	if len(id) != len(prefix)+17 || string(id[:len(prefix)]) != prefix || id[len(prefix)+8] != '_' {
		return k, false
	}
	var v [2]uint32
	for i, part := range [2]T{id[len(prefix) : len(prefix)+8], id[len(prefix)+9:]} {
		for j := range len(part) {
			c := part[j]
			switch {
			case c >= '0' && c <= '9':
				v[i] = v[i]<<4 | uint32(c-'0')
			case c >= 'a' && c <= 'f':
				v[i] = v[i]<<4 | uint32(c-'a'+10)
			default:
				return k, false
			}
		}
	}
	return sigKey{v[0], v[1]}, true
}

// state is what rootsync reads of a database: the certificates and trust
// objects of cert9.db and the password entry and signatures of key4.db.
type state struct {
	// listing: the state is read to list entries, not to write (see
	// Store.readWith): ids stays nil.
	listing  bool
	certCols map[string]bool
	certs    []*certRow
	trusts   []*trustRow
	ids      map[uint32]bool // every object id in nssPublic

	keyExists        bool
	hasPasswordEntry bool
	globalSalt       []byte
	check            []byte
	sigs             sigTable
	userIDs          map[string]bool // CKA_IDs of private keys

	// byPair finds a certificate object by its issuer and serial number
	// while readCert9 reads the trust objects; nil otherwise.
	byPair   map[uint64]*certRow
	pairSeed maphash.Seed
}

// trustReadAttrs are the trust object attributes rootsync reads.
var trustReadAttrs = []uint32{
	attrTrustServer, attrTrustClient, attrTrustEmail, attrTrustCode, attrTrustStepUp,
	attrCertSHA1Hash, attrCertMD5Hash,
	attrP11TrustServer, attrP11TrustClient, attrP11TrustEmail, attrP11TrustCode,
	attrHashOfCert, attrNameHashAlg,
}

var certReadAttrs = []uint32{attrLabel, attrValue, attrCertType, attrSubject, attrID}

// readCert9 reads the certificate and trust objects. Columns the table lacks
// are absent attributes.
func readCert9(ctx context.Context, c *conn, st *state) error {
	cols, err := c.columns(ctx, "nssPublic")
	if err != nil {
		return dbError(c.path, err)
	}
	if cols == nil {
		return corrupt(c.path, "no nssPublic table: not an NSS certificate database")
	}
	if !cols["id"] || !cols[column(attrClass)] {
		return corrupt(c.path, "nssPublic has no id or class column")
	}
	st.certCols = cols
	if !st.listing {
		// A write needs the id of every object, whatever its class.
		st.ids = map[uint32]bool{}
		if err := readIDs(ctx, c, st.ids); err != nil {
			return err
		}
	}
	// The certificates, then the trust objects: each query selects the
	// columns of its classes only (a column read costs the driver a call
	// even when it is NULL). The class is compared as bytes, as addObject
	// compares it.
	head := []uint32{attrClass, attrIssuer, attrSerial}
	if err := readObjects(ctx, c, st, append(head, certReadAttrs...), valCertificate, valCertificate); err != nil {
		return err
	}
	// The certificates by issuer and serial number, while the trust
	// objects are read (see addObject).
	st.pairSeed, st.byPair = maphash.MakeSeed(), make(map[uint64]*certRow, len(st.certs))
	for _, r := range st.certs {
		st.byPair[pairHash(st.pairSeed, r.issuer(), r.serial())] = r
	}
	err = readObjects(ctx, c, st, append(head, trustReadAttrs...), valNSSTrust, ulongBytes(ckoTrust))
	st.byPair = nil
	if err != nil {
		return err
	}
	st.sortObjects()
	return nil
}

// readIDs adds the id of every object of nssPublic to ids.
func readIDs(ctx context.Context, c *conn, ids map[uint32]bool) error {
	rows, err := c.c.QueryContext(ctx, "SELECT id FROM nssPublic")
	if err != nil {
		return dbError(c.path, err)
	}
	defer rows.Close()
	var id int64
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return corrupt(c.path, "nssPublic: %v", err)
		}
		ids[uint32(id)] = true
	}
	if err := rows.Err(); err != nil {
		return dbError(c.path, err)
	}
	return nil
}

// readObjects files the objects of nssPublic whose class is class1 or
// class2 (see addObject), reading the columns of attrs that the table has.
func readObjects(ctx context.Context, c *conn, st *state, attrs []uint32, class1, class2 []byte) error {
	var sel []uint32
	for _, a := range attrs {
		if st.certCols[column(a)] {
			sel = append(sel, a)
		}
	}
	names := make([]string, len(sel))
	for i, a := range sel {
		names[i] = column(a)
	}
	q := "SELECT id, " + strings.Join(names, ", ") + " FROM nssPublic WHERE CAST(" + column(attrClass) + " AS BLOB) IN (?, ?)"
	rows, err := c.c.QueryContext(ctx, q, class1, class2)
	if err != nil {
		return dbError(c.path, err)
	}
	defer rows.Close()
	dest := make([]any, len(sel)+1)
	var id int64
	vals := make([]rawCol, len(sel))
	dest[0] = &id
	for i := range vals {
		dest[i+1] = &vals[i]
	}
	var pos [len(attrSlots)]int8 // where each attribute is in vals, -1 when not selected
	for i := range pos {
		pos[i] = -1
	}
	for i, a := range sel {
		pos[attrSlot(a)] = int8(i)
	}
	get := func(a uint32) []byte {
		if i := pos[attrSlot(a)]; i >= 0 {
			return decodeValue(vals[i].b)
		}
		return nil
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return corrupt(c.path, "nssPublic: %v", err)
		}
		st.addObject(uint32(id), get)
	}
	if err := rows.Err(); err != nil {
		return dbError(c.path, err)
	}
	return nil
}

// attrSlots are the attributes readCert9 reads; attrSlot numbers them.
var attrSlots = [...]uint32{attrClass, attrIssuer, attrSerial, attrLabel, attrValue, attrCertType, attrSubject, attrID,
	attrTrustServer, attrTrustClient, attrTrustEmail, attrTrustCode, attrTrustStepUp, attrCertSHA1Hash, attrCertMD5Hash,
	attrP11TrustServer, attrP11TrustClient, attrP11TrustEmail, attrP11TrustCode, attrHashOfCert, attrNameHashAlg}

func attrSlot(a uint32) int {
	for i, x := range attrSlots {
		if x == a {
			return i
		}
	}
	panic(fmt.Sprintf("attribute %#x is not read", a))
}

// addObject files one nssPublic object: a certificate, a trust object, or
// only its id. get returns the decoded value of an attribute (nil for
// absent), valid only during the call: what the object keeps is copied, into
// one allocation per object, unless it is the bytes of a Certificate in use.
func (st *state) addObject(id uint32, get func(uint32) []byte) {
	if st.ids != nil {
		st.ids[id] = true
	}
	class, ok := ulong(get(attrClass))
	if !ok {
		return
	}
	switch class {
	case ckoCertificate:
		if t, ok := ulong(get(attrCertType)); get(attrCertType) != nil && (!ok || t != ckcX509) {
			return
		}
		// The nickname and the CKA_ID in one allocation.
		label := get(attrLabel)
		both := string(label) + string(get(attrID))
		r := &certRow{id: id, label: both[:len(label)], ckaID: both[len(label):]}
		der, issuer, serial, subject := get(attrValue), get(attrIssuer), get(attrSerial), get(attrSubject)
		if der != nil {
			r.cert = stores.InUse(der)
		}
		own := func(col, b []byte) bool { return col != nil && b != nil && bytes.Equal(col, b) }
		if c := r.cert; c == nil || !own(issuer, c.RawIssuer) || !own(serial, c.RawSerial) || !own(subject, c.RawSubject) {
			// Only here does the row need columns of its own.
			cols := &certCols{der: der, issuer: issuer, serial: serial, subject: subject}
			if c != nil {
				cols.der = c.DER
				pack(&cols.issuer, &cols.serial, &cols.subject)
			} else {
				pack(&cols.der, &cols.issuer, &cols.serial, &cols.subject)
			}
			r.cols = cols
		}
		st.certs = append(st.certs, r)
	case ckoNSSTrust, ckoTrust:
		tr := &trustRow{id: id, class: class}
		// The issuer and serial number of a certificate object read before
		// (see readCert9), when they are the same bytes, else copies after
		// the values, in the same allocation.
		issuer, serial := get(attrIssuer), get(attrSerial)
		if st.byPair != nil && issuer != nil && serial != nil {
			if cr := st.byPair[pairHash(st.pairSeed, issuer, serial)]; cr != nil &&
				bytes.Equal(cr.issuer(), issuer) && bytes.Equal(cr.serial(), serial) {
				tr.src = cr
			}
		}
		if tr.src != nil {
			tr.attrs, _ = newAttrList(get, 0)
		} else {
			var buf []byte
			tr.attrs, buf = newAttrList(get, len(issuer)+len(serial))
			tr.attrs.buf = append(append(buf, issuer...), serial...)
			tr.issuerLen = uint32(len(issuer))
		}
		st.trusts = append(st.trusts, tr)
	}
}

// sortObjects orders the certificates and trust objects by id.
func (st *state) sortObjects() {
	sort.Slice(st.certs, func(i, j int) bool { return st.certs[i].id < st.certs[j].id })
	sort.Slice(st.trusts, func(i, j int) bool { return st.trusts[i].id < st.trusts[j].id })
}

// readKey4 reads the password entry, the certificate signatures and the ids
// of private keys. With onKey, it calls onKey once the password entry is
// read, and keeps only the signatures for which the function onKey returns
// reports true.
func readKey4(ctx context.Context, c *conn, st *state, onKey func(*state) (func(sigKey, []byte) bool, error)) error {
	st.keyExists = true
	st.sigs = sigTable{}
	st.userIDs = map[string]bool{}
	cols, err := c.columns(ctx, "metaData")
	if err != nil {
		return dbError(c.path, err)
	}
	if cols == nil {
		// NSS creates metaData with the password entry; a conversion from
		// key3.db that waits for the password leaves key4.db without it.
		if ok, _ := exists(filepath.Join(filepath.Dir(c.path), legacyKeyFile)); ok {
			return nil
		}
	}
	if cols == nil || !cols["id"] || !cols["item1"] || !cols["item2"] {
		return corrupt(c.path, "no metaData table: not an NSS key database")
	}
	rows, err := c.c.QueryContext(ctx, "SELECT item1, item2 FROM metaData WHERE id = 'password'")
	if err != nil {
		return dbError(c.path, err)
	}
	defer rows.Close()
	var item1, item2 rawCol
	for rows.Next() {
		if err := rows.Scan(&item1, &item2); err != nil {
			return corrupt(c.path, "metaData: %v", err)
		}
		st.hasPasswordEntry, st.globalSalt, st.check = true, bytes.Clone(item1.b), bytes.Clone(item2.b)
	}
	if err := rows.Err(); err != nil {
		return dbError(c.path, err)
	}
	rows.Close()
	var keep func(sigKey, []byte) bool
	if onKey != nil {
		if keep, err = onKey(st); err != nil {
			return err
		}
	}
	rows, err = c.c.QueryContext(ctx, "SELECT id, item1 FROM metaData WHERE id LIKE 'sig_cert_%'")
	if err != nil {
		return dbError(c.path, err)
	}
	defer rows.Close()
	var sigID idCol
	for rows.Next() {
		if err := rows.Scan(&sigID, &item1); err != nil {
			return corrupt(c.path, "metaData: %v", err)
		}
		if k, ok := sigID.sigKey(); ok && (keep == nil || keep(k, item1.b)) {
			st.sigs.set(k, item1.b)
		}
	}
	if err := rows.Err(); err != nil {
		return dbError(c.path, err)
	}
	rows.Close()
	st.sigs.done()
	var id rawCol
	pcols, err := c.columns(ctx, "nssPrivate")
	if err != nil {
		return dbError(c.path, err)
	}
	if pcols[column(attrClass)] && pcols[column(attrID)] {
		rows, err := c.c.QueryContext(ctx, "SELECT a102 FROM nssPrivate WHERE a0 = ?", ulongBytes(ckoPrivateKey))
		if err != nil {
			return dbError(c.path, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := rows.Scan(&id); err != nil {
				return corrupt(c.path, "nssPrivate: %v", err)
			}
			st.userIDs[string(id.b)] = true
		}
		if err := rows.Err(); err != nil {
			return dbError(c.path, err)
		}
	}
	return nil
}

// auth is the outcome of logging in: the key that verifies and makes
// signatures, or why there is none.
type auth struct {
	pk         []byte
	iterations int
	unverified string // why signatures cannot be checked, when pk is nil
}

// login finds the password key the way NSS does: a database whose password is
// empty needs no login (any given password is not used); otherwise the given
// password must pass the "password-check" value. Without a password the trust
// can be read but not verified.
func login(st *state, keyPath string, secret stores.Secret) (*auth, error) {
	switch {
	case !st.keyExists:
		return &auth{unverified: "key4.db is missing, so trust signatures cannot be checked"}, nil
	case !st.hasPasswordEntry:
		return &auth{unverified: "key4.db has no password entry, so trust signatures cannot be checked"}, nil
	}
	ok, err := checkPassword(st.check, passKey(st.globalSalt, nil))
	if err != nil {
		return nil, &stores.Error{Path: keyPath, Err: fmt.Errorf("%w: %v", stores.ErrUnsupported, err),
			Hint: "have NSS rewrite it: run certutil -W -d sql:" + filepath.Dir(keyPath) +
				" and give the current password as the old and the new one (press Enter at each prompt if it has none)"}
	}
	if ok {
		return &auth{pk: passKey(st.globalSalt, nil), iterations: emptyPasswordIterations}, nil
	}
	if secret.IsZero() {
		return &auth{unverified: "the database is password-protected and no password was given, so trust signatures cannot be checked"}, nil
	}
	pw, err := secret.Value()
	if err != nil {
		return nil, &stores.Error{Path: keyPath, Err: fmt.Errorf("%w: %v", stores.ErrBadPassword, err),
			Hint: stores.PasswordHint(secret, err, "check the password source "+secret.String())}
	}
	pk := passKey(st.globalSalt, pw)
	if ok, _ := checkPassword(st.check, pk); !ok {
		return nil, &stores.Error{Path: keyPath, Err: stores.ErrBadPassword,
			Hint: "check the password in " + secret.String()}
	}
	return &auth{pk: pk, iterations: passwordIterations}, nil
}

// evalTrust decides what NSS makes of one trust object for the certificate
// der: its trust, or why NSS ignores it.
func evalTrust(tr *trustRow, der []byte, st *state, v *verifier) (*nssTrust, string) {
	if tr.class == ckoNSSTrust {
		if h := tr.attrs.get(attrCertSHA1Hash); h != nil {
			sum := sha1.Sum(der)
			if !bytes.Equal(h, sum[:]) {
				return nil, "its certificate hash does not match the certificate"
			}
		}
	} else if h := tr.attrs.get(attrHashOfCert); h != nil {
		sum := sha256.Sum256(der)
		if !bytes.Equal(h, sum[:]) {
			return nil, "its certificate hash does not match the certificate"
		}
	}
	if v != nil {
		// In ascending attribute order, as tr.attrs is.
		for i := range tr.attrs.len() {
			a, val := tr.attrs.at(i)
			if !authenticated[a] || exemptFromCheck(a, val) || tr.verified&(1<<i) != 0 {
				continue
			}
			prefix, tail, ok := st.sigs.lookup(sigKey{tr.id, a})
			if !ok {
				return nil, "the " + attrName(a) + " has no signature in key4.db"
			}
			if err := v.verifyParts(prefix, tail, tr.id, a, val); err != nil {
				return nil, "the signature of the " + attrName(a) + " does not verify (" + err.Error() + ")"
			}
		}
	}
	var t nssTrust
	purposeAttrs := classicPurposeAttrs
	if tr.class == ckoTrust {
		purposeAttrs = p11PurposeAttrs
	}
	for i, a := range purposeAttrs {
		t.vals[i] = trustUnknown
		if x, ok := ulong(tr.attrs.get(a)); ok {
			if tr.class == ckoTrust {
				if m, known := p11TrustValues[x]; known {
					t.vals[i] = m
				}
			} else {
				t.vals[i] = x
			}
		}
	}
	if su := tr.attrs.get(attrTrustStepUp); len(su) == 1 && su[0] != 0 {
		t.stepUp = true
	}
	return &t, ""
}

// entries turns the state into store entries, with NSS's view of each
// certificate's trust. bad counts trust objects NSS would ignore. It fails
// with errVerifyBudget when checking the signatures would cost more than
// verifyBudget. v, when not nil, is the verifier the signatures were checked
// with as they were read. A listing state (st.listing) is used up: its rows
// are let go as their entries are made.
func entries(st *state, a *auth, v *verifier) (out []*stores.Entry, bad int, err error) {
	if a.pk == nil {
		v = nil
	} else if v == nil {
		v = newVerifier(a.pk)
	}
	// Trust objects by issuer and serial number. A listing drops each row
	// once every certificate that may use it is done, so that the state
	// shrinks as the entries grow.
	type bucket struct {
		rows  []*trustRow
		users int // certificate objects yet to look here
	}
	seed := maphash.MakeSeed()
	// What certutilString gives, by its arguments.
	type flagsKey struct {
		vals          [4]uint32
		trusted, user bool
	}
	flagStrings := map[flagsKey]string{}
	byKey := make(map[uint64]*bucket, len(st.trusts))
	for _, tr := range st.trusts {
		k := pairHash(seed, tr.issuer(), tr.serial())
		b := byKey[k]
		if b == nil {
			b = &bucket{}
			byKey[k] = b
		}
		b.rows = append(b.rows, tr)
	}
	if st.listing {
		st.trusts = nil
		for _, cr := range st.certs {
			if b := byKey[pairHash(seed, cr.issuer(), cr.serial())]; b != nil && cr.der() != nil {
				b.users++
			}
		}
	}
	for i, cr := range st.certs {
		if cr.der() == nil {
			continue
		}
		if st.listing {
			st.certs[i] = nil
		}
		cert, err := cr.cert, error(nil)
		if cert == nil {
			cert, err = stores.ParseCertificate(cr.der())
		}
		if err != nil {
			cert = &stores.Certificate{
				DER: cr.der(), Fingerprint: stores.FingerprintOf(cr.der()), RawSubject: cr.subject(),
				RawIssuer: cr.issuer(), RawSerial: cr.serial(), ParseError: err,
				Subject: fmt.Sprintf("(unreadable certificate, object %d)", cr.id),
			}
		}
		e := &stores.Entry{Cert: cert, Label: cr.label}
		e.Owned = strings.HasPrefix(e.Label, OwnerPrefix)
		// The classic object comes first: it is what this NSS version reads.
		var candBuf [2]*trustRow
		cands := candBuf[:0]
		k := pairHash(seed, cr.issuer(), cr.serial())
		if b := byKey[k]; b != nil {
			for _, tr := range b.rows {
				if bytes.Equal(tr.issuer(), cr.issuer()) && bytes.Equal(tr.serial(), cr.serial()) {
					cands = append(cands, tr)
				}
			}
			if b.users--; st.listing && b.users == 0 {
				delete(byKey, k)
			}
		}
		if len(cands) > 1 {
			sort.SliceStable(cands, func(i, j int) bool {
				return cands[i].class == ckoNSSTrust && cands[j].class != ckoNSSTrust
			})
		}
		var chosen *nssTrust
		var rejected []string
		for _, tr := range cands {
			t, why := evalTrust(tr, cr.der(), st, v)
			if t != nil {
				chosen = t
				break
			}
			rejected = append(rejected, fmt.Sprintf("trust object %d is ignored because %s", tr.id, why))
		}
		if chosen == nil && len(rejected) > 0 {
			bad += len(rejected)
			e.Notes = append(e.Notes, strings.Join(rejected, "; ")+
				": NSS treats the certificate as untrusted (re-apply its trust to repair it)")
		}
		if chosen != nil {
			e.Trust, e.Notes = chosen.toStores()
			if a.pk == nil && len(cands) > 0 {
				e.Notes = append(e.Notes, "trust not verified: "+a.unverified)
			}
		}
		e.PrivateKey = isUser(st, cr)
		// The same few trust strings over and over: made once each.
		fk := flagsKey{user: e.PrivateKey}
		if chosen != nil {
			fk.vals, fk.trusted = chosen.vals, true
		}
		flags, ok := flagStrings[fk]
		if !ok {
			flags = certutilString(chosen, e.PrivateKey)
			flagStrings[fk] = flags
		}
		rememberFlags(cert, flags)
		if out == nil {
			out = make([]*stores.Entry, 0, len(st.certs)-i)
		}
		out = append(out, e)
	}
	if v != nil && v.over {
		return nil, 0, errVerifyBudget
	}
	return out, bad, nil
}

// readWork and readWorkShared bound the PBKDF2 iterations checkAsRead may
// spend while key4.db is read (see readAllowance): readWork (about 4 ms
// here) for keys met once, as many as thousands of NSS's one-iteration keys
// of the empty password; readWorkShared (about 40 ms) more for keys that
// several signatures share, such as the one key of each write rootsync made
// with a password. A signature that needs more is kept and checked after
// the read.
const (
	readWork       = 20_000
	readWorkShared = 200_000
)

// checkAsRead returns the filter readKey4 keeps signatures by when the state
// is read for listing: a signature evalTrust would never look at is dropped,
// one that checks out is marked on its trust object (trustRow.verified) and
// dropped, and the rest (those that fail, or whose key would cost more than
// the read allows) are kept for evalTrust, which checks them as before.
func (st *state) checkAsRead(v *verifier) func(sigKey, []byte) bool {
	return func(k sigKey, der []byte) bool {
		i := sort.Search(len(st.trusts), func(i int) bool { return st.trusts[i].id >= k.id })
		if i == len(st.trusts) || st.trusts[i].id != k.id {
			return false
		}
		tr := st.trusts[i]
		for j := range tr.attrs.len() {
			attr, val := tr.attrs.at(j)
			if attr != k.attr {
				continue
			}
			if !authenticated[attr] || exemptFromCheck(attr, val) {
				return false
			}
			if v.verify(der, tr.id, attr, val) == nil {
				tr.verified |= 1 << j
				return false
			}
			return true
		}
		return false
	}
}

// isUser reports whether key4.db holds the private key of the certificate
// of r, found as NSS finds it: by CKA_ID.
func isUser(st *state, r *certRow) bool {
	if len(st.userIDs) == 0 {
		return false
	}
	if r.planned {
		id := keyID(r.cert)
		return st.userIDs[string(id[:])]
	}
	return len(r.ckaID) > 0 && st.userIDs[r.ckaID]
}

// certHashes are the hashes a classic trust object carries.
func certHashes(der []byte) (sha1Sum, md5Sum []byte) {
	s := sha1.Sum(der)
	m := md5.Sum(der)
	return s[:], m[:]
}
