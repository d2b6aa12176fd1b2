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
	var entries []jksEntry
	p := 0
	need := func(n uint64, what string) error {
		if uint64(len(data)-p) < n {
			return fmt.Errorf("truncated at byte %d: %s needs %d bytes, %d left", p, what, n, len(data)-p)
		}
		return nil
	}
	u16 := func(what string) (uint64, error) {
		if err := need(2, what); err != nil {
			return 0, err
		}
		v := binary.BigEndian.Uint16(data[p:])
		p += 2
		return uint64(v), nil
	}
	u32 := func(what string) (uint64, error) {
		if err := need(4, what); err != nil {
			return 0, err
		}
		v := binary.BigEndian.Uint32(data[p:])
		p += 4
		return uint64(v), nil
	}
	skip := func(n uint64, what string) error {
		if err := need(n, what); err != nil {
			return err
		}
		p += int(n)
		return nil
	}
	if _, err := u32("magic"); err != nil {
		return nil, err
	}
	version, err := u32("version")
	if err != nil {
		return nil, err
	}
	if version != 1 && version != 2 {
		return nil, fmt.Errorf("JKS version %d, want 1 or 2", version)
	}
	// cert reads one certificate: its type (version 2 only) and encoding.
	cert := func() (string, []byte, error) {
		typ := "X.509"
		if version == 2 {
			n, err := u16("certificate type")
			if err != nil {
				return "", nil, err
			}
			start := p
			if err := skip(n, "certificate type"); err != nil {
				return "", nil, err
			}
			typ = string(data[start:p])
		}
		n, err := u32("certificate length")
		if err != nil {
			return "", nil, err
		}
		start := p
		if err := skip(n, "certificate"); err != nil {
			return "", nil, err
		}
		return typ, data[start:p:p], nil
	}
	count, err := u32("entry count")
	if err != nil {
		return nil, err
	}
	for i := uint64(1); i <= count; i++ {
		tag, err := u32("entry tag")
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		n, err := u16("alias")
		start := p
		if err == nil {
			err = skip(n+8, "alias and date")
		}
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		e := jksEntry{alias: string(data[start : start+int(n)])}
		switch tag {
		case 1: // private key
			e.key = true
			n, err := u32("key length")
			if err == nil {
				err = skip(n, "encrypted key")
			}
			var chain uint64
			if err == nil {
				chain, err = u32("chain length")
			}
			for j := uint64(0); err == nil && j < chain; j++ {
				typ, der, cerr := cert()
				if err = cerr; err == nil && j == 0 {
					e.certType, e.cert = typ, der
				}
			}
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", i, err)
			}
		case 2: // trusted certificate
			if e.certType, e.cert, err = cert(); err != nil {
				return nil, fmt.Errorf("entry %d: %w", i, err)
			}
		default:
			return nil, fmt.Errorf("entry %d: unknown entry tag %d", i, tag)
		}
		entries = append(entries, e)
	}
	if err := need(20, "integrity digest"); err != nil {
		return nil, err
	}
	if len(data)-p != 20 {
		return nil, fmt.Errorf("%d bytes of trailing data", len(data)-p-20)
	}
	return entries, nil
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
