package nss

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// FuzzRoundTrip: what Apply writes into a new database, Load reads back with
// the trust written per purpose, distrust included (see
// storetest.RoundTrip).
func FuzzRoundTrip(f *testing.F) {
	storetest.FuzzSeeds(f)
	f.Fuzz(func(t *testing.T, ops []byte, names string) {
		storetest.RoundTrip(t, ops, names, func(t *testing.T, dir string) stores.Store {
			return openDir(t, filepath.Join(dir, "nssdb"))
		})
	})
}

// fuzzAttrs are the attributes a fuzzed nssPublic object may carry: those
// readCert9 reads.
var fuzzAttrs = append(append([]uint32{attrClass, attrIssuer, attrSerial}, certReadAttrs...), trustReadAttrs...)

// fuzzObject is one nssPublic row as FuzzDecodeObjects encodes it: a one-byte
// id, a one-byte attribute count, then per attribute an index into
// fuzzAttrs, a two-byte big-endian length and the stored column bytes.
type fuzzObject struct {
	id    byte
	attrs [][2][]byte // {index, value}
}

func encodeObjects(objs ...fuzzObject) []byte {
	var b []byte
	for _, o := range objs {
		b = append(b, o.id, byte(len(o.attrs)))
		for _, a := range o.attrs {
			b = append(b, a[0][0], byte(len(a[1])>>8), byte(len(a[1])))
			b = append(b, a[1]...)
		}
	}
	return b
}

func fuzzAttr(attr uint32, value []byte) [2][]byte {
	for i, a := range fuzzAttrs {
		if a == attr {
			return [2][]byte{{byte(i)}, value}
		}
	}
	panic("attribute not read")
}

// decodeObjects reads encodeObjects' format, as readCert9 reads columns.
func decodeObjects(st *state, b []byte) {
	for len(b) >= 2 {
		id, n := b[0], int(b[1])
		b = b[2:]
		a := map[uint32][]byte{}
		for ; n > 0 && len(b) >= 3; n-- {
			attr := fuzzAttrs[int(b[0])%len(fuzzAttrs)]
			l := min(int(b[1])<<8|int(b[2]), len(b)-3)
			a[attr] = decodeValue(b[3 : 3+l])
			b = b[3+l:]
		}
		st.addObject(uint32(id), func(x uint32) []byte { return a[x] })
	}
	st.sortObjects()
}

var fuzzGlobalSalt = []byte("rootsync fuzz global salt")

// seedObjects is a certificate with a classic trust object (CT,C,C) and a
// PKCS#11 3.2 one, as rootsync writes them.
func seedObjects() []byte {
	c := testpki.Root("Fuzz NSS Root")
	sha1Sum, md5Sum := certHashes(c.DER)
	issuer, serial := c.Cert.RawIssuer, serialDER(c.Cert)
	cert := fuzzObject{id: 1, attrs: [][2][]byte{
		fuzzAttr(attrClass, ulongBytes(ckoCertificate)), fuzzAttr(attrCertType, ulongBytes(ckcX509)),
		fuzzAttr(attrValue, c.DER), fuzzAttr(attrIssuer, issuer), fuzzAttr(attrSerial, serial),
		fuzzAttr(attrSubject, c.Cert.RawSubject), fuzzAttr(attrLabel, []byte(OwnerPrefix+"Fuzz NSS Root")),
		fuzzAttr(attrID, emptyValue),
	}}
	classic := fuzzObject{id: 2, attrs: [][2][]byte{
		fuzzAttr(attrClass, ulongBytes(ckoNSSTrust)), fuzzAttr(attrIssuer, issuer), fuzzAttr(attrSerial, serial),
		fuzzAttr(attrTrustServer, ulongBytes(trustTrustedDelegator)), fuzzAttr(attrTrustClient, ulongBytes(trustTrustedDelegator)),
		fuzzAttr(attrTrustEmail, ulongBytes(trustNotTrusted)), fuzzAttr(attrTrustCode, ulongBytes(trustUnknown)),
		fuzzAttr(attrTrustStepUp, []byte{0}), fuzzAttr(attrCertSHA1Hash, sha1Sum), fuzzAttr(attrCertMD5Hash, md5Sum),
	}}
	sum := sha256.Sum256(c.DER)
	p11 := fuzzObject{id: 3, attrs: [][2][]byte{
		fuzzAttr(attrClass, ulongBytes(ckoTrust)), fuzzAttr(attrIssuer, issuer), fuzzAttr(attrSerial, serial),
		fuzzAttr(attrP11TrustServer, ulongBytes(2)), fuzzAttr(attrP11TrustClient, ulongBytes(3)),
		fuzzAttr(attrP11TrustEmail, ulongBytes(1)), fuzzAttr(attrP11TrustCode, ulongBytes(0)),
		fuzzAttr(attrHashOfCert, sum[:]), fuzzAttr(attrNameHashAlg, ulongBytes(0x250)),
	}}
	return encodeObjects(cert, classic, p11)
}

// serialDER is the DER INTEGER of c's serial number, as NSS stores CKA_SERIAL_NUMBER.
func serialDER(c *x509.Certificate) []byte {
	b, err := asn1.Marshal(c.SerialNumber)
	if err != nil {
		panic(err)
	}
	return b
}

var fuzzSigner = sync.OnceValue(func() *signer {
	s, err := newSigner(passKey(fuzzGlobalSalt, nil), emptyPasswordIterations)
	if err != nil {
		panic(err)
	}
	return s
})

var flagsRE = regexp.MustCompile(`^[cpCTPu]*,[cpCTPu]*,[cpCTPu]*$`)

// FuzzDecodeObjects feeds the decoders of a database's rows — nssPublic
// certificate and trust objects (CKA_* values, trust values of both object
// classes, certificate hashes), the sig_cert_ signatures and their metaData
// ids, and the password entry's check value — with arbitrary bytes. sig is
// the signature stored for every trust attribute; when it is empty each
// attribute gets a valid signature. Whatever the bytes: no panic, one entry
// per certificate object with a value, trust only from a trust object of the
// certificate's issuer and serial, and, when signatures are checked, only
// from a trust object whose signatures verify.
func FuzzDecodeObjects(f *testing.F) {
	// Bounded PBKDF2 work keeps every input fast; the bounds themselves are
	// TestVerifyBudget's.
	oldMax, oldBudget := maxIterations, verifyBudget
	maxIterations, verifyBudget = 20_000, 50_000
	f.Cleanup(func() { maxIterations, verifyBudget = oldMax, oldBudget })
	decodeObjectsSeeds(f, f)
	f.Fuzz(fuzzDecodeObjects)
}

func decodeObjectsSeeds(tb testing.TB, f storetest.Seeder) {
	objs := seedObjects()
	_, check, err := newPasswordEntry(nil)
	if err != nil {
		tb.Fatal(err)
	}
	f.Add(objs, []byte{}, check, "sig_cert_00000002_ce536358")
	f.Add(objs, []byte{0x30, 0x03, 0x02, 0x01, 0x00}, []byte{}, "sig_cert_0000000A_ce536358")
	f.Add(objs[:len(objs)/2], fuzzSigner().sign(2, attrTrustServer, ulongBytes(trustTrustedDelegator)), check[:len(check)-3], "password")
	f.Add(encodeObjects(fuzzObject{id: 9, attrs: [][2][]byte{fuzzAttr(attrClass, emptyValue), fuzzAttr(attrValue, []byte{0x30, 0x00})}}), []byte{}, []byte{}, "")
}

func fuzzDecodeObjects(t *testing.T, objects, sig, check []byte, metaID string) {
	if k, ok := parseSigID(metaID); ok && k.metaID() != metaID {
		t.Errorf("metaData id %q reads as %s", metaID, k.metaID())
	}
	st := &state{
		ids: map[uint32]bool{}, keyExists: true, hasPasswordEntry: true,
		globalSalt: fuzzGlobalSalt, check: check, userIDs: map[string]bool{},
	}
	decodeObjects(st, objects)
	for _, tr := range st.trusts {
		for a, v := range tr.attrs.all() {
			if len(sig) == 0 {
				st.sigs.set(sigKey{tr.id, a}, fuzzSigner().sign(tr.id, a, v))
			} else {
				st.sigs.set(sigKey{tr.id, a}, sig)
			}
		}
	}
	if a, err := login(st, "key4.db", stores.Secret{}); err == nil && a.pk == nil && a.unverified == "" {
		t.Error("login neither gave a key nor said why not")
	}
	pk := passKey(fuzzGlobalSalt, nil)
	verified, bad, err := entries(st, &auth{pk: pk}, nil)
	if err != nil {
		if err != errVerifyBudget {
			t.Fatal(err)
		}
		return
	}
	// Checking the signatures as they are read (as Load does) gives the
	// same entries as checking them all afterwards.
	st2 := &state{listing: true, keyExists: true, hasPasswordEntry: true, globalSalt: fuzzGlobalSalt, check: check, userIDs: map[string]bool{}}
	decodeObjects(st2, objects)
	v := newVerifier(pk)
	v.reading = &readAllowance{first: readWork, shared: readWorkShared, deferred: map[string]bool{}}
	keep := st2.checkAsRead(v)
	st.sigs.forEach(func(k sigKey, der []byte) {
		if keep(k, der) {
			st2.sigs.set(k, der)
		}
	})
	v.reading = nil
	if asRead, bad2, err := entries(st2, &auth{pk: pk}, v); err == nil {
		if bad2 != bad || len(asRead) != len(verified) {
			t.Fatalf("checked as read: %d entries, %d ignored trust objects; afterwards: %d, %d", len(asRead), bad2, len(verified), bad)
		}
		for i, e := range asRead {
			if w := verified[i]; e.Cert.Fingerprint != w.Cert.Fingerprint || e.Trust != w.Trust || e.Label != w.Label ||
				strings.Join(e.Notes, "|") != strings.Join(w.Notes, "|") {
				t.Errorf("entry %d checked as read: %v %q %v; afterwards: %v %q %v", i, e.Trust, e.Label, e.Notes, w.Trust, w.Label, w.Notes)
			}
		}
	} else if err != errVerifyBudget {
		t.Fatal(err)
	}
	plain, _, err := entries(st, &auth{unverified: "fuzz"}, nil)
	if err != nil {
		t.Fatalf("entries without verification: %v", err)
	}
	var certs []*certRow
	for _, cr := range st.certs {
		if cr.der() != nil {
			certs = append(certs, cr)
		}
	}
	if len(verified) != len(certs) || len(plain) != len(certs) {
		t.Fatalf("%d certificate objects with a value gave %d entries (%d unverified)", len(certs), len(verified), len(plain))
	}
	for i, cr := range certs {
		for _, e := range []*stores.Entry{verified[i], plain[i]} {
			if !bytes.Equal(e.Cert.DER, cr.der()) {
				t.Fatalf("entry %d does not carry its object's certificate", i)
			}
			for _, l := range e.Trust {
				if l > stores.Distrusted {
					t.Fatalf("object %d: trust level %d", cr.id, l)
				}
			}
			if f := TrustFlags(e); !flagsRE.MatchString(f) {
				t.Errorf("object %d: trust flags %q", cr.id, f)
			}
		}
		var rows []*trustRow
		for _, tr := range st.trusts {
			if bytes.Equal(tr.issuer(), cr.issuer()) && bytes.Equal(tr.serial(), cr.serial()) {
				rows = append(rows, tr)
			}
		}
		if !plain[i].Trust.IsZero() && len(rows) == 0 {
			t.Errorf("object %d: trust %v without a trust object", cr.id, plain[i].Trust)
		}
		if !verified[i].Trust.IsZero() && !anyVerifies(st, rows, pk) {
			t.Errorf("object %d: trust %v though no trust object's signatures verify", cr.id, verified[i].Trust)
		}
	}
}

// anyVerifies reports whether some row has a valid signature for every
// authenticated attribute that NSS checks.
func anyVerifies(st *state, rows []*trustRow, pk []byte) bool {
	budget := verifyBudget
	verifyBudget = 1 << 40 // the check itself must not run out first
	defer func() { verifyBudget = budget }()
	v := newVerifier(pk)
	for _, tr := range rows {
		ok := true
		for a, val := range tr.attrs.all() {
			if !authenticated[a] || exemptFromCheck(a, val) {
				continue
			}
			if sig, found := st.sigs.get(sigKey{tr.id, a}); !found || v.verify(sig, tr.id, a, val) != nil {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}
