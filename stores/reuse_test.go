package stores_test

import (
	"bytes"
	"crypto/x509"
	encpem "encoding/pem"
	"fmt"
	"runtime"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// TestHeldBlockDecodesWithoutAllocating: the block of a certificate already
// in use decodes into the reused buffer and gives that Certificate, without
// allocating anything.
func TestHeldBlockDecodesWithoutAllocating(t *testing.T) {
	root := testpki.Root("Reuse Held Root")
	held, err := stores.ParseCertificate(bytes.Clone(root.DER))
	if err != nil {
		t.Fatal(err)
	}
	raw := root.PEM()
	var scratch []byte
	b, err := stores.DecodeCertBlock(stores.LabelCertificate, raw, &scratch)
	if err != nil {
		t.Fatal(err)
	}
	if b.Cert != held {
		t.Fatal("the block of a certificate in use gave another Certificate")
	}
	allocs := testing.AllocsPerRun(100, func() {
		b, err := stores.DecodeCertBlock(stores.LabelCertificate, raw, &scratch)
		if err != nil || b.Cert != held {
			t.Fatalf("decoding again: %v, same Certificate %v", err, b.Cert == held)
		}
	})
	// DecodeCertBlock's own PEMBlock is the one allocation allowed.
	if allocs > 1 {
		t.Errorf("decoding the block of a certificate in use: %v allocations, want none but the block", allocs)
	}
	runtime.KeepAlive(held)
}

// TestNewCertificateOutlivesBuffer: a certificate first seen in a block is
// parsed from a copy, so that it stays whole when the buffer it was decoded
// into is reused for the next blocks; so does a TRUSTED CERTIFICATE's alias.
func TestNewCertificateOutlivesBuffer(t *testing.T) {
	a := testpki.Root("Reuse New Root A")
	b := testpki.Root("Reuse New Root B With A Longer Name")
	aux := []byte{0x30, 0x05, 0x0c, 0x03, 'a', 'l', 'i'} // SEQUENCE { UTF8String "ali" }
	trusted := encpem.EncodeToMemory(&encpem.Block{Type: stores.LabelTrustedCertificate, Bytes: append(bytes.Clone(a.DER), aux...)})
	scratch := make([]byte, 0, 8192) // large enough for every block: never replaced
	first, err := stores.DecodeCertBlock(stores.LabelTrustedCertificate, trusted, &scratch)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := stores.DecodeCertBlock(stores.LabelCertificate, b.PEM(), &scratch); err != nil {
			t.Fatal(err)
		}
	}
	c := first.Cert
	want, err := x509.ParseCertificate(a.DER)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.DER, a.DER) || c.Fingerprint != stores.FingerprintOf(a.DER) {
		t.Fatalf("the certificate's DER changed with the buffer: %x", c.DER)
	}
	if !bytes.Equal(c.RawSubject, want.RawSubject) || !bytes.Equal(c.RawIssuer, want.RawIssuer) ||
		!bytes.Contains(c.RawSerial, want.SerialNumber.Bytes()) {
		t.Fatalf("the certificate's fields changed with the buffer: %x %x %x", c.RawSubject, c.RawIssuer, c.RawSerial)
	}
	if first.Aux == nil || string(first.Aux.Alias) != "ali" {
		t.Fatalf("the alias changed with the buffer: %+v", first.Aux)
	}
}

// TestScanHeldBundleAllocatesPerRunNotPerBlock: ScanPEM reads a bundle of
// certificates already in use (a target read after its source) with a
// fixed number of allocations, whatever the number of blocks: no block,
// DER or label is allocated per block.
func TestScanHeldBundleAllocatesPerRunNotPerBlock(t *testing.T) {
	var pems [][]byte
	var held []*stores.Certificate
	for i := range 400 {
		r := testpki.Root(fmt.Sprintf("Scan Held Root %d", i))
		held = append(held, stores.MustParse(bytes.Clone(r.DER)))
		pems = append(pems, r.PEM())
	}
	scan := func(data []byte) float64 {
		return testing.AllocsPerRun(5, func() {
			n := 0
			err := stores.ScanPEM(bytes.NewReader(data), func(b *stores.PEMBlock, _ []byte) error {
				if b.Cert != held[n] {
					t.Fatalf("block %d: another Certificate than the one in use", n+1)
				}
				n++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := scan(bytes.Join(pems[:200], nil)), scan(bytes.Join(pems, nil))
	// 200 more blocks; a few allocations of the decoding goroutines'
	// channel operations are allowed for.
	if large-small > 20 {
		t.Errorf("200 more blocks of certificates in use cost %v more allocations (%v against %v)", large-small, large, small)
	}
	runtime.KeepAlive(held)
}

// TestDecodeSmallFileAllocations: decoding a small file whose certificate
// is in use (a hashed directory's file, read after the source) allocates
// only what DecodePEM returns (the bundle, its list and its block) and the
// function that gathers the blocks. The
// decoder's buffers are reused from call to call, also after a call that
// failed with its decoding goroutines running.
func TestDecodeSmallFileAllocations(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	root := testpki.Root("Small File Root")
	held := stores.MustParse(bytes.Clone(root.DER))
	file := append([]byte("# a comment\n"), root.PEM()...)
	var bad []byte
	for i := range 20 {
		bad = append(bad, testpki.Root(fmt.Sprintf("Small File Bad %d", i)).PEM()...)
	}
	bad = append(bad, "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"...)
	for range 3 {
		if _, err := stores.DecodePEM(bad, stores.DecodeOptions{}); err == nil {
			t.Fatal("a bad block decoded")
		}
	}
	allocs := testing.AllocsPerRun(50, func() {
		b, err := stores.DecodePEM(file, stores.DecodeOptions{DER: true})
		if err != nil || len(b.Blocks) != 1 || b.Blocks[0].Cert != held || b.Blocks[0].Line != 2 {
			t.Fatalf("decoding the file: %v, %+v", err, b)
		}
	})
	if allocs > 4 && !raceEnabled {
		t.Errorf("decoding a small file of a certificate in use: %v allocations, want at most 4", allocs)
	}
	runtime.KeepAlive(held)
}
