package pem

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/rootsync/rootsync/stores"
)

// OwnerPrefix starts the comment line that marks a block as added by rootsync.
const OwnerPrefix = "# rootsync: "

// Block is one PEM block of a File.
type Block struct {
	// Index is the block's number in the file, counting every PEM block from 1.
	Index int
	// Type is the PEM label ("CERTIFICATE", "TRUSTED CERTIFICATE", "PRIVATE KEY", ...).
	Type string
	// Cert is the certificate of a certificate block, nil for other blocks.
	Cert *stores.Certificate
	// Trust is what the block says: every purpose for a plain CERTIFICATE, the
	// mapped X509_AUX lists for a TRUSTED CERTIFICATE.
	Trust stores.Trust
	// Owned: the line right before the block is rootsync's ownership comment.
	Owned bool
	// Alias is a TRUSTED CERTIFICATE's alias ("" if none).
	Alias string
}

// Label is how messages and listings name the block.
func (b *Block) Label() string { return blockLabel(b.Index) }

// blockLabel is the label of block i: "block 3".
func blockLabel(i int) string {
	var b [32]byte
	return string(strconv.AppendInt(append(b[:0], "block "...), int64(i), 10))
}

// piece is a run of the file's bytes: text between blocks, or one block (with
// its ownership line, if any, so that both go together). A block Add
// appended has no text yet: its ownership line and PEM are written by Bytes,
// so that a large edit holds one copy of the new file, not two.
type piece struct {
	text  []byte
	block *Block
	added bool
}

// size is the length of the piece's bytes in the file.
func (p piece) size() int {
	if p.added {
		return len(OwnerLine(p.block.Cert)) + stores.CertificatePEMLen(len(p.block.Cert.DER))
	}
	return len(p.text)
}

// appendTo appends the piece's bytes to dst.
func (p piece) appendTo(dst []byte) []byte {
	if p.added {
		dst = appendOwnerLine(dst, p.block.Cert)
		return stores.AppendCertificatePEM(dst, p.block.Cert.DER)
	}
	return append(dst, p.text...)
}

// File is a PEM bundle cut into pieces, so that it can be rewritten with every
// byte it does not change kept exactly: text between blocks, keys, CRLs and
// certificate blocks nobody asked to change. A file that is a single DER
// certificate is read as one block; once changed it is written back as PEM.
type File struct {
	name    string
	orig    []byte
	pieces  []piece
	der     bool
	changed bool
	nblocks int
	// added holds the blocks Add makes, in chunks (see Add).
	added []Block
}

// ParseFile cuts data into blocks with stores.DecodePEM. name is used in
// errors. A block that does not decode, or a certificate block that holds no
// certificate or trust data OpenSSL refuses, is an error wrapping
// stores.ErrCorrupt that names the file, the block number and its line. Data
// with no PEM block that starts like DER is read as one DER certificate.
func ParseFile(name string, data []byte) (*File, error) {
	f := &File{name: name, orig: data}
	bundle, err := stores.DecodePEM(data, stores.DecodeOptions{DER: true})
	if err != nil {
		return nil, f.corrupt(err)
	}
	if bundle.DER {
		f.der = true
		f.nblocks = 1
		c := bundle.Blocks[0].Cert
		f.pieces = []piece{{text: stores.EncodeCertificatePEM(c.DER), block: &Block{Index: 1, Type: stores.LabelCertificate, Cert: c, Trust: stores.TrustAll()}}}
		return f, nil
	}
	pos := 0
	for _, pb := range bundle.Blocks {
		text := data[pos:pb.Start]
		b := &Block{Index: pb.Index, Type: pb.Label, Cert: pb.Cert}
		var owner []byte
		if pb.Cert != nil {
			b.Trust = pb.Trust()
			if pb.Aux != nil && pb.Aux.HasAlias {
				b.Alias = string(pb.Aux.Alias)
			}
			owner, text = splitOwner(text)
			b.Owned = owner != nil
		}
		if len(text) > 0 {
			f.pieces = append(f.pieces, piece{text: text})
		}
		f.pieces = append(f.pieces, piece{text: data[pos+len(text) : pb.End], block: b})
		pos = pb.End
	}
	if pos < len(data) {
		f.pieces = append(f.pieces, piece{text: data[pos:]})
	}
	f.nblocks = len(bundle.Blocks)
	return f, nil
}

// splitOwner takes rootsync's ownership line off the end of text, if the last
// line is one.
func splitOwner(text []byte) (owner, rest []byte) {
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return nil, text
	}
	start := bytes.LastIndexByte(text[:len(text)-1], '\n') + 1
	if !bytes.HasPrefix(text[start:], []byte(OwnerPrefix)) {
		return nil, text
	}
	return text[start:], text[:start]
}

// corrupt names the file (and the block, for a *stores.BlockError) in err.
func (f *File) corrupt(err error) error {
	var be *stores.BlockError
	if errors.As(err, &be) {
		return &stores.Error{
			Path:  f.name,
			Entry: be.Position(),
			Err:   be.Err,
			Hint:  fmt.Sprintf("repair or delete block %d (line %d) of %s, or restore the file from a backup", be.Index, be.Line, filepath.Base(f.name)),
		}
	}
	return &stores.Error{
		Path: f.name,
		Err:  err,
		Hint: "point the store at a PEM bundle or a DER certificate, or restore the file from a backup",
	}
}

// Blocks returns the file's PEM blocks in file order (certificate blocks and
// the others).
func (f *File) Blocks() []*Block {
	var out []*Block
	for _, p := range f.pieces {
		if p.block != nil {
			out = append(out, p.block)
		}
	}
	return out
}

// Certificates returns the certificate blocks in file order.
func (f *File) Certificates() []*Block {
	var out []*Block
	for _, b := range f.Blocks() {
		if b.Cert != nil {
			out = append(out, b)
		}
	}
	return out
}

// IsDER reports whether the file was a DER certificate rather than PEM.
func (f *File) IsDER() bool { return f.der }

// Changed reports whether an edit has changed the file since it was parsed.
func (f *File) Changed() bool { return f.changed }

// Bytes is the file's content: the bytes it was parsed from if nothing
// changed, else the kept pieces with the edits.
func (f *File) Bytes() []byte {
	if !f.changed {
		return f.orig
	}
	n := 0
	for _, p := range f.pieces {
		n += p.size()
	}
	out := make([]byte, 0, n)
	for _, p := range f.pieces {
		out = p.appendTo(out)
	}
	return out
}

// WriteTo writes the file's content (what Bytes returns) to w, one piece at
// a time, so that a large bundle is never held whole a second time.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	if !f.changed {
		n, err := w.Write(f.orig)
		return int64(n), err
	}
	var total int64
	var buf []byte
	for _, p := range f.pieces {
		buf = p.appendTo(buf[:0])
		n, err := w.Write(buf)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Remove deletes every block holding the certificate fp, each with its
// ownership line if it has one, and returns how many it removed.
func (f *File) Remove(fp stores.Fingerprint) int {
	n := 0
	kept := f.pieces[:0:0]
	for _, p := range f.pieces {
		if p.block != nil && p.block.Cert != nil && p.block.Cert.Fingerprint == fp {
			n++
			continue
		}
		kept = append(kept, p)
	}
	if n > 0 {
		f.pieces = kept
		f.changed = true
	}
	return n
}

// Add appends c as a plain CERTIFICATE block preceded by rootsync's ownership
// line.
func (f *File) Add(c *stores.Certificate) {
	if len(f.pieces) > 0 {
		last := f.pieces[len(f.pieces)-1]
		if !last.added && len(last.text) > 0 && last.text[len(last.text)-1] != '\n' {
			f.pieces = append(f.pieces, piece{text: []byte("\n")})
		}
	}
	f.nblocks++
	// The blocks are made in chunks, one allocation for many: a sync into
	// a new bundle adds every certificate it has.
	if len(f.added) == cap(f.added) {
		f.added = make([]Block, 0, addChunk)
	}
	f.added = append(f.added, Block{Index: f.nblocks, Type: "CERTIFICATE", Cert: c, Trust: stores.TrustAll(), Owned: true})
	f.pieces = append(f.pieces, piece{block: &f.added[len(f.added)-1], added: true})
	f.changed = true
}

// addChunk is how many blocks Add allocates at once.
const addChunk = 256

// Grow makes room for n more pieces (the blocks of n Adds), so that a
// large edit does not grow the file's list of pieces again and again.
func (f *File) Grow(n int) { f.pieces = slices.Grow(f.pieces, n+1) }

// MakePlain rewrites the TRUSTED CERTIFICATE blocks of fp as plain
// CERTIFICATE blocks (trusted for every purpose), keeping their ownership
// lines, and reports whether it changed anything.
func (f *File) MakePlain(fp stores.Fingerprint) bool {
	done := false
	for i, p := range f.pieces {
		b := p.block
		if b == nil || b.Cert == nil || b.Cert.Fingerprint != fp || b.Type == "CERTIFICATE" {
			continue
		}
		owner, _ := splitOwner(p.text[:bytes.Index(p.text, []byte("-----BEGIN"))])
		nb := *b
		nb.Type, nb.Trust, nb.Alias = "CERTIFICATE", stores.TrustAll(), ""
		f.pieces[i] = piece{text: append(append([]byte(nil), owner...), encodeCert(b.Cert.DER)...), block: &nb}
		done = true
	}
	f.changed = f.changed || done
	return done
}

// OwnerLine is the ownership comment written before a block rootsync adds:
// the prefix and the subject, its control characters as '?' (and invalid
// UTF-8 as U+FFFD, as strings.Map writes it).
func OwnerLine(c *stores.Certificate) string { return string(appendOwnerLine(nil, c)) }

// appendOwnerLine appends OwnerLine(c) to dst.
func appendOwnerLine(dst []byte, c *stores.Certificate) []byte {
	dst = append(dst, OwnerPrefix...)
	for _, r := range c.Subject {
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		dst = utf8.AppendRune(dst, r)
	}
	return append(dst, '\n')
}

func encodeCert(der []byte) []byte { return stores.EncodeCertificatePEM(der) }
