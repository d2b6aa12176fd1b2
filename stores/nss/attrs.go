package nss

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// PKCS#11 object classes, attribute types and NSS trust values as the softoken
// stores them (see the package documentation for the encoding).
const (
	ckoCertificate = 0x01
	ckoPrivateKey  = 0x03
	ckoTrust       = 0x0b // PKCS#11 3.2 trust object (NSS 3.114 and later)
	ckoNSSTrust    = 0xce534353

	ckcX509 = 0

	attrClass       = 0x00
	attrToken       = 0x01
	attrPrivate     = 0x02
	attrLabel       = 0x03
	attrValue       = 0x11
	attrCertType    = 0x80
	attrIssuer      = 0x81
	attrSerial      = 0x82
	attrSubject     = 0x101
	attrID          = 0x102
	attrModifiable  = 0x170
	attrNameHashAlg = 0x8c

	attrTrustServer  = 0xce536358
	attrTrustClient  = 0xce536359
	attrTrustCode    = 0xce53635a
	attrTrustEmail   = 0xce53635b
	attrTrustStepUp  = 0xce536360
	attrCertSHA1Hash = 0xce5363b4
	attrCertMD5Hash  = 0xce5363b5

	attrP11TrustServer = 0x62c
	attrP11TrustClient = 0x62d
	attrP11TrustEmail  = 0x62e
	attrP11TrustCode   = 0x62f
	attrHashOfCert     = 0x635
)

// NSS trust values (CKT_NSS_*).
const (
	trustTrusted          = 0xce534351 // P: a trusted peer
	trustTrustedDelegator = 0xce534352 // C (T in the client-auth position): a trust anchor
	trustMustVerify       = 0xce534353 // no letter
	trustUnknown          = 0xce534355 // no letter
	trustNotTrusted       = 0xce53435a // p
	trustValidDelegator   = 0xce53435b // c
)

// PKCS#11 3.2 trust values (CKT_TRUST_*), mapped to the NSS ones.
var p11TrustValues = map[uint32]uint32{
	0: trustUnknown,
	1: trustTrusted,
	2: trustTrustedDelegator,
	3: trustNotTrusted,
	4: trustMustVerify,
}

// Purpose attributes of both kinds of trust object, in stores.Purposes order
// (server-auth, client-auth, email, code-signing).
var (
	classicPurposeAttrs = [4]uint32{attrTrustServer, attrTrustClient, attrTrustEmail, attrTrustCode}
	p11PurposeAttrs     = [4]uint32{attrP11TrustServer, attrP11TrustClient, attrP11TrustEmail, attrP11TrustCode}
)

// authenticated lists the attributes the softoken protects with a signature
// in key4.db.
var authenticated = map[uint32]bool{
	attrTrustServer: true, attrTrustClient: true, attrTrustEmail: true, attrTrustCode: true,
	attrTrustStepUp: true, attrCertSHA1Hash: true, attrCertMD5Hash: true,
	attrP11TrustServer: true, attrP11TrustClient: true, attrP11TrustEmail: true, attrP11TrustCode: true,
	attrHashOfCert: true, attrNameHashAlg: true,
}

// exemptFromCheck reports whether NSS reads value without checking its
// signature: an unknown trust value, a step-up flag that is off.
func exemptFromCheck(attr uint32, value []byte) bool {
	switch attr {
	case attrTrustServer, attrTrustClient, attrTrustEmail, attrTrustCode:
		v, ok := ulong(value)
		return ok && v == trustUnknown
	case attrP11TrustServer, attrP11TrustClient, attrP11TrustEmail, attrP11TrustCode:
		v, ok := ulong(value)
		return ok && v == 0
	case attrTrustStepUp:
		return len(value) == 1 && value[0] == 0
	}
	return false
}

// column is the nssPublic column holding attr.
func column(attr uint32) string { return fmt.Sprintf("a%x", attr) }

// emptyValue is how the softoken stores a present but empty attribute.
var emptyValue = []byte{0xa5, 0x00, 0x5a}

// decodeValue turns a stored column into an attribute value: nil for absent,
// an empty non-nil slice for present but empty.
func decodeValue(b []byte) []byte {
	if b == nil {
		return nil
	}
	if bytes.Equal(b, emptyValue) {
		return []byte{}
	}
	return b
}

// encodeValue is decodeValue's inverse.
func encodeValue(b []byte) []byte {
	if b != nil && len(b) == 0 {
		return emptyValue
	}
	return b
}

func ulongBytes(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func ulong(b []byte) (uint32, bool) {
	if len(b) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(b), true
}

func attrName(attr uint32) string {
	switch attr {
	case attrTrustServer:
		return "server-auth trust"
	case attrTrustClient:
		return "client-auth trust"
	case attrTrustEmail:
		return "email trust"
	case attrTrustCode:
		return "code-signing trust"
	case attrTrustStepUp:
		return "step-up flag"
	case attrCertSHA1Hash:
		return "certificate SHA-1 hash"
	case attrCertMD5Hash:
		return "certificate MD5 hash"
	case attrP11TrustServer, attrP11TrustClient, attrP11TrustEmail, attrP11TrustCode:
		return fmt.Sprintf("PKCS#11 trust attribute 0x%x", attr)
	case attrHashOfCert:
		return "certificate SHA-256 hash"
	case attrNameHashAlg:
		return "hash algorithm"
	}
	return fmt.Sprintf("attribute 0x%x", attr)
}
