package javastore

import "bytes"

// Format is the on-disk encoding of a Java keystore.
type Format int

const (
	// Unknown: not a keystore rootsync recognises.
	Unknown Format = iota
	// JKS: Sun's Java KeyStore (magic FE ED FE ED), Debian's cacerts.
	JKS
	// PKCS12: a PKCS#12 file (a DER SEQUENCE), Java's default since JDK 9.
	PKCS12
	// JCEKS: Sun's JCE keystore (magic CE CE CE CE); recognised, never read.
	JCEKS
)

func (f Format) String() string {
	switch f {
	case JKS:
		return "JKS"
	case PKCS12:
		return "PKCS#12"
	case JCEKS:
		return "JCEKS"
	}
	return "unknown"
}

var (
	magicJKS   = []byte{0xfe, 0xed, 0xfe, 0xed}
	magicJCEKS = []byte{0xce, 0xce, 0xce, 0xce}
)

// Detect tells a keystore's format from its first bytes: the JKS and JCEKS
// magic numbers, or the SEQUENCE tag with which every PKCS#12 file starts.
// It does not check that the rest of the file is well-formed.
func Detect(head []byte) Format {
	switch {
	case bytes.HasPrefix(head, magicJKS):
		return JKS
	case bytes.HasPrefix(head, magicJCEKS):
		return JCEKS
	case len(head) >= 2 && head[0] == 0x30:
		return PKCS12
	}
	return Unknown
}
