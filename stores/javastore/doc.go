// Package javastore reads and writes Java truststores, in either of the two
// formats Java uses: PKCS#12 and JKS. It is the code shared by the p12: and
// jks: store kinds (stores/p12, stores/jks), which differ only in the format
// they accept.
//
// The format is told from a file's first bytes (Detect) and must be the
// spec's: a JKS file named as p12: (or the reverse), or a file that is no
// keystore, is refused with stores.ErrWrongKind, so a typo in the kind never
// reads as an empty store. A missing file is stores.ErrNotExist; an empty
// file is an empty store (as keytool treats it). JCEKS files are recognised
// and refused: their secret-key entries are serialized Java objects, which
// cannot be skipped without Java.
//
// A keystore is read as JDK 17 reads it, so that Load lists exactly the
// trusted certificate entries keytool -list shows, with the aliases it shows:
// a JKS certificate type is any spelling Java's CertificateFactory accepts
// ("X.509", "X509", in any case) and a JKS certificate may be DER or PEM text;
// PKCS#12 aliases are lower-cased, the last of equal ones winning; a JKS alias
// is looked up lower-cased, so an alias with capitals shows the entry stored
// under its lower-case form, or nothing. A file Java cannot load (an unknown
// certificate type) is refused with stores.ErrCorrupt.
//
// Trusted certificate entries are what it lists and changes. A private-key
// entry's certificate is listed too, marked stores.Entry.PrivateKey, so that
// no plan copies, removes or changes it. The entries it adds have
// the alias "rootsync-" followed by the certificate's common name; aliases are
// unique ignoring case, as Java lower-cases them. Other entries are kept as
// they are: the same alias and certificate and, in JKS, the same creation date
// and certificate type. JKS private-key entries are kept as the bytes they
// were. A PKCS#12 file that holds a private key, or anything else it could not
// write back unchanged, is read but never rewritten (stores.ErrUnsupported).
//
// PKCS#12 files are written with go-pkcs12's Modern2023 encoder (PBES2 with
// AES-256 and an HMAC-SHA-256 MAC, which JDK 12 and later read; a file that
// had a SHA-1 MAC is rewritten with LegacyDES for older readers), or without
// encryption or MAC when the store has no password (as the JDK's own cacerts
// since JDK 18). Every certificate carries Java's trusted-key-usage attribute,
// without which Java ignores it. PBMAC1 (go-pkcs12's Modern2026) is never
// written: JDK 17 cannot read it.
//
// The password comes from the spec's password-env or password-file option,
// then from the caller's default; when none is given it is the well-known
// "changeit" (DefaultPassword), the password of Debian's and the JDK's
// cacerts. The package writes only the keystore file, through atomic
// replacement, and never logs.
package javastore
