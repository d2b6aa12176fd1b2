package nss

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// certRow is one certificate object of nssPublic.
type certRow struct {
	id                                  uint32
	label                               []byte
	der, issuer, serial, subject, ckaID []byte
}

// trustRow is one trust object (classic or PKCS#11 3.2) of nssPublic.
type trustRow struct {
	id             uint32
	class          uint32
	issuer, serial []byte
	attrs          map[uint32][]byte // the attributes read, nil when absent
}

type sigKey struct{ id, attr uint32 }

func (k sigKey) metaID() string { return fmt.Sprintf("sig_cert_%08x_%08x", k.id, k.attr) }

// parseSigID reads a metaData id written by metaID; ok is false for any
// other id. NSS looks signatures up by the exact id it formats (lower-case
// hex digits), so a row whose id differs in any byte (upper-case digits, a
// sign) is not the signature of anything.
func parseSigID(id string) (k sigKey, ok bool) {
	n, _ := fmt.Sscanf(id, "sig_cert_%08x_%08x", &k.id, &k.attr)
	return k, n == 2 && k.metaID() == id
}

// sigTable holds key4.db's certificate signatures, by object id.
type sigTable struct {
	m map[uint32][]sigEntry
	n int
}

type sigEntry struct {
	attr uint32
	der  []byte
}

func (t *sigTable) len() int { return t.n }

func (t *sigTable) get(k sigKey) ([]byte, bool) {
	for _, e := range t.m[k.id] {
		if e.attr == k.attr {
			return e.der, true
		}
	}
	return nil, false
}

func (t *sigTable) set(k sigKey, der []byte) {
	if t.m == nil {
		t.m = map[uint32][]sigEntry{}
	}
	es := t.m[k.id]
	for i := range es {
		if es[i].attr == k.attr {
			es[i].der = der
			return
		}
	}
	t.m[k.id] = append(es, sigEntry{k.attr, der})
	t.n++
}

// forID calls f with each signature of object id.
func (t *sigTable) forID(id uint32, f func(sigKey, []byte)) {
	for _, e := range t.m[id] {
		f(sigKey{id, e.attr}, e.der)
	}
}

// state is what rootsync reads of a database: the certificates and trust
// objects of cert9.db and the password entry and signatures of key4.db.
type state struct {
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
	attrs := []uint32{attrClass, attrIssuer, attrSerial}
	attrs = append(attrs, certReadAttrs...)
	attrs = append(attrs, trustReadAttrs...)
	var sel []uint32
	for _, a := range attrs {
		if cols[column(a)] {
			sel = append(sel, a)
		}
	}
	names := make([]string, len(sel))
	for i, a := range sel {
		names[i] = column(a)
	}
	q := "SELECT id, " + strings.Join(names, ", ") + " FROM nssPublic"
	rows, err := c.c.QueryContext(ctx, q)
	if err != nil {
		return dbError(c.path, err)
	}
	defer rows.Close()
	st.ids = map[uint32]bool{}
	dest := make([]any, len(sel)+1)
	var id int64
	vals := make([][]byte, len(sel))
	dest[0] = &id
	for i := range vals {
		dest[i+1] = &vals[i]
	}
	for rows.Next() {
		for i := range vals {
			vals[i] = nil
		}
		if err := rows.Scan(dest...); err != nil {
			return corrupt(c.path, "nssPublic: %v", err)
		}
		a := map[uint32][]byte{}
		for i, attr := range sel {
			a[attr] = decodeValue(vals[i])
		}
		st.addObject(uint32(id), a)
	}
	if err := rows.Err(); err != nil {
		return dbError(c.path, err)
	}
	st.sortObjects()
	return nil
}

// addObject files one nssPublic object, given its decoded attributes (nil
// for absent): a certificate, a trust object, or only its id.
func (st *state) addObject(id uint32, a map[uint32][]byte) {
	st.ids[id] = true
	class, ok := ulong(a[attrClass])
	if !ok {
		return
	}
	switch class {
	case ckoCertificate:
		if t, ok := ulong(a[attrCertType]); a[attrCertType] != nil && (!ok || t != ckcX509) {
			return
		}
		st.certs = append(st.certs, &certRow{
			id: id, label: a[attrLabel], der: a[attrValue], issuer: a[attrIssuer],
			serial: a[attrSerial], subject: a[attrSubject], ckaID: a[attrID],
		})
	case ckoNSSTrust, ckoTrust:
		tr := &trustRow{id: id, class: class, issuer: a[attrIssuer], serial: a[attrSerial], attrs: map[uint32][]byte{}}
		for _, t := range trustReadAttrs {
			if a[t] != nil {
				tr.attrs[t] = a[t]
			}
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
// of private keys.
func readKey4(ctx context.Context, c *conn, st *state) error {
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
	rows, err := c.c.QueryContext(ctx, "SELECT id, item1, item2 FROM metaData WHERE id = 'password' OR id LIKE 'sig_cert_%'")
	if err != nil {
		return dbError(c.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var item1, item2 []byte
		if err := rows.Scan(&id, &item1, &item2); err != nil {
			return corrupt(c.path, "metaData: %v", err)
		}
		if id == "password" {
			st.hasPasswordEntry, st.globalSalt, st.check = true, item1, item2
			continue
		}
		if k, ok := parseSigID(id); ok {
			st.sigs.set(k, item1)
		}
	}
	if err := rows.Err(); err != nil {
		return dbError(c.path, err)
	}
	rows.Close()
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
			var id []byte
			if err := rows.Scan(&id); err != nil {
				return corrupt(c.path, "nssPrivate: %v", err)
			}
			st.userIDs[string(id)] = true
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

func issuerSerial(issuer, serial []byte) string { return string(issuer) + string(serial) }

// evalTrust decides what NSS makes of one trust object for the certificate
// der: its trust, or why NSS ignores it.
func evalTrust(tr *trustRow, der []byte, st *state, v *verifier) (*nssTrust, string) {
	if tr.class == ckoNSSTrust {
		if h := tr.attrs[attrCertSHA1Hash]; h != nil {
			sum := sha1.Sum(der)
			if !bytes.Equal(h, sum[:]) {
				return nil, "its certificate hash does not match the certificate"
			}
		}
	} else if h := tr.attrs[attrHashOfCert]; h != nil {
		sum := sha256.Sum256(der)
		if !bytes.Equal(h, sum[:]) {
			return nil, "its certificate hash does not match the certificate"
		}
	}
	if v != nil {
		var attrs []uint32
		for a := range tr.attrs {
			attrs = append(attrs, a)
		}
		sort.Slice(attrs, func(i, j int) bool { return attrs[i] < attrs[j] })
		for _, a := range attrs {
			val := tr.attrs[a]
			if !authenticated[a] || exemptFromCheck(a, val) {
				continue
			}
			sig, ok := st.sigs.get(sigKey{tr.id, a})
			if !ok {
				return nil, "the " + attrName(a) + " has no signature in key4.db"
			}
			if err := v.verify(sig, tr.id, a, val); err != nil {
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
		if x, ok := ulong(tr.attrs[a]); ok {
			if tr.class == ckoTrust {
				if m, known := p11TrustValues[x]; known {
					t.vals[i] = m
				}
			} else {
				t.vals[i] = x
			}
		}
	}
	if su := tr.attrs[attrTrustStepUp]; len(su) == 1 && su[0] != 0 {
		t.stepUp = true
	}
	return &t, ""
}

// entries turns the state into store entries, with NSS's view of each
// certificate's trust. bad counts trust objects NSS would ignore. It fails
// with errVerifyBudget when checking the signatures would cost more than
// verifyBudget.
func entries(st *state, a *auth) (out []*stores.Entry, bad int, err error) {
	var v *verifier
	if a.pk != nil {
		v = newVerifier(a.pk)
	}
	byKey := map[string][]*trustRow{}
	for _, tr := range st.trusts {
		k := issuerSerial(tr.issuer, tr.serial)
		byKey[k] = append(byKey[k], tr)
	}
	for _, cr := range st.certs {
		if cr.der == nil {
			continue
		}
		cert, err := stores.ParseCertificate(cr.der)
		if err != nil {
			cert = &stores.Certificate{
				DER: cr.der, Fingerprint: stores.FingerprintOf(cr.der), RawSubject: cr.subject,
				RawIssuer: cr.issuer, RawSerial: cr.serial, ParseError: err,
				Subject: fmt.Sprintf("(unreadable certificate, object %d)", cr.id),
			}
		}
		e := &stores.Entry{Cert: cert, Label: string(cr.label)}
		e.Owned = strings.HasPrefix(e.Label, OwnerPrefix)
		// The classic object comes first: it is what this NSS version reads.
		cands := append([]*trustRow(nil), byKey[issuerSerial(cr.issuer, cr.serial)]...)
		sort.SliceStable(cands, func(i, j int) bool {
			return cands[i].class == ckoNSSTrust && cands[j].class != ckoNSSTrust
		})
		var chosen *nssTrust
		var rejected []string
		for _, tr := range cands {
			t, why := evalTrust(tr, cr.der, st, v)
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
		rememberFlags(cert, certutilString(chosen, e.PrivateKey))
		out = append(out, e)
	}
	if v != nil && v.over {
		return nil, 0, errVerifyBudget
	}
	return out, bad, nil
}

// isUser reports whether key4.db holds the private key of the certificate
// of r, found as NSS finds it: by CKA_ID.
func isUser(st *state, r *certRow) bool {
	return len(r.ckaID) > 0 && st.userIDs[string(r.ckaID)]
}

// certHashes are the hashes a classic trust object carries.
func certHashes(der []byte) (sha1Sum, md5Sum []byte) {
	s := sha1.Sum(der)
	m := md5.Sum(der)
	return s[:], m[:]
}
