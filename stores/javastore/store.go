package javastore

import (
	"bytes"
	"context"
	"crypto/x509"
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
	alias string
	der   []byte
	// cert is set for a trusted certificate entry rootsync lists.
	cert *stores.Certificate
	// key: a private-key entry (JKS), kept as it is.
	key bool
}

// keyfile is a keystore as read.
type keyfile struct {
	format Format
	exists bool
	items  []*item
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
		return "", "", s.errorf(stores.ErrBadPassword, "", "set the password in "+s.secret.String()+", or name another source with ?password-env=VAR or ?password-file=FILE", "%v", err)
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
		switch {
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
	ks, err := readJKS(data, pw)
	if err != nil {
		return err
	}
	kf.jks = ks
	for _, alias := range ks.Aliases() {
		if ks.IsPrivateKeyEntry(alias) {
			kf.items = append(kf.items, &item{alias: alias, key: true})
			kf.notes = append(kf.notes, fmt.Sprintf("%s: private-key entry %q is kept as it is", s.path, alias))
			continue
		}
		e, err := ks.GetTrustedCertificateEntry(alias)
		if err != nil {
			return fmt.Errorf("entry %q: %w", alias, err)
		}
		it := &item{alias: alias, der: e.Certificate.Content}
		if e.Certificate.Type != "X.509" {
			kf.notes = append(kf.notes, fmt.Sprintf("%s: entry %q holds a %s certificate, kept as it is", s.path, alias, e.Certificate.Type))
		} else if it.cert, err = stores.ParseCertificate(it.der); err != nil {
			kf.notes = append(kf.notes, fmt.Sprintf("%s: entry %q: %v; kept as it is", s.path, alias, err))
		}
		kf.items = append(kf.items, it)
	}
	return nil
}

func (s *Store) readPKCS12(kf *keyfile, data []byte, pw string) error {
	f, err := readPFX(data, pw)
	if err != nil {
		return err
	}
	kf.noMAC = f.noMAC
	kf.legacyMAC = f.macAlg.Equal(oidSHA1)
	keys := 0
	for i, b := range f.bags {
		name := fmt.Sprintf("bag %d", i+1)
		if b.hasAlias {
			name = fmt.Sprintf("%q", b.alias)
		}
		switch {
		case b.kind.Equal(oidKeyBag), b.kind.Equal(oidShroudedKeyBag):
			keys++
			continue
		case !b.kind.Equal(oidCertBag):
			kf.blockers = append(kf.blockers, fmt.Sprintf("%s is a safe bag of type %s", name, b.kind))
			continue
		case !b.trusted:
			// A key's certificate chain, or a certificate Java ignores.
			kf.blockers = append(kf.blockers, fmt.Sprintf("%s is a certificate without Java's trusted-key-usage attribute", name))
			continue
		case !b.hasAlias:
			kf.blockers = append(kf.blockers, fmt.Sprintf("%s has no alias (friendly name)", name))
		case !b.anyUsage():
			kf.blockers = append(kf.blockers, fmt.Sprintf("%s is trusted only for the key usages %v", name, b.usages))
		case len(b.otherAttrs) > 0:
			kf.blockers = append(kf.blockers, fmt.Sprintf("%s carries the attributes %s", name, strings.Join(b.otherAttrs, ", ")))
		}
		it := &item{alias: b.alias, der: b.der}
		if it.cert, err = stores.ParseCertificate(b.der); err != nil {
			kf.notes = append(kf.notes, fmt.Sprintf("%s: entry %s: %v; kept as it is", s.path, name, err))
		}
		kf.items = append(kf.items, it)
	}
	if keys > 0 {
		kf.blockers = append([]string{fmt.Sprintf("it holds %d private key(s)", keys)}, kf.blockers...)
		kf.notes = append(kf.notes, fmt.Sprintf("%s holds %d private key(s); rootsync reads its trusted certificates but will not rewrite it", s.path, keys))
	}
	return nil
}

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
	s.setNotes(kf.notes)
	return kf.set(), nil
}

func (s *Store) setNotes(n []string) {
	s.mu.Lock()
	s.notes = append([]string(nil), n...)
	s.mu.Unlock()
}

func (kf *keyfile) set() *stores.Set {
	set := stores.NewSet()
	for _, it := range kf.items {
		if it.cert == nil {
			continue
		}
		if prev := set.Get(it.cert.Fingerprint); prev != nil {
			prev.Notes = append(prev.Notes, fmt.Sprintf("also under alias %q", it.alias))
			prev.Owned = prev.Owned || owned(it.alias)
			continue
		}
		set.Add(&stores.Entry{Cert: it.cert, Trust: stores.TrustAll(), Owned: owned(it.alias), Label: it.alias})
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
	s.setNotes(kf.notes)
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
				drop := it.cert != nil && it.cert.Fingerprint == c.Fingerprint && (!ch.Entry.Owned || owned(it.alias))
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
		if it.cert != nil && it.cert.Fingerprint == f {
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
