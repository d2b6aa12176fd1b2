package pem

import (
	"bytes"
	encpem "encoding/pem"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

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
func (b *Block) Label() string { return fmt.Sprintf("block %d", b.Index) }

// piece is a run of the file's bytes: text between blocks, or one block (with
// its ownership line, if any, so that both go together).
type piece struct {
	text  []byte
	block *Block
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
}

// certLabels are the PEM labels read as certificates.
var certLabels = map[string]bool{
	"CERTIFICATE":         true,
	"X509 CERTIFICATE":    true,
	"TRUSTED CERTIFICATE": true,
}

// Purpose OIDs of X509_AUX trust and reject lists, per rootsync purpose.
var (
	oidAnyEKU   = []int{2, 5, 29, 37, 0}
	purposeOIDs = map[stores.Purpose][]int{
		stores.ServerAuth:  {1, 3, 6, 1, 5, 5, 7, 3, 1},
		stores.ClientAuth:  {1, 3, 6, 1, 5, 5, 7, 3, 2},
		stores.CodeSigning: {1, 3, 6, 1, 5, 5, 7, 3, 3},
		stores.Email:       {1, 3, 6, 1, 5, 5, 7, 3, 4},
	}
)

// ParseFile cuts data into blocks. name is used in errors. A block that does
// not decode, or a certificate block that holds no certificate, is an error
// wrapping stores.ErrCorrupt that names the file and the block number. Data
// with no PEM block that starts like DER is read as one DER certificate.
func ParseFile(name string, data []byte) (*File, error) {
	f := &File{name: name, orig: data}
	if !bytes.Contains(data, []byte("-----BEGIN ")) && len(bytes.TrimSpace(data)) > 0 && data[0] == 0x30 {
		return f, f.parseDER(data)
	}
	var text []byte
	flush := func() {
		if len(text) > 0 {
			f.pieces = append(f.pieces, piece{text: text})
			text = nil
		}
	}
	for rest := data; len(rest) > 0; {
		line, after := cutLine(rest)
		label, ok := beginLabel(line)
		if !ok {
			text = append(text, line...)
			rest = after
			continue
		}
		f.nblocks++
		b := &Block{Index: f.nblocks, Type: label}
		end := len(line)
		found := false
		for r := after; len(r) > 0; {
			l, a := cutLine(r)
			end += len(l)
			r = a
			trimmed := strings.TrimRight(string(l), " \t\r\n")
			if trimmed == "-----END "+label+"-----" {
				found = true
				break
			}
			if _, nested := beginLabel(l); nested {
				return nil, f.corrupt(b, fmt.Errorf("BEGIN %s without END", label))
			}
		}
		if !found {
			return nil, f.corrupt(b, fmt.Errorf("BEGIN %s without END", label))
		}
		raw := rest[:end]
		rest = rest[end:]
		var owner []byte
		if certLabels[label] {
			if err := f.decode(b, raw); err != nil {
				return nil, err
			}
			owner, text = splitOwner(text)
			b.Owned = owner != nil
		}
		flush()
		f.pieces = append(f.pieces, piece{text: append(append([]byte(nil), owner...), raw...), block: b})
	}
	flush()
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

func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1], b[i+1:]
	}
	return b, nil
}

func beginLabel(line []byte) (string, bool) {
	s := strings.TrimRight(string(line), " \t\r\n")
	if !strings.HasPrefix(s, "-----BEGIN ") || !strings.HasSuffix(s, "-----") || len(s) < len("-----BEGIN -----") {
		return "", false
	}
	return s[len("-----BEGIN ") : len(s)-len("-----")], true
}

func (f *File) corrupt(b *Block, err error) error {
	return &stores.Error{
		Path:  f.name,
		Entry: b.Label(),
		Err:   fmt.Errorf("%w: %v", stores.ErrCorrupt, err),
		Hint:  fmt.Sprintf("repair or delete %s of %s, or restore the file from a backup", b.Label(), filepath.Base(f.name)),
	}
}

func (f *File) parseDER(data []byte) error {
	f.der = true
	f.nblocks = 1
	b := &Block{Index: 1, Type: "CERTIFICATE", Trust: stores.TrustAll()}
	c, err := stores.ParseCertificate(data)
	if err != nil {
		return &stores.Error{
			Path: f.name,
			Err:  fmt.Errorf("%w: neither PEM nor a DER certificate: %v", stores.ErrCorrupt, err),
			Hint: "point the store at a PEM bundle or a DER certificate, or restore the file from a backup",
		}
	}
	b.Cert = c
	f.pieces = []piece{{text: encodeCert(c.DER), block: b}}
	return nil
}

// decode reads a certificate block.
func (f *File) decode(b *Block, raw []byte) error {
	p, _ := encpem.Decode(raw)
	if p == nil || p.Type != b.Type {
		return f.corrupt(b, errors.New("bad PEM encoding (base64 or headers)"))
	}
	body := p.Bytes
	var aux []byte
	hasAux := false
	if b.Type == "TRUSTED CERTIFICATE" {
		s := cryptobyte.String(p.Bytes)
		var cert cryptobyte.String
		if !s.ReadASN1Element(&cert, cbasn1.SEQUENCE) {
			return f.corrupt(b, errors.New("TRUSTED CERTIFICATE does not start with a certificate"))
		}
		body, aux, hasAux = cert, s, len(s) > 0
	}
	c, err := stores.ParseCertificate(body)
	if err != nil {
		return f.corrupt(b, err)
	}
	b.Cert = c
	b.Trust = stores.TrustAll()
	if b.Type == "TRUSTED CERTIFICATE" {
		t, alias, err := auxTrust(aux, hasAux, c.SelfIssued)
		if err != nil {
			return f.corrupt(b, fmt.Errorf("trust settings: %v", err))
		}
		b.Trust, b.Alias = t, alias
	}
	return nil
}

// auxTrust maps OpenSSL's X509_CERT_AUX to rootsync trust, the way
// OpenSSL's obj_trust reads it: a rejected purpose (or anyExtendedKeyUsage)
// is distrusted; else a present trust list trusts only what it lists (all
// purposes for anyExtendedKeyUsage), so an empty list trusts nothing; with no
// trust list a self-signed certificate is trusted for everything.
func auxTrust(aux []byte, present, selfSigned bool) (stores.Trust, string, error) {
	var trustList, rejectList []string
	hasTrust, hasReject := false, false
	alias := ""
	if present {
		s := cryptobyte.String(aux)
		var seq cryptobyte.String
		if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
			return stores.Trust{}, "", errors.New("malformed X509_AUX after the certificate")
		}
		var err error
		if trustList, hasTrust, err = readOIDs(&seq, cbasn1.SEQUENCE); err != nil {
			return stores.Trust{}, "", fmt.Errorf("trust list: %v", err)
		}
		if rejectList, hasReject, err = readOIDs(&seq, cbasn1.Tag(0).Constructed().ContextSpecific()); err != nil {
			return stores.Trust{}, "", fmt.Errorf("reject list: %v", err)
		}
		var a cryptobyte.String
		var hasAlias bool
		if !seq.ReadOptionalASN1(&a, &hasAlias, cbasn1.UTF8String) {
			return stores.Trust{}, "", errors.New("malformed alias")
		}
		alias = string(a)
		var skip cryptobyte.String
		if !seq.ReadOptionalASN1(&skip, nil, cbasn1.OCTET_STRING) ||
			!seq.ReadOptionalASN1(&skip, nil, cbasn1.Tag(1).Constructed().ContextSpecific()) || !seq.Empty() {
			return stores.Trust{}, "", errors.New("malformed X509_AUX after the alias")
		}
	}
	has := func(list []string, oid []int) bool {
		s := oidString(oid)
		for _, o := range list {
			if o == s {
				return true
			}
		}
		return false
	}
	var t stores.Trust
	if hasReject && has(rejectList, oidAnyEKU) {
		return stores.DistrustAll(), alias, nil
	}
	for _, p := range stores.Purposes {
		switch {
		case hasReject && has(rejectList, purposeOIDs[p]):
			t[p] = stores.Distrusted
		case hasTrust:
			if has(trustList, purposeOIDs[p]) || has(trustList, oidAnyEKU) {
				t[p] = stores.Trusted
			}
		case selfSigned:
			t[p] = stores.Trusted
		}
	}
	return t, alias, nil
}

func readOIDs(s *cryptobyte.String, tag cbasn1.Tag) ([]string, bool, error) {
	var list cryptobyte.String
	var present bool
	if !s.ReadOptionalASN1(&list, &present, tag) {
		return nil, false, errors.New("malformed")
	}
	var out []string
	for !list.Empty() {
		var oid cryptobyte.String
		if !list.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) {
			return nil, false, errors.New("malformed object identifier")
		}
		out = append(out, fmt.Sprintf("%x", []byte(oid)))
	}
	return out, present, nil
}

// oidString is the hex of an OID's DER content, the form readOIDs returns.
func oidString(oid []int) string {
	var b cryptobyte.Builder
	b.AddASN1ObjectIdentifier(oid)
	der := b.BytesOrPanic()
	return fmt.Sprintf("%x", der[2:])
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
	var out []byte
	for _, p := range f.pieces {
		out = append(out, p.text...)
	}
	return out
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
		last := f.pieces[len(f.pieces)-1].text
		if len(last) > 0 && last[len(last)-1] != '\n' {
			f.pieces = append(f.pieces, piece{text: []byte("\n")})
		}
	}
	f.nblocks++
	b := &Block{Index: f.nblocks, Type: "CERTIFICATE", Cert: c, Trust: stores.TrustAll(), Owned: true}
	text := append([]byte(OwnerLine(c)), encodeCert(c.DER)...)
	f.pieces = append(f.pieces, piece{text: text, block: b})
	f.changed = true
}

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

// OwnerLine is the ownership comment written before a block rootsync adds.
func OwnerLine(c *stores.Certificate) string {
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, c.Subject)
	return OwnerPrefix + s + "\n"
}

func encodeCert(der []byte) []byte { return pemEncode("CERTIFICATE", der) }

func pemEncode(typ string, der []byte) []byte {
	return encpem.EncodeToMemory(&encpem.Block{Type: typ, Bytes: der})
}
