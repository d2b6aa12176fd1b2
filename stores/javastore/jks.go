package javastore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
)

// errJKSDigest: the JKS integrity digest does not match, which means the
// password is wrong (or the file was altered).
var errJKSDigest = errors.New("the password does not match the file's integrity check")

// jksEntry is one entry of a JKS file, in file order, as walkJKS finds it.
type jksEntry struct {
	alias string // as stored; Java lower-cases it
	key   bool   // a private-key entry
	// certType is the certificate type the entry names ("X.509" when the
	// file's version 1 names none); for a key entry, that of the first
	// certificate of its chain.
	certType string
	// cert is the trusted certificate's encoding, or the first certificate of
	// a key entry's chain (nil for an empty chain).
	cert []byte
}

// walkJKS walks the JKS structure, checking that every length field fits in
// the file before keystore-go (which allocates what a length says) reads it.
// It returns the entries in file order, or a message locating the first
// problem.
func walkJKS(data []byte) ([]jksEntry, error) {
	r := &jksReader{data: data}
	if _, err := r.u32("magic"); err != nil {
		return nil, err
	}
	version, err := r.u32("version")
	if err != nil {
		return nil, err
	}
	if version != 1 && version != 2 {
		return nil, fmt.Errorf("JKS version %d, want 1 or 2", version)
	}
	r.version = version
	count, err := r.u32("entry count")
	if err != nil {
		return nil, err
	}
	var entries []jksEntry
	for i := uint64(1); i <= count; i++ {
		e, err := r.entry()
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		entries = append(entries, e)
	}
	if err := r.need(20, "integrity digest"); err != nil {
		return nil, err
	}
	if n := len(data) - r.p; n != 20 {
		return nil, fmt.Errorf("%d bytes of trailing data", n-20)
	}
	return entries, nil
}

// jksReader reads a JKS file's fields from position p on, refusing any
// length that runs past the end of the data.
type jksReader struct {
	data    []byte
	p       int
	version uint64 // the file's format version, 1 or 2
}

func (r *jksReader) need(n uint64, what string) error {
	if uint64(len(r.data)-r.p) < n {
		return fmt.Errorf("truncated at byte %d: %s needs %d bytes, %d left", r.p, what, n, len(r.data)-r.p)
	}
	return nil
}

func (r *jksReader) u16(what string) (uint64, error) {
	if err := r.need(2, what); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint16(r.data[r.p:])
	r.p += 2
	return uint64(v), nil
}

func (r *jksReader) u32(what string) (uint64, error) {
	if err := r.need(4, what); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint32(r.data[r.p:])
	r.p += 4
	return uint64(v), nil
}

// bytes returns the next n bytes.
func (r *jksReader) bytes(n uint64, what string) ([]byte, error) {
	if err := r.need(n, what); err != nil {
		return nil, err
	}
	start := r.p
	r.p += int(n)
	return r.data[start:r.p:r.p], nil
}

// entry reads one entry: its tag, alias and date, then a private key with
// its chain (tag 1) or a trusted certificate (tag 2).
func (r *jksReader) entry() (jksEntry, error) {
	var e jksEntry
	tag, err := r.u32("entry tag")
	if err != nil {
		return e, err
	}
	n, err := r.u16("alias")
	if err != nil {
		return e, err
	}
	aliasDate, err := r.bytes(n+8, "alias and date")
	if err != nil {
		return e, err
	}
	e.alias = string(aliasDate[:n])
	switch tag {
	case 1: // private key
		e.key = true
		n, err := r.u32("key length")
		if err == nil {
			_, err = r.bytes(n, "encrypted key")
		}
		var chain uint64
		if err == nil {
			chain, err = r.u32("chain length")
		}
		for j := uint64(0); err == nil && j < chain; j++ {
			typ, der, cerr := r.cert()
			if err = cerr; err == nil && j == 0 {
				e.certType, e.cert = typ, der
			}
		}
		return e, err
	case 2: // trusted certificate
		e.certType, e.cert, err = r.cert()
		return e, err
	}
	return e, fmt.Errorf("unknown entry tag %d", tag)
}

// cert reads one certificate: its type (version 2 only) and encoding.
func (r *jksReader) cert() (string, []byte, error) {
	typ := "X.509"
	if r.version == 2 {
		n, err := r.u16("certificate type")
		if err != nil {
			return "", nil, err
		}
		b, err := r.bytes(n, "certificate type")
		if err != nil {
			return "", nil, err
		}
		typ = string(b)
	}
	n, err := r.u32("certificate length")
	if err != nil {
		return "", nil, err
	}
	der, err := r.bytes(n, "certificate")
	if err != nil {
		return "", nil, err
	}
	return typ, der, nil
}

// javaCertType reports whether Java reads a certificate of type t: Java
// looks the type up with CertificateFactory.getInstance, which finds the
// JDK's only factory, "X.509" (alias "X509"), ignoring case.
func javaCertType(t string) bool {
	return asciiEqualFold(t, "X.509") || asciiEqualFold(t, "X509")
}

// asciiEqualFold is strings.EqualFold for ASCII only, as Java's
// toUpperCase(Locale.ENGLISH) compares the names above.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// readJKS reads a JKS file: walkJKS gives the entries in file order, and
// keystore-go checks the integrity digest and keeps the entries for writing
// back.
func readJKS(data []byte, password string) (keystore.KeyStore, []jksEntry, error) {
	entries, err := walkJKS(data)
	if err != nil {
		return keystore.KeyStore{}, nil, err
	}
	ks := newJKS()
	if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
		if err.Error() == "got invalid digest" {
			return ks, nil, errJKSDigest
		}
		return ks, nil, err
	}
	return ks, entries, nil
}
