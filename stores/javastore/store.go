package javastore

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/stores"
)

// DefaultPassword is the password used when the spec and the caller name
// none: "changeit", the well-known password of the JDK's and Debian's cacerts.
const DefaultPassword = "changeit"

// OwnedPrefix starts the alias of every entry rootsync adds.
const OwnedPrefix = "rootsync-"

// Store is a Java keystore file. It implements stores.Store.
type Store struct {
	spec      stores.Spec
	path      string
	preferred Format
	secret    stores.Secret
	// Now gives the creation date of new JKS entries.
	Now func() time.Time

	mu    sync.Mutex
	notes []string
}

var _ stores.Store = (*Store)(nil)

// Open returns the keystore named by spec. format is the keystore's format:
// an existing file in another format is refused by Load and Apply. The password
// comes from the spec's password-env or password-file option, then from
// opts.Password, and is DefaultPassword when neither names one. Open reads
// nothing and creates nothing.
func Open(spec stores.Spec, opts stores.OpenOptions, format Format) (*Store, error) {
	if spec.Location == "" {
		return nil, fmt.Errorf("store %s: missing file name (want %s:FILE)", spec, spec.Kind)
	}
	if format != JKS && format != PKCS12 {
		return nil, fmt.Errorf("store %s: cannot create a %s keystore", spec, format)
	}
	return &Store{
		spec:      spec,
		path:      spec.Location,
		preferred: format,
		secret:    stores.SecretFromSpec(spec, opts.Password),
		Now:       time.Now,
	}, nil
}

// Spec returns the spec the store was opened with.
func (s *Store) Spec() stores.Spec { return s.spec }

// Capabilities: a Java truststore trusts an entry for everything and cannot
// record distrust; aliases carry rootsync's mark.
func (s *Store) Capabilities() stores.Capabilities {
	return stores.Capabilities{PerPurpose: false, Distrust: false, Ownership: true}
}

// Paths is the keystore file.
func (s *Store) Paths() []string { return []string{s.path} }

// Notes returns the remarks of the last Load or Apply about the file as a
// whole: a format other than the spec's kind, private keys kept as they are,
// entries rootsync cannot rewrite.
func (s *Store) Notes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.notes...)
}

// item is one keystore entry, in file order.
type item struct {
	// alias is the alias as stored; Java lower-cases it.
	alias string
	// der is the entry's certificate as stored (a JKS entry may hold PEM
	// text, which Java reads too); for a key entry, its first certificate.
	der []byte
	// cert is set for a trusted certificate entry Java sees, which rootsync
	// lists; for a key entry, the first certificate of its chain.
	cert *stores.Certificate
	// key: a private-key entry, listed as such and kept as it is.
	key bool
	// hidden: Java does not see this entry (another one with the same
	// alias, as Java looks it up, replaces it).
	hidden bool
}

// view is one alias as Java lists it, and the entry Java finds under it.
type view struct {
	alias string
	it    *item
}

// listed: a trusted certificate entry Java sees (Load lists key entries too,
// but no change names them).
func (it *item) listed() bool { return it.cert != nil && !it.key && !it.hidden }

// javaAlias is the alias as Java and keytool show it.
func (it *item) javaAlias() string { return strings.ToLower(it.alias) }

// keyfile is a keystore as read.
type keyfile struct {
	format Format
	exists bool
	items  []*item
	// view is what Java sees: each alias keytool lists, in file order.
	view []view
	// jks is the keystore-go store, which keeps private-key entries as the
	// encrypted bytes it read.
	jks keystore.KeyStore
	// PKCS#12: noMAC for a password-less file; legacyMAC for a SHA-1 MAC
	// (an older writer: the file is rewritten with the legacy encoder).
	noMAC     bool
	legacyMAC bool
	// blockers say why the file cannot be rewritten without losing something.
	blockers []string
	notes    []string
}

func (s *Store) errorf(sentinel error, entry, hint, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if sentinel != nil {
		err = fmt.Errorf("%w: %w", sentinel, err)
	}
	return &stores.Error{Path: s.path, Entry: entry, Err: err, Hint: hint}
}

// password returns the password and where it came from, for messages.
func (s *Store) password() (string, string, error) {
	if s.secret.IsZero() {
		return DefaultPassword, "the default password " + DefaultPassword, nil
	}
	v, err := s.secret.Value()
	if err != nil {
		return "", "", s.errorf(stores.ErrBadPassword, "", stores.PasswordHint(s.secret, err, "set the password in "+s.secret.String()+", or name another source with ?password-env=VAR or ?password-file=FILE"), "%v", err)
	}
	return string(v), "the password from " + s.secret.String(), nil
}

func (s *Store) badPassword(src string, err error) error {
	hint := "check the password in " + s.secret.String()
	if s.secret.IsZero() {
		hint = "give the keystore's password with ?password-env=VAR or ?password-file=FILE (" + DefaultPassword + " was tried)"
	}
	return s.errorf(stores.ErrBadPassword, "", hint+"; if the password is right, the file is damaged: restore it from a backup", "%s: %v", src, err)
}

func (s *Store) read() (*keyfile, error) {
	data, err := stores.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		// The password a new keystore gets must be readable now, so that
		// a plan (diff) already reports a missing password file.
		if _, _, err := s.password(); err != nil {
			return nil, err
		}
		return nil, stores.NotExist(s.path)
	}
	if err != nil {
		return nil, err
	}
	const damaged = "restore the file from a backup, or remove it to start an empty truststore"
	kf := &keyfile{format: Detect(data), exists: true}
	if (kf.format == JKS || kf.format == PKCS12) && kf.format != s.preferred {
		kind := map[Format]string{JKS: "jks", PKCS12: "p12"}[kf.format]
		return nil, stores.WrongKind(s.path, "a "+s.preferred.String()+" keystore", "it is a "+kf.format.String()+" keystore",
			"name it with its own kind ("+kind+":"+s.path+"), or convert it with keytool -importkeystore")
	}
	switch kf.format {
	case JCEKS:
		return nil, s.errorf(stores.ErrUnsupported, "", "convert it: keytool -importkeystore -srckeystore "+s.path+" -srcstoretype JCEKS -destkeystore NEW.p12 -deststoretype PKCS12", "a JCEKS keystore, which rootsync does not read")
	case Unknown:
		if len(data) == 0 {
			// An empty file is an empty store, as keytool treats it.
			return s.emptyFile(), nil
		}
		return nil, stores.WrongKind(s.path, "a Java keystore", "neither JKS nor PKCS#12",
			"point the store at a keystore, or use the spec kind that matches the file (pem: for a PEM bundle)")
	}
	pw, src, err := s.password()
	if err != nil {
		return nil, err
	}
	if kf.format == JKS {
		err = s.readJKS(kf, data, pw)
	} else {
		err = s.readPKCS12(kf, data, pw)
	}
	if err != nil {
		var unsup pfxUnsupportedError
		var refused javaRefusesError
		switch {
		case errors.As(err, &refused):
			return nil, s.errorf(stores.ErrCorrupt, "", "Java cannot load this keystore either: rebuild it with keytool, or restore it from a backup", "%s: %v", kf.format, err)
		case errors.Is(err, errJKSDigest) || errors.Is(err, errPFXPassword):
			return nil, s.badPassword(src, err)
		case errors.As(err, &unsup):
			return nil, s.errorf(stores.ErrUnsupported, "", "convert the keystore with keytool -importkeystore -deststoretype PKCS12", "%s: %v", kf.format, err)
		}
		return nil, s.errorf(stores.ErrCorrupt, "", damaged, "%s: %v", kf.format, err)
	}
	return kf, nil
}

// emptyFile is the keyfile of a keystore that does not exist yet or is an
// empty file: Apply writes it in the spec's format.
func (s *Store) emptyFile() *keyfile {
	kf := &keyfile{format: s.preferred}
	if s.preferred == JKS {
		kf.jks = newJKS()
	}
	return kf
}

func newJKS() keystore.KeyStore {
	return keystore.New(keystore.WithCaseExactAliases(), keystore.WithOrderedAliases())
}

func (s *Store) readJKS(kf *keyfile, data []byte, pw string) error {
	ks, entries, err := readJKS(data, pw)
	if err != nil {
		return err
	}
	kf.jks = ks
	for _, e := range entries {
		it := &item{alias: e.alias, der: e.cert, key: e.key}
		name := fmt.Sprintf("entry %q", it.javaAlias())
		if e.cert != nil {
			if !javaCertType(e.certType) {
				// Java looks the type up and fails to load the whole file.
				return javaRefusesError{fmt.Sprintf("%s: certificate type %q, which Java does not know (it knows X.509), so Java cannot load this keystore", name, e.certType)}
			}
			der, pemText := javaCertBytes(e.cert)
			if it.cert, err = stores.ParseCertificate(der); err != nil {
				return javaRefusesError{fmt.Sprintf("%s: not a certificate (%v), so Java cannot load this keystore", name, err)}
			}
			if pemText {
				kf.notes = append(kf.notes, fmt.Sprintf("%s: %s holds its certificate as PEM text, which Java reads as well", s.path, name))
			}
		}
		kf.items = append(kf.items, it)
	}
	kf.viewJKS(s.path)
	return nil
}

// javaCertBytes returns the DER of a JKS entry's certificate. Java's
// certificate factory reads DER, or PEM text (pemText), whose first block it
// decodes.
func javaCertBytes(b []byte) (der []byte, pemText bool) {
	if len(b) > 0 && b[0] == 0x30 {
		return b, false
	}
	if blk, _ := pem.Decode(b); blk != nil {
		return blk.Bytes, true
	}
	return b, false
}

// viewJKS finds the entries Java sees in a JKS file, as JDK 17 does: an
// entry is stored under its alias as written, a later entry with the same
// alias replacing an earlier one; and every alias is looked up lower-cased.
// So keytool lists each alias with the entry stored under its lower-case
// form: an alias with capitals shows the certificate of the entry under the
// lower-case alias, if there is one, and its own entry is never seen.
func (kf *keyfile) viewJKS(path string) {
	byAlias := map[string]*item{}
	var aliases []string
	for _, it := range kf.items {
		if prev := byAlias[it.alias]; prev != nil {
			kf.notes = append(kf.notes, fmt.Sprintf("%s: entry %q appears twice; Java sees only the later one", path, it.alias))
			kf.blockers = append(kf.blockers, fmt.Sprintf("entry %q appears twice, and rewriting would drop the first", it.alias))
		} else {
			aliases = append(aliases, it.alias)
		}
		byAlias[it.alias] = it
	}
	seen := map[*item]bool{}
	for _, a := range aliases {
		it := byAlias[strings.ToLower(a)]
		if it == nil {
			kf.notes = append(kf.notes, fmt.Sprintf("%s: entry %q is invisible to Java, which looks aliases up lower-cased and finds no entry %q (keytool -list fails on this keystore); rootsync does not list it", path, a, strings.ToLower(a)))
			continue
		}
		if it.alias != a {
			kf.notes = append(kf.notes, fmt.Sprintf("%s: alias %q shows the entry %q to Java, which looks aliases up lower-cased", path, a, it.alias))
		}
		kf.view = append(kf.view, view{alias: a, it: it})
		seen[it] = true
	}
	for _, it := range kf.items {
		it.hidden = !seen[it]
	}
}

// viewPKCS12 finds the entries Java sees in a PKCS#12 file, as JDK 17 does:
// aliases are lower-cased as they are read, and of entries whose aliases are
// equal ignoring case the last one read wins.
func (kf *keyfile) viewPKCS12(path string) {
	last := map[string]*item{}
	var aliases []string
	for _, it := range kf.items {
		a := strings.ToLower(it.alias)
		if prev := last[a]; prev != nil {
			prev.hidden = true
			kf.notes = append(kf.notes, fmt.Sprintf("%s: entry %q is hidden by a later entry %q (Java lower-cases aliases and sees only the later one)", path, prev.alias, it.alias))
		} else {
			aliases = append(aliases, a)
		}
		last[a] = it
	}
	for _, a := range aliases {
		kf.view = append(kf.view, view{alias: a, it: last[a]})
	}
}

func (s *Store) readPKCS12(kf *keyfile, data []byte, pw string) error {
	f, err := readPFX(data, pw)
	if err != nil {
		return err
	}
	kf.noMAC = f.noMAC
	kf.legacyMAC = f.macAlg.Equal(oidSHA1)
	// As Java's PKCS12KeyStore: a bag without a friendly name gets a
	// number; a key's certificate is the untrusted certificate bag with the
	// same local key id (or alias).
	unfriendly := 0
	aliasOf := func(b *pfxBag) string {
		if b.hasAlias {
			return b.alias
		}
		unfriendly++
		return fmt.Sprint(unfriendly)
	}
	var keys []*item
	keyIDs := map[*item][]byte{}
	var chainCerts []*pfxBag
	for i := range f.bags {
		b := &f.bags[i]
		name := fmt.Sprintf("bag %d", i+1)
		if b.hasAlias {
			name = fmt.Sprintf("%q", strings.ToLower(b.alias))
		}
		switch {
		case b.kind.Equal(oidKeyBag), b.kind.Equal(oidShroudedKeyBag):
			it := &item{alias: aliasOf(b), key: true}
			keys = append(keys, it)
			keyIDs[it] = b.keyID
			kf.items = append(kf.items, it)
			continue
		case !b.kind.Equal(oidCertBag):
			kf.blockers = append(kf.blockers, fmt.Sprintf("%s is a safe bag of type %s", name, b.kind))
			kf.notes = append(kf.notes, fmt.Sprintf("%s: %s is a safe bag of type %s, which rootsync does not list", s.path, name, b.kind))
			continue
		case !b.trusted:
			// A key's certificate chain, or a certificate Java ignores.
			chainCerts = append(chainCerts, b)
			kf.blockers = append(kf.blockers, fmt.Sprintf("%s is a certificate without Java's trusted-key-usage attribute", name))
			continue
		case !b.hasAlias:
			kf.blockers = append(kf.blockers, fmt.Sprintf("%s has no alias (friendly name)", name))
		case !b.anyUsage():
			kf.blockers = append(kf.blockers, fmt.Sprintf("%s is trusted only for the key usages %v", name, b.usages))
		case len(b.otherAttrs) > 0:
			kf.blockers = append(kf.blockers, fmt.Sprintf("%s carries the attributes %s", name, strings.Join(b.otherAttrs, ", ")))
		}
		it := &item{alias: aliasOf(b), der: b.der}
		if it.cert, err = stores.ParseCertificate(b.der); err != nil {
			return javaRefusesError{fmt.Sprintf("entry %q: not a certificate (%v), so Java cannot load this keystore", it.javaAlias(), err)}
		}
		kf.items = append(kf.items, it)
	}
	for _, k := range keys {
		var match *pfxBag
		for _, c := range chainCerts {
			if id := keyIDs[k]; id != nil && bytes.Equal(id, c.keyID) {
				match = c
				break
			}
		}
		for _, c := range chainCerts {
			if match == nil && c.hasAlias && strings.EqualFold(c.alias, k.alias) {
				match = c
			}
		}
		if match == nil && len(keys) == 1 && len(chainCerts) > 0 {
			match = chainCerts[0]
		}
		if match != nil {
			k.der = match.der
			k.cert, _ = stores.ParseCertificate(match.der)
		}
	}
	kf.viewPKCS12(s.path)
	if len(keys) > 0 {
		kf.blockers = append([]string{fmt.Sprintf("it holds %d private key(s)", len(keys))}, kf.blockers...)
		kf.notes = append(kf.notes, fmt.Sprintf("%s holds %d private key(s); rootsync reads its trusted certificates but will not rewrite it", s.path, len(keys)))
	}
	return nil
}

// javaRefusesError: the keystore holds something that makes Java refuse to
// load it at all.
type javaRefusesError struct{ what string }

func (e javaRefusesError) Error() string { return e.what }

func owned(alias string) bool { return strings.HasPrefix(strings.ToLower(alias), OwnedPrefix) }

// Load reads the keystore's trusted certificate entries. Private-key entries
// are not listed (Notes says they are there).
func (s *Store) Load(ctx context.Context) (*stores.Set, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	kf, err := s.read()
	if err != nil {
		return nil, err
	}
	s.remember(kf)
	return kf.set(), nil
}

// remember keeps what the last Load or Apply read, for Notes.
func (s *Store) remember(kf *keyfile) {
	s.mu.Lock()
	s.notes = append([]string(nil), kf.notes...)
	s.mu.Unlock()
}

// keyNote marks a private-key entry in listings.
const keyNote = "a private-key entry (PrivateKeyEntry): Java trusts its certificate too, but rootsync never copies, removes or changes it"

// set is what Java sees: every trusted certificate entry, and every
// private-key entry's certificate marked PrivateKey (listed, never planned),
// under the alias keytool shows.
func (kf *keyfile) set() *stores.Set {
	set := stores.NewSet()
	for _, v := range kf.view {
		it := v.it
		if it.cert == nil {
			continue // a key without a certificate; Notes mention the keys
		}
		if prev := set.Get(it.cert.Fingerprint); prev != nil {
			prev.Notes = append(prev.Notes, fmt.Sprintf("also under alias %q", v.alias))
			if it.key && !prev.PrivateKey {
				prev.Notes = append(prev.Notes, keyNote)
			}
			prev.PrivateKey = prev.PrivateKey || it.key
			prev.Owned = prev.Owned || (owned(v.alias) && !it.key)
			continue
		}
		e := &stores.Entry{Cert: it.cert, Trust: stores.TrustAll(), Owned: owned(v.alias) && !it.key, Label: v.alias, PrivateKey: it.key}
		if it.key {
			e.Notes = []string{keyNote}
		}
		set.Add(e)
	}
	return set
}

// Apply makes the changes and rewrites the file in its format, or does
// nothing at all. Added entries get an alias "rootsync-NAME", unique ignoring
// case. A file that holds something rootsync cannot write back unchanged (a
// PKCS#12 private key, for one) is refused with stores.ErrUnsupported.
func (s *Store) Apply(ctx context.Context, changes []stores.Change) error {
	if len(changes) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	kf, err := s.read()
	if errors.Is(err, stores.ErrNotExist) {
		kf, err = s.emptyFile(), nil
	}
	if err != nil {
		return err
	}
	s.remember(kf)
	changed := false
	inUse := map[string]bool{}
	for _, it := range kf.items {
		inUse[strings.ToLower(it.alias)] = true
	}
	for _, ch := range changes {
		if ch.Entry == nil || ch.Entry.Cert == nil {
			return fmt.Errorf("%s: %s change without a certificate", s.path, ch.Action)
		}
		c := ch.Entry.Cert
		switch ch.Action {
		case stores.Add:
			if !ch.Entry.Trust.Any(stores.Trusted) {
				return s.errorf(stores.ErrUnsupported, c.Subject, "a Java truststore can only hold trusted certificates", "cannot record %s trust", ch.Entry.Trust)
			}
			if kf.has(c.Fingerprint) {
				continue
			}
			alias := newAlias(c, inUse)
			inUse[alias] = true
			kf.items = append(kf.items, &item{alias: alias, der: c.DER, cert: c})
			changed = true
		case stores.Remove:
			keep := kf.items[:0]
			for _, it := range kf.items {
				drop := it.listed() && it.cert.Fingerprint == c.Fingerprint && (!ch.Entry.Owned || owned(it.alias))
				if drop {
					changed = true
					delete(inUse, strings.ToLower(it.alias))
				} else {
					keep = append(keep, it)
				}
			}
			kf.items = keep
		case stores.SetTrust:
			if !ch.Entry.Trust.Any(stores.Trusted) {
				return s.errorf(stores.ErrUnsupported, c.Subject, "remove the entry instead: a Java truststore cannot record distrust", "cannot record %s trust", ch.Entry.Trust)
			}
		default:
			return fmt.Errorf("%s: unknown change %s", s.path, ch.Action)
		}
	}
	if !changed {
		return nil
	}
	if len(kf.blockers) > 0 {
		return s.errorf(stores.ErrUnsupported, "", "manage this keystore with keytool, or keep the trusted certificates in a separate truststore", "rootsync will not rewrite it, which would lose content: %s", strings.Join(kf.blockers, "; "))
	}
	data, err := s.encode(kf)
	if err != nil {
		return s.errorf(nil, "", "", "encode %s: %v", kf.format, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := atomicfile.Write(s.path, data, 0o644); err != nil {
		return &stores.Error{Path: s.path, Err: err, Hint: "check that the folder is writable and has free space; the keystore was not changed"}
	}
	return nil
}

func (kf *keyfile) has(f stores.Fingerprint) bool {
	for _, it := range kf.items {
		if it.listed() && it.cert.Fingerprint == f {
			return true
		}
	}
	return false
}

func (s *Store) encode(kf *keyfile) ([]byte, error) {
	pw, _, err := s.password()
	if err != nil {
		return nil, err
	}
	if kf.format == JKS {
		// Start from what was read, so private-key entries stay the
		// encrypted bytes they were and foreign entries keep their dates.
		live := map[string]bool{}
		for _, it := range kf.items {
			live[it.alias] = true
			if it.key {
				continue
			}
			if old, err := kf.jks.GetTrustedCertificateEntry(it.alias); err == nil && bytes.Equal(old.Certificate.Content, it.der) {
				continue
			}
			e := keystore.TrustedCertificateEntry{
				CreationTime: s.Now().Truncate(time.Millisecond),
				Certificate:  keystore.Certificate{Type: "X.509", Content: it.der},
			}
			if err := kf.jks.SetTrustedCertificateEntry(it.alias, e); err != nil {
				return nil, fmt.Errorf("entry %q: %w", it.alias, err)
			}
		}
		for _, a := range kf.jks.Aliases() {
			if !live[a] {
				kf.jks.DeleteEntry(a)
			}
		}
		var b bytes.Buffer
		if err := kf.jks.Store(&b, []byte(pw)); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	entries := make([]pkcs12.TrustStoreEntry, 0, len(kf.items))
	for _, it := range kf.items {
		// go-pkcs12 writes Raw only, so certificates Go's parser refuses
		// are copied byte for byte.
		entries = append(entries, pkcs12.TrustStoreEntry{Cert: &x509.Certificate{Raw: it.der}, FriendlyName: it.alias})
	}
	switch {
	case kf.noMAC || pw == "":
		return pkcs12.Passwordless.EncodeTrustStoreEntries(entries, "")
	case kf.legacyMAC:
		return pkcs12.LegacyDES.EncodeTrustStoreEntries(entries, pw)
	}
	return pkcs12.Modern2023.EncodeTrustStoreEntries(entries, pw)
}

// newAlias makes rootsync's alias for c: "rootsync-" and the lower-case
// common name with every run of other characters made a dash, cut at a dash
// to at most 48 characters; when that is taken (ignoring case, as Java does), the first 8
// hex digits of the fingerprint are added, then all of them.
func newAlias(c *stores.Certificate, inUse map[string]bool) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(c.CommonName()) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	slug := b.String()
	if len(slug) > 48 {
		slug = slug[:48]
		if i := strings.LastIndexByte(slug, '-'); i > 0 {
			slug = slug[:i]
		}
	}
	if slug == "" {
		slug = "cert"
	}
	for _, a := range []string{
		OwnedPrefix + slug,
		OwnedPrefix + slug + "-" + c.Fingerprint.String()[:8],
		OwnedPrefix + slug + "-" + c.Fingerprint.String(),
	} {
		if !inUse[a] {
			return a
		}
	}
	for i := 2; ; i++ {
		a := fmt.Sprintf("%s%s-%s-%d", OwnedPrefix, slug, c.Fingerprint.String(), i)
		if !inUse[a] {
			return a
		}
	}
}
