package system

import (
	"bytes"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/rootsync/rootsync/stores"
)

// block is one certificate read from a PEM file, with the trust its
// TRUSTED CERTIFICATE auxiliary data states (hasAux false for a plain
// CERTIFICATE block).
type block struct {
	cert   *stores.Certificate
	hasAux bool
	aux    x509Aux
}

// readPEM reads every CERTIFICATE and TRUSTED CERTIFICATE block of data.
// Text between blocks (comments, openssl x509 -text output) is allowed; other
// PEM types (keys, CRLs) are skipped. It fails with ErrCorrupt when a
// certificate block does not hold a certificate, when a block is cut off, or
// when data is not empty but holds no PEM block at all.
func readPEM(data []byte) ([]block, error) {
	var out []block
	rest := data
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		n++
		switch b.Type {
		case "CERTIFICATE", "X509 CERTIFICATE":
			c, err := stores.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("block %d: %w: %w", n, stores.ErrCorrupt, err)
			}
			out = append(out, block{cert: c})
		case "TRUSTED CERTIFICATE":
			var raw asn1.RawValue
			auxDER, err := asn1.Unmarshal(b.Bytes, &raw)
			if err != nil {
				return nil, fmt.Errorf("block %d: %w: %w", n, stores.ErrCorrupt, err)
			}
			c, err := stores.ParseCertificate(raw.FullBytes)
			if err != nil {
				return nil, fmt.Errorf("block %d: %w: %w", n, stores.ErrCorrupt, err)
			}
			aux, err := parseAux(auxDER)
			if err != nil {
				return nil, fmt.Errorf("block %d (%s): %w: trust data: %w", n, c.Subject, stores.ErrCorrupt, err)
			}
			out = append(out, block{cert: c, hasAux: true, aux: aux})
		}
	}
	if begins := countBegins(data); begins > n {
		return nil, fmt.Errorf("%w: %d of %d PEM blocks are cut off or malformed", stores.ErrCorrupt, begins-n, begins)
	}
	if n == 0 && len(bytes.TrimSpace(data)) > 0 {
		return nil, fmt.Errorf("%w: no PEM block in %d bytes", stores.ErrCorrupt, len(data))
	}
	return out, nil
}

// countBegins counts the lines that start a PEM block.
func countBegins(data []byte) int {
	n := 0
	for _, line := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("-----BEGIN ")) {
			n++
		}
	}
	return n
}

// x509Aux is OpenSSL's X509_AUX: what follows the certificate DER in a
// TRUSTED CERTIFICATE block.
//
//	SEQUENCE { trust SEQUENCE OF OID OPTIONAL, reject [0] IMPLICIT SEQUENCE OF OID OPTIONAL,
//	           alias UTF8String OPTIONAL, keyid OCTET STRING OPTIONAL,
//	           other [1] IMPLICIT SEQUENCE OF AlgorithmIdentifier OPTIONAL }
type x509Aux struct {
	hasTrust bool // a trust list is present (possibly empty: trusted for nothing)
	trust    []asn1.ObjectIdentifier
	reject   []asn1.ObjectIdentifier
	alias    string
}

func parseAux(der []byte) (x509Aux, error) {
	var a x509Aux
	if len(der) == 0 {
		return a, nil
	}
	var seq asn1.RawValue
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return a, err
	}
	if len(rest) > 0 {
		return a, fmt.Errorf("%d bytes after the trust data", len(rest))
	}
	if seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return a, errors.New("trust data is not a SEQUENCE")
	}
	body := seq.Bytes
	for len(body) > 0 {
		var f asn1.RawValue
		body, err = asn1.Unmarshal(body, &f)
		if err != nil {
			return a, err
		}
		switch {
		case f.Class == asn1.ClassUniversal && f.Tag == asn1.TagSequence:
			a.hasTrust = true
			if a.trust, err = parseOIDs(f.Bytes); err != nil {
				return a, fmt.Errorf("trust list: %w", err)
			}
		case f.Class == asn1.ClassContextSpecific && f.Tag == 0:
			if a.reject, err = parseOIDs(f.Bytes); err != nil {
				return a, fmt.Errorf("reject list: %w", err)
			}
		case f.Class == asn1.ClassUniversal && f.Tag == asn1.TagUTF8String:
			a.alias = string(f.Bytes)
		}
		// keyid and other algorithms say nothing about trust.
	}
	return a, nil
}

func parseOIDs(b []byte) ([]asn1.ObjectIdentifier, error) {
	var out []asn1.ObjectIdentifier
	for len(b) > 0 {
		var oid asn1.ObjectIdentifier
		var err error
		if b, err = asn1.Unmarshal(b, &oid); err != nil {
			return nil, err
		}
		out = append(out, oid)
	}
	return out, nil
}

var (
	oidAnyEKU = asn1.ObjectIdentifier{2, 5, 29, 37, 0}
	// purposeOIDs are the extended key usage OIDs of rootsync's purposes.
	purposeOIDs = map[stores.Purpose]asn1.ObjectIdentifier{
		stores.ServerAuth:  {1, 3, 6, 1, 5, 5, 7, 3, 1},
		stores.ClientAuth:  {1, 3, 6, 1, 5, 5, 7, 3, 2},
		stores.CodeSigning: {1, 3, 6, 1, 5, 5, 7, 3, 3},
		stores.Email:       {1, 3, 6, 1, 5, 5, 7, 3, 4},
	}
)

func hasOID(list []asn1.ObjectIdentifier, oid asn1.ObjectIdentifier) bool {
	for _, o := range list {
		if o.Equal(oid) || o.Equal(oidAnyEKU) {
			return true
		}
	}
	return false
}

// trustOf is what OpenSSL concludes from a TRUSTED CERTIFICATE block: a
// matching reject OID (or anyExtendedKeyUsage) distrusts; else a present trust
// list trusts only what it lists; with no trust list a self-signed certificate
// is trusted.
func trustOf(b block) stores.Trust {
	var t stores.Trust
	for _, p := range stores.Purposes {
		oid := purposeOIDs[p]
		switch {
		case hasOID(b.aux.reject, oid):
			t[p] = stores.Distrusted
		case b.aux.hasTrust:
			if hasOID(b.aux.trust, oid) {
				t[p] = stores.Trusted
			}
		case b.cert.SelfIssued:
			t[p] = stores.Trusted
		}
	}
	return t
}
