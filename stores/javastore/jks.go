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

// checkJKS walks the JKS structure and checks that every length field fits
// in the file, before keystore-go (which allocates what a length says) reads
// it. It returns a message locating the first problem.
func checkJKS(data []byte) error {
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
		return err
	}
	version, err := u32("version")
	if err != nil {
		return err
	}
	if version != 1 && version != 2 {
		return fmt.Errorf("JKS version %d, want 1 or 2", version)
	}
	cert := func(entry uint64) error {
		if version == 2 {
			n, err := u16("certificate type")
			if err != nil {
				return err
			}
			if err := skip(n, "certificate type"); err != nil {
				return err
			}
		}
		n, err := u32("certificate length")
		if err != nil {
			return err
		}
		return skip(n, "certificate")
	}
	count, err := u32("entry count")
	if err != nil {
		return err
	}
	for i := uint64(1); i <= count; i++ {
		tag, err := u32("entry tag")
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		n, err := u16("alias")
		if err == nil {
			err = skip(n+8, "alias and date")
		}
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		switch tag {
		case 1: // private key
			n, err := u32("key length")
			if err == nil {
				err = skip(n, "encrypted key")
			}
			var chain uint64
			if err == nil {
				chain, err = u32("chain length")
			}
			for j := uint64(0); err == nil && j < chain; j++ {
				err = cert(i)
			}
			if err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
		case 2: // trusted certificate
			if err := cert(i); err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
		default:
			return fmt.Errorf("entry %d: unknown entry tag %d", i, tag)
		}
	}
	if err := need(20, "integrity digest"); err != nil {
		return err
	}
	if len(data)-p != 20 {
		return fmt.Errorf("%d bytes of trailing data", len(data)-p-20)
	}
	return nil
}

// readJKS reads a JKS file with keystore-go, after checkJKS.
func readJKS(data []byte, password string) (keystore.KeyStore, error) {
	if err := checkJKS(data); err != nil {
		return keystore.KeyStore{}, err
	}
	ks := keystore.New(keystore.WithCaseExactAliases(), keystore.WithOrderedAliases())
	if err := ks.Load(bytes.NewReader(data), []byte(password)); err != nil {
		if err.Error() == "got invalid digest" {
			return ks, errJKSDigest
		}
		return ks, err
	}
	return ks, nil
}
