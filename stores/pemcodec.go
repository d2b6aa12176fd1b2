package stores

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// PEM labels of the blocks that hold certificates, as OpenSSL's PEM reader
// names them.
const (
	LabelCertificate        = "CERTIFICATE"
	LabelTrustedCertificate = "TRUSTED CERTIFICATE"
	LabelX509Certificate    = "X509 CERTIFICATE" // the name of OpenSSL before 0.9
)

// IsCertificateLabel reports whether a PEM block with this label holds a
// certificate.
func IsCertificateLabel(label string) bool {
	return label == LabelCertificate || label == LabelTrustedCertificate || label == LabelX509Certificate
}

// PEMBlock is one block of a PEM bundle as DecodePEM found it.
type PEMBlock struct {
	// Index counts every PEM block of the data from 1 (certificates and
	// others alike): what messages call "block N".
	Index int
	// Line is the line of the BEGIN line, from 1.
	Line int
	// Label is the PEM label ("CERTIFICATE", "PRIVATE KEY", ...).
	Label string
	// Start and End are the block's bytes in the data: from the start of the
	// BEGIN line to the end of the END line, its line break included.
	Start, End int
	// Cert is the certificate of a certificate block (nil for other blocks,
	// which are not decoded).
	Cert *Certificate
	// Aux is the trust data of a TRUSTED CERTIFICATE block, nil when the
	// block has none (or is a plain CERTIFICATE).
	Aux *Aux
}

// Position names the block in messages: "block 3 (line 41)".
func (b *PEMBlock) Position() string { return fmt.Sprintf("block %d (line %d)", b.Index, b.Line) }

// Trusted reports whether the block is a TRUSTED CERTIFICATE block.
func (b *PEMBlock) Trusted() bool { return b.Label == LabelTrustedCertificate }

// Trust is what OpenSSL makes of the block: every purpose for a plain
// certificate block, what the trust data says for a TRUSTED CERTIFICATE
// (see Aux.TrustFor; a block without trust data trusts a self-signed
// certificate for every purpose and another one for nothing).
func (b *PEMBlock) Trust() Trust {
	if !b.Trusted() {
		return TrustAll()
	}
	return b.Aux.TrustFor(b.Cert.SelfIssued)
}

// BlockError is an error about one block of a PEM bundle. It wraps
// ErrCorrupt (and ErrBadAux for trust data OpenSSL refuses).
type BlockError struct {
	Index int
	Line  int
	Err   error
}

// Position names the block as PEMBlock.Position does.
func (e *BlockError) Position() string { return fmt.Sprintf("block %d (line %d)", e.Index, e.Line) }

func (e *BlockError) Error() string { return e.Position() + ": " + e.Err.Error() }

func (e *BlockError) Unwrap() error { return e.Err }

// DecodeOptions choose what DecodePEM accepts besides PEM.
type DecodeOptions struct {
	// DER accepts data that holds no PEM block and starts like DER as one DER
	// certificate (block 1, line 1, label CERTIFICATE).
	DER bool
}

// Bundle is a decoded PEM file.
type Bundle struct {
	// Blocks in file order, certificate blocks and others.
	Blocks []*PEMBlock
	// DER: the data was one DER certificate, not PEM.
	DER bool
}

// Certificates returns the certificate blocks in file order.
func (b *Bundle) Certificates() []*PEMBlock {
	var out []*PEMBlock
	for _, x := range b.Blocks {
		if x.Cert != nil {
			out = append(out, x)
		}
	}
	return out
}

// DecodePEM cuts data into PEM blocks and decodes the certificate blocks:
// CERTIFICATE and X509 CERTIFICATE hold one DER certificate; TRUSTED
// CERTIFICATE holds one followed by trust data, read exactly as OpenSSL's
// d2i_X509_AUX reads it (see DecodeAux). Text between blocks is allowed and
// ignored, and blocks of other labels (keys, CRLs) are located but not
// decoded. Data without any block is an empty bundle.
//
// A BEGIN line without its END line, a certificate block whose base64 or
// headers do not decode, whose content is not a certificate, or whose trust
// data OpenSSL refuses is an error: a *BlockError naming the block and its
// line, wrapping ErrCorrupt. OpenSSL's file loader (openssl verify -CAfile,
// nginx, curl) refuses such a file as a whole, so it must not be read as
// partly valid. A certificate that the lenient parser refuses but that is
// well-formed enough to identify is not an error (Certificate.ParseError).
func DecodePEM(data []byte, opts DecodeOptions) (*Bundle, error) {
	if opts.DER && !bytes.Contains(data, []byte("-----BEGIN ")) && len(data) > 0 && data[0] == 0x30 {
		c, err := ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("%w: neither PEM nor a DER certificate: %w", ErrCorrupt, err)
		}
		return &Bundle{DER: true, Blocks: []*PEMBlock{{Index: 1, Line: 1, Label: LabelCertificate, End: len(data), Cert: c}}}, nil
	}
	bundle := &Bundle{}
	err := decodePEM(linesOf(data), data, false, func(b *PEMBlock, _ []byte) error {
		bundle.Blocks = append(bundle.Blocks, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return bundle, nil
}

// ScanPEM is DecodePEM for data read from r, one block at a time: it calls
// fn with each block in file order as soon as the block is decoded, and holds
// no more of the data than one block, so that a bundle of any size is read
// in little memory. before is the line right before the block's BEGIN line
// (with its line break), nil when the block starts the data or follows
// another block's END line. b and before are valid only during the call (b
// is reused for a later block; its Cert and Aux are not). ScanPEM reads
// PEM only (no DecodeOptions.DER), and stops at the first error, DecodePEM's
// or fn's.
func ScanPEM(r io.Reader, fn func(b *PEMBlock, before []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	next := func() ([]byte, error) {
		l, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer (text between blocks).
			long = append(long[:0], l...)
			for err == bufio.ErrBufferFull {
				l, err = br.ReadSlice('\n')
				long = append(long, l...)
			}
			l = long
		}
		if err == io.EOF && len(l) > 0 {
			err = nil
		}
		return l, err
	}
	return decodePEM(next, nil, true, fn)
}

// ScanPEMData is ScanPEM for data in memory: its blocks are decoded in
// place, without copies of their text, and b and before are valid only
// during the call. It reads PEM only (no DecodeOptions.DER) and returns the
// error DecodePEM returns for the same data, after calling fn with the
// blocks before the one that fails.
func ScanPEMData(data []byte, fn func(b *PEMBlock, before []byte) error) error {
	return decodePEM(linesOf(data), data, true, fn)
}

// linesOf returns data's lines one at a time (each with its line break),
// then io.EOF.
func linesOf(data []byte) func() ([]byte, error) {
	pos := 0
	return func() ([]byte, error) {
		if pos >= len(data) {
			return nil, io.EOF
		}
		l, n := cutLine(data, pos)
		pos = n
		return l, nil
	}
}

// decodePEM is the decoder of DecodePEM and ScanPEM. next returns the next
// line with its line break (io.EOF after the last); the line is valid until
// the next call. whole, when not nil, is all the data, in memory: the lines
// next returns are its bytes one after the other, and a block's text is
// taken from it rather than copied line by line. With reuse, the PEMBlock
// given to fn is reused once fn returns; without it, each block is a new one
// that fn may keep.
//
// The calling goroutine cuts the data into blocks; once a second
// certificate block turns up, up to GOMAXPROCS goroutines decode the
// certificate blocks while it reads on (decoding is nearly all the work).
// fn still sees every block in file order on the calling goroutine, and
// the first error in file order ends the run as if the blocks had been
// decoded one after the other: no later block reaches fn. At most
// pemWindow blocks are between the cutting and fn at any time, so memory
// stays bounded whatever the size of the data.
func decodePEM(next func() ([]byte, error), whole []byte, reuse bool, fn func(b *PEMBlock, before []byte) error) error {
	d := decoders.Get().(*blockDecoder)
	d.fn = fn
	defer d.release()
	line, pos, index := 1, 0, 0
	var prev []byte // the line before the next block
	havePrev := false
	for {
		l, err := next()
		if err == io.EOF {
			return d.flush(nil)
		}
		if err != nil {
			return d.flush(err)
		}
		label, ok := beginLabel(l)
		if !ok {
			if whole != nil {
				prev = l
			} else {
				prev = append(prev[:0], l...)
			}
			havePrev = true
			pos += len(l)
			line++
			continue
		}
		index++
		p := d.get()
		if reuse {
			p.block = PEMBlock{Index: index, Line: line, Label: label, Start: pos}
			p.b = &p.block
		} else {
			p.b = &PEMBlock{Index: index, Line: line, Label: label, Start: pos}
		}
		start := pos
		if whole == nil {
			p.raw = append(p.raw[:0], l...)
		}
		pos += len(l)
		found := false
		for {
			l2, err := next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return d.flush(err)
			}
			line++
			if whole == nil {
				p.raw = append(p.raw, l2...)
			}
			pos += len(l2)
			if isEndLine(l2, label) {
				found = true
				break
			}
			if _, nested := beginLabel(l2); nested {
				break
			}
		}
		if !found {
			return d.flush(blockError(p.b, fmt.Errorf("BEGIN %s without END", label)))
		}
		p.b.End = pos
		line++
		p.text, p.beforeText = p.raw, nil
		if whole != nil {
			p.text = whole[start:pos]
		}
		p.hasBefore = havePrev
		if havePrev {
			if whole != nil {
				p.beforeText = prev
			} else {
				p.before = append(p.before[:0], prev...)
				p.beforeText = p.before
			}
		}
		havePrev = false
		if err := d.add(p); err != nil {
			return err
		}
	}
}

// blockError is the error about block b.
func blockError(b *PEMBlock, err error) error {
	return &BlockError{Index: b.Index, Line: b.Line, Err: fmt.Errorf("%w: %w", ErrCorrupt, err)}
}

// pemWindow is how many blocks at most are cut but not yet given to fn, per
// decoding goroutine.
const pemWindow = 8

// pendingBlock is a block between the cutting and fn.
type pendingBlock struct {
	b     *PEMBlock
	block PEMBlock // what b points to when blocks are reused (ScanPEM)
	// text is the block's text, BEGIN to END line, and beforeText the line
	// before it: in the caller's data when decodePEM has it whole, else in
	// raw and before, buffers the block keeps from use to use.
	text, beforeText []byte
	raw, before      []byte
	hasBefore        bool
	der              []byte        // the decoded DER, reused from block to block
	err              error         // the decoding error, a *BlockError
	sent             bool          // given to the decoding goroutines
	done             chan struct{} // receives once the goroutine decoded it
}

func (p *pendingBlock) decode() {
	if IsCertificateLabel(p.b.Label) {
		if err := decodeCertBlock(p.b, p.text, &p.der); err != nil {
			p.err = blockError(p.b, err)
		}
	}
}

// blockDecoder keeps the blocks decodePEM cut in file order until fn has
// them, and runs the decoding goroutines.
type blockDecoder struct {
	fn      func(b *PEMBlock, before []byte) error
	queue   []*pendingBlock // cut, not yet given to fn, in file order
	free    []*pendingBlock
	jobs    chan *pendingBlock // nil until the goroutines run
	window  int
	wg      sync.WaitGroup
	stopped atomic.Bool // after an error: the goroutines skip what is left
}

func (d *blockDecoder) get() *pendingBlock {
	if n := len(d.free); n > 0 {
		p := d.free[n-1]
		d.free = d.free[:n-1]
		p.err, p.sent = nil, false
		return p
	}
	return &pendingBlock{done: make(chan struct{}, 1)}
}

// add queues p and gives fn the blocks that must make room.
func (d *blockDecoder) add(p *pendingBlock) error {
	d.queue = append(d.queue, p)
	if IsCertificateLabel(p.b.Label) {
		if d.jobs == nil && d.start() {
			for _, q := range d.queue {
				d.send(q)
			}
		} else {
			d.send(p)
		}
	}
	for len(d.queue) > max(d.window, 1) {
		if err := d.deliver(); err != nil {
			return err
		}
	}
	return nil
}

// send gives a certificate block to the decoding goroutines, if they run.
func (d *blockDecoder) send(p *pendingBlock) {
	if d.jobs != nil && !p.sent && IsCertificateLabel(p.b.Label) {
		p.sent = true
		d.jobs <- p
	}
}

// start runs the decoding goroutines once there are two certificate blocks
// to decode (a file of one certificate is decoded where it is read), and
// reports whether they run.
func (d *blockDecoder) start() bool {
	n := runtime.GOMAXPROCS(0)
	certs := 0
	for _, q := range d.queue {
		if IsCertificateLabel(q.b.Label) {
			certs++
		}
	}
	if n < 2 || certs < 2 {
		return false
	}
	d.window = pemWindow * n
	d.jobs = make(chan *pendingBlock, d.window+1)
	d.wg.Add(n)
	for range n {
		go func() {
			defer d.wg.Done()
			for p := range d.jobs {
				if !d.stopped.Load() {
					p.decode()
				}
				p.done <- struct{}{}
			}
		}()
	}
	return true
}

// deliver gives fn the first queued block, or returns its decoding error.
func (d *blockDecoder) deliver() error {
	p := d.queue[0]
	// Moved to the front rather than sliced off, so that appending to the
	// queue reuses its array (the window is a few dozen pointers).
	n := copy(d.queue, d.queue[1:])
	d.queue[n] = nil
	d.queue = d.queue[:n]
	if p.sent {
		<-p.done
		p.sent = false
	} else {
		p.decode()
	}
	if p.err != nil {
		return p.err
	}
	var before []byte
	if p.hasBefore {
		before = p.beforeText
	}
	if err := d.fn(p.b, before); err != nil {
		return err
	}
	p.b, p.text, p.beforeText = nil, nil, nil
	d.free = append(d.free, p)
	return nil
}

// flush gives fn every queued block, then returns err: the first error in
// file order wins.
func (d *blockDecoder) flush(err error) error {
	for len(d.queue) > 0 {
		if derr := d.deliver(); derr != nil {
			return derr
		}
	}
	return err
}

// stop ends the decoding goroutines and waits for them.
func (d *blockDecoder) stop() {
	if d.jobs == nil {
		return
	}
	d.stopped.Store(true)
	close(d.jobs)
	d.wg.Wait()
}

// decoders keeps blockDecoders between runs of decodePEM, with their
// blocks' buffers: reading the 100,000 small files of a hashed directory
// one after the other allocates them once, not once per file.
var decoders = sync.Pool{New: func() any { return new(blockDecoder) }}

// release stops d and puts it back in decoders, its blocks holding nothing
// of the run's data or blocks.
func (d *blockDecoder) release() {
	d.stop()
	d.free = append(d.free, d.queue...) // left by an error
	for _, p := range d.free {
		if p.sent {
			<-p.done // decoded, or skipped after the error
		}
		p.b, p.block, p.text, p.beforeText, p.err, p.sent = nil, PEMBlock{}, nil, nil, nil, false
	}
	clear(d.queue)
	d.queue, d.fn, d.jobs, d.window = d.queue[:0], nil, nil, 0
	d.stopped.Store(false)
	decoders.Put(d)
}

// decodeCertBlock decodes the PEM text of a certificate block into b. The
// certificate's DER is decoded into *scratch, which the caller reuses from
// block to block, and copied out of it only for a certificate not already in
// use (see parseReused): a bundle whose certificates are held already (a
// target read after its source) is read without a copy of their DER.
func decodeCertBlock(b *PEMBlock, raw []byte, scratch *[]byte) error {
	body, reused := appendPlainBlock((*scratch)[:0], raw, b.Label)
	if reused {
		*scratch = body[:0]
	} else {
		p, _ := pem.Decode(raw)
		if p == nil || p.Type != b.Label {
			return errors.New("bad PEM encoding (base64 or headers)")
		}
		body = p.Bytes
	}
	var aux []byte
	if b.Label == LabelTrustedCertificate {
		s := cryptobyte.String(body)
		var cert cryptobyte.String
		if !s.ReadASN1Element(&cert, cbasn1.SEQUENCE) {
			return errors.New("TRUSTED CERTIFICATE does not start with a certificate")
		}
		body, aux = cert, s
	}
	var c *Certificate
	var err error
	if reused {
		c, err = parseReused(body)
	} else {
		c, err = ParseCertificate(body)
	}
	if err != nil {
		return err
	}
	b.Cert = c
	if len(aux) > 0 {
		a, err := DecodeAux(aux) // copies what it keeps of aux
		if err != nil {
			return err
		}
		b.Aux = a
	}
	return nil
}

// appendPlainBlock decodes a block in the form nearly every bundle has:
// the BEGIN line, lines of base64 (which base64.StdEncoding decodes as
// encoding/pem gives them to it), the END line, each ending in a bare line
// feed (the last one may have none), and appends the bytes to dst. It
// reports false for anything else (headers, spaces, bad base64), which
// encoding/pem then reads; where it decodes a block, encoding/pem gives the
// same bytes (the differential test in pemcodec_test.go holds it to that),
// without searching the block for its lines again.
func appendPlainBlock(dst, raw []byte, label string) ([]byte, bool) {
	const begin, end, dashes = "-----BEGIN ", "-----END ", "-----"
	n := len(begin) + len(label) + len(dashes)
	if len(raw) <= n || string(raw[:len(begin)]) != begin || string(raw[len(begin):n-len(dashes)]) != label ||
		string(raw[n-len(dashes):n]) != dashes || raw[n] != '\n' {
		return dst, false
	}
	body := raw[n+1:]
	if len(body) > 0 && body[len(body)-1] == '\n' {
		body = body[:len(body)-1]
	}
	m := len(end) + len(label) + len(dashes)
	if len(body) <= m || string(body[len(body)-m:len(body)-m+len(end)]) != end ||
		string(body[len(body)-len(label)-len(dashes):len(body)-len(dashes)]) != label ||
		string(body[len(body)-len(dashes):]) != dashes {
		return dst, false
	}
	body = body[:len(body)-m]
	if len(body) < 2 || body[len(body)-1] != '\n' {
		return dst, false
	}
	body = body[:len(body)-1] // what encoding/pem decodes
	out, err := base64.StdEncoding.AppendDecode(dst, body)
	if err != nil {
		return dst, false
	}
	return out, true
}

// cutLine returns the line starting at pos (with its line break) and where
// the next one starts.
func cutLine(data []byte, pos int) ([]byte, int) {
	if i := bytes.IndexByte(data[pos:], '\n'); i >= 0 {
		return data[pos : pos+i+1], pos + i + 1
	}
	return data[pos:], len(data)
}

// beginLabel returns the label of a BEGIN line. The labels of certificate
// blocks are the constants, not copies.
func beginLabel(line []byte) (string, bool) {
	const begin, dashes = "-----BEGIN ", "-----"
	if !bytes.HasPrefix(line, []byte(begin)) {
		return "", false
	}
	s := bytes.TrimRight(line, " \t\r\n")
	if !bytes.HasPrefix(s, []byte(begin)) || !bytes.HasSuffix(s, []byte(dashes)) || len(s) < len(begin)+len(dashes) {
		return "", false
	}
	switch label := s[len(begin) : len(s)-len(dashes)]; string(label) {
	case LabelCertificate:
		return LabelCertificate, true
	case LabelTrustedCertificate:
		return LabelTrustedCertificate, true
	case LabelX509Certificate:
		return LabelX509Certificate, true
	default:
		return string(label), true
	}
}

// isEndLine reports whether line is the END line of a block labelled label
// (spaces and the line break after it allowed).
func isEndLine(line []byte, label string) bool {
	const end, dashes = "-----END ", "-----"
	s := bytes.TrimRight(line, " \t\r\n")
	return len(s) == len(end)+len(label)+len(dashes) && string(s[:len(end)]) == end &&
		string(s[len(end):len(end)+len(label)]) == label && string(s[len(s)-len(dashes):]) == dashes
}

// EncodeCertificatePEM is der as a CERTIFICATE block, the form every reader
// accepts.
func EncodeCertificatePEM(der []byte) []byte {
	return AppendCertificatePEM(make([]byte, 0, CertificatePEMLen(len(der))), der)
}

const (
	pemBegin = "-----BEGIN " + LabelCertificate + "-----\n"
	pemEnd   = "-----END " + LabelCertificate + "-----\n"
)

// CertificatePEMLen is the length of the CERTIFICATE block of a DER
// certificate of n bytes, so that a writer can size its buffer once.
func CertificatePEMLen(n int) int {
	b64 := base64.StdEncoding.EncodedLen(n)
	return len(pemBegin) + b64 + (b64+63)/64 + len(pemEnd)
}

// AppendCertificatePEM appends der as a CERTIFICATE block to dst, byte for
// byte what encoding/pem writes (64 characters a line), without a copy of
// its own.
func AppendCertificatePEM(dst, der []byte) []byte {
	dst = append(dst, pemBegin...)
	for len(der) > 0 {
		n := min(len(der), 48) // 48 bytes are one line of 64 characters
		dst = base64.StdEncoding.AppendEncode(dst, der[:n])
		dst = append(dst, '\n')
		der = der[n:]
	}
	return append(dst, pemEnd...)
}

// EncodeTrustedCertificatePEM is der followed by the trust data a as a
// TRUSTED CERTIFICATE block, as openssl x509 -trustout writes it. A nil a
// writes the certificate alone.
func EncodeTrustedCertificatePEM(der []byte, a *Aux) []byte {
	body := append([]byte(nil), der...)
	if a != nil {
		body = append(body, a.Marshal()...)
	}
	return pem.EncodeToMemory(&pem.Block{Type: LabelTrustedCertificate, Bytes: body})
}
