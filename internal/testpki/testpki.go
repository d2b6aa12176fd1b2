// Package testpki makes deterministic certificates for rootsync's tests and
// fixture generator: keys come from fixed seeds (ECDSA P-256 scalar = SHA-256 of
// the seed) and signatures are deterministic (RFC 6979), so the same calls give
// the same bytes every time. Validity runs from 2024 to 2064 unless a test asks
// otherwise. It is never used by the rootsync binary.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"time"

	"github.com/rootsync/rootsync/stores"
)

// Default validity, far from expiry.
var (
	NotBefore = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	NotAfter  = time.Date(2064, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Cert is a certificate with its key.
type Cert struct {
	Cert *x509.Certificate
	DER  []byte
	Key  *ecdsa.PrivateKey
}

// Option adjusts the template before signing.
type Option func(*x509.Certificate)

// Validity sets NotBefore and NotAfter.
func Validity(nb, na time.Time) Option {
	return func(t *x509.Certificate) { t.NotBefore, t.NotAfter = nb, na }
}

// Subject replaces the subject name.
func Subject(n pkix.Name) Option { return func(t *x509.Certificate) { t.Subject = n } }

// RawSubject sets the subject's DER exactly (for awkward names).
func RawSubject(der []byte) Option { return func(t *x509.Certificate) { t.RawSubject = der } }

// ExtKeyUsage replaces the extended key usages.
func ExtKeyUsage(u ...x509.ExtKeyUsage) Option {
	return func(t *x509.Certificate) { t.ExtKeyUsage = u }
}

// Serial sets the serial number.
func Serial(n int64) Option { return func(t *x509.Certificate) { t.SerialNumber = big.NewInt(n) } }

// NotCA makes a certificate that is not a CA (for a "root" that is not a CA).
func NotCA() Option {
	return func(t *x509.Certificate) {
		t.IsCA, t.BasicConstraintsValid = false, true
		t.KeyUsage = x509.KeyUsageDigitalSignature
	}
}

// Extension adds an extension with exactly this DER value. For an extension
// crypto/x509 writes itself (key usage, basic constraints) it takes that
// one's place, so a test can make it malformed; read such a certificate with
// RootDER or LeafDER, since crypto/x509 refuses to parse it.
func Extension(oid asn1.ObjectIdentifier, value []byte) Option {
	return func(t *x509.Certificate) {
		t.ExtraExtensions = append(t.ExtraExtensions, pkix.Extension{Id: oid, Value: value})
	}
}

// Object identifiers of the extensions tests make malformed.
var (
	OIDKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	OIDBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
)

// MalformedKeyUsage replaces the key usage extension with a BIT STRING that
// claims 8 unused bits (at most 7 are allowed): DER no parser should accept.
func MalformedKeyUsage() Option { return Extension(OIDKeyUsage, []byte{0x03, 0x02, 0x08, 0x80}) }

// MalformedBasicConstraints replaces the basic constraints extension with a
// SEQUENCE whose cA BOOLEAN is two bytes long.
func MalformedBasicConstraints() Option {
	return Extension(OIDBasicConstraints, []byte{0x30, 0x04, 0x01, 0x02, 0xff, 0xff})
}

// Key derives the P-256 key for seed.
func Key(seed string) *ecdsa.PrivateKey {
	d := sha256.Sum256([]byte("rootsync testpki " + seed))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		panic(err)
	}
	return k
}

// Root makes a self-signed CA named cn.
func Root(cn string, opts ...Option) *Cert {
	tmpl := caTemplate(cn)
	return sign(tmpl, nil, Key(cn), opts)
}

// Intermediate makes a CA named cn issued by c.
func (c *Cert) Intermediate(cn string, opts ...Option) *Cert {
	return sign(caTemplate(cn), c, Key(cn), opts)
}

// Leaf makes an end-entity certificate for cn issued by c, valid for TLS server
// and client authentication, with DNS names cn and localhost and IP 127.0.0.1.
func (c *Cert) Leaf(cn string, opts ...Option) *Cert {
	return sign(leafTemplate(cn), c, Key(cn), opts)
}

// LeafDER makes an end-entity certificate like Leaf but returns only its DER,
// without reading it back: for extensions crypto/x509 refuses to parse (see
// Extension).
func (c *Cert) LeafDER(cn string, opts ...Option) []byte {
	tmpl := leafTemplate(cn)
	for _, o := range opts {
		o(tmpl)
	}
	return create(tmpl, c, Key(cn))
}

func leafTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          serialFor(cn),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"rootsync tests"}},
		NotBefore:             NotBefore,
		NotAfter:              NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{cn, "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
}

func caTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          serialFor(cn),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"rootsync tests"}},
		NotBefore:             NotBefore,
		NotAfter:              NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func serialFor(cn string) *big.Int {
	d := sha256.Sum256([]byte("serial " + cn))
	return new(big.Int).SetBytes(d[:16])
}

// deterministic signs with a nil random source: RFC 6979 nonces.
type deterministic struct{ *ecdsa.PrivateKey }

func (d deterministic) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return d.PrivateKey.Sign(nil, digest, opts)
}

func sign(tmpl *x509.Certificate, parent *Cert, key *ecdsa.PrivateKey, opts []Option) *Cert {
	for _, o := range opts {
		o(tmpl)
	}
	der := create(tmpl, parent, key)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return &Cert{Cert: c, DER: der, Key: key}
}

// RootDER makes a self-signed CA like Root but returns only its DER, without
// reading it back: for subjects (RawSubject) that crypto/x509 refuses to parse,
// such as UniversalString or BIT STRING values.
func RootDER(cn string, opts ...Option) []byte {
	tmpl := caTemplate(cn)
	for _, o := range opts {
		o(tmpl)
	}
	return create(tmpl, nil, Key(cn))
}

func create(tmpl *x509.Certificate, parent *Cert, key *ecdsa.PrivateKey) []byte {
	p, signer := tmpl, key
	if parent != nil {
		p, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(nil, tmpl, p, &key.PublicKey, deterministic{signer})
	if err != nil {
		panic(err)
	}
	return der
}

// PEM is the certificate as a CERTIFICATE block.
func (c *Cert) PEM() []byte { return stores.EncodeCertificatePEM(c.DER) }

// KeyPEM is the private key as a PKCS#8 PRIVATE KEY block.
func (c *Cert) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
