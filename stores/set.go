package stores

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"iter"
	"slices"
	"unicode"
	"unicode/utf8"
)

// Entry is one certificate in one store, with what that store says about it.
type Entry struct {
	Cert  *Certificate
	Trust Trust
	// Owned: rootsync added this entry (the store carries rootsync's mark on it),
	// so prune mode may remove it.
	Owned bool
	// Label is the store's own name for the entry: a nickname, alias, file name
	// or "block 3". For messages only; never used as identity.
	Label string
	// Notes are the store's remarks on this entry (unverified trust, duplicates
	// folded, ...), shown by list and carried into plans as warnings.
	Notes []string
	// PrivateKey: the store holds this certificate's private key (an NSS
	// user certificate, flag u). It is someone's own certificate, not a root:
	// listed, but never planned: not removed, its trust not changed, not
	// copied into other stores.
	PrivateKey bool
}

// Set is a collection of entries keyed by fingerprint. The zero value is not
// usable; call NewSet.
type Set struct {
	m map[Fingerprint]*Entry
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{m: make(map[Fingerprint]*Entry)} }

// NewSetSize returns an empty set with room for n certificates, for a
// caller that knows how many it will add: the set does not grow (and leave
// its smaller tables behind as garbage) while they are added.
func NewSetSize(n int) *Set { return &Set{m: make(map[Fingerprint]*Entry, n)} }

// Add puts e in the set. If the certificate is already there, the two
// statements are merged (distrust wins), ownership is kept if either is owned,
// and the first label is kept.
func (s *Set) Add(e *Entry) {
	if old, ok := s.m[e.Cert.Fingerprint]; ok {
		old.Trust = old.Trust.Merge(e.Trust)
		old.Owned = old.Owned || e.Owned
		old.PrivateKey = old.PrivateKey || e.PrivateKey
		old.Notes = append(old.Notes, e.Notes...)
		return
	}
	cp := *e
	s.m[e.Cert.Fingerprint] = &cp
}

// Put is Add without the copy: a new certificate's entry is e itself, which
// the caller gives up (it must not change or reuse it afterwards). For
// building a set from another one's entries without holding each twice.
func (s *Set) Put(e *Entry) {
	if _, ok := s.m[e.Cert.Fingerprint]; ok {
		s.Add(e)
		return
	}
	s.m[e.Cert.Fingerprint] = e
}

// Delete takes the certificate f out of the set (nothing if it is not
// there). It may be called while All walks the set.
func (s *Set) Delete(f Fingerprint) { delete(s.m, f) }

// Get returns the entry for f, or nil.
func (s *Set) Get(f Fingerprint) *Entry { return s.m[f] }

// Len is the number of distinct certificates.
func (s *Set) Len() int { return len(s.m) }

// All yields every entry in no particular order (a different one each
// time): for callers whose result does not depend on the order, which need
// not sort the set as Entries does.
func (s *Set) All() iter.Seq[*Entry] {
	return func(yield func(*Entry) bool) {
		for _, e := range s.m {
			if !yield(e) {
				return
			}
		}
	}
}

// Entries returns the entries sorted by common name, then fingerprint.
func (s *Set) Entries() []*Entry {
	out := make([]*Entry, 0, len(s.m))
	for _, e := range s.m {
		out = append(out, e)
	}
	SortEntries(out)
	return out
}

// SortEntries orders entries by common name (ignoring case), then
// fingerprint: the order of every listing and plan.
func SortEntries(es []*Entry) {
	// Each name is lowered once, not at every comparison, into one buffer
	// for all of them, and its first eight bytes are kept beside it as a
	// number: most comparisons end there, without reading the name itself.
	keys := make([]entryKey, len(es))
	size := 0
	for _, e := range es {
		size += len(e.Cert.CommonName())
	}
	names := make([]byte, 0, size)
	for i, e := range es {
		start := len(names)
		names = appendLower(names, e.Cert.CommonName())
		keys[i] = entryKey{start: start, end: len(names), e: e}
	}
	// The bytes every name starts with (a vendor's name, "Example Issuing
	// CA ") decide no comparison: the number is made of the eight after them,
	// and the names are compared from there on.
	common := 0
	if len(keys) > 0 {
		first := names[keys[0].start:keys[0].end]
		common = len(first)
		for _, k := range keys[1:] {
			common = min(common, commonPrefix(first[:common], names[k.start:k.end]))
		}
	}
	for i := range keys {
		keys[i].start += common
		keys[i].prefix = namePrefix(names[keys[i].start:keys[i].end])
	}
	slices.SortFunc(keys, func(a, b entryKey) int {
		if a.prefix != b.prefix {
			return cmp.Compare(a.prefix, b.prefix)
		}
		if c := bytes.Compare(names[a.start:a.end], names[b.start:b.end]); c != 0 {
			return c
		}
		return bytes.Compare(a.e.Cert.Fingerprint[:], b.e.Cert.Fingerprint[:])
	})
	for i, k := range keys {
		es[i] = k.e
	}
}

// commonPrefix is the length of the bytes a and b start with alike.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// entryKey is an entry with its lowered name after the bytes all names
// share, names[start:end] in SortEntries.
type entryKey struct {
	prefix     uint64
	start, end int
	e          *Entry
}

// namePrefix is the first eight bytes of s as a big-endian number (zeros
// after a shorter s): a < b for two prefixes means s < t for their strings.
func namePrefix(s []byte) uint64 {
	var b [8]byte
	copy(b[:], s)
	return binary.BigEndian.Uint64(b[:])
}

// appendLower appends strings.ToLower(s) to dst without making it: ASCII
// byte by byte, anything else rune by rune as strings.Map(unicode.ToLower)
// lowers it (an invalid byte becomes U+FFFD).
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			for _, r := range s[i:] {
				dst = utf8.AppendRune(dst, unicode.ToLower(r))
			}
			return dst
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// Less is the order of SortEntries. It makes no lower-case copies.
func Less(a, b *Certificate) bool { return Compare(a, b) < 0 }

// Compare is the order of SortEntries as a comparison for slices.SortFunc:
// negative when a comes before b.
func Compare(a, b *Certificate) int {
	if c := compareFold(a.CommonName(), b.CommonName()); c != 0 {
		return c
	}
	return bytes.Compare(a.Fingerprint[:], b.Fingerprint[:])
}

// compareFold compares strings.ToLower(a) with strings.ToLower(b) without
// making them: rune by rune, each lowered as ToLower lowers it (an invalid
// byte reads as U+FFFD, as ToLower writes it), which orders as the UTF-8
// bytes of the lowered strings do.
func compareFold(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if c := cmp.Compare(unicode.ToLower(ra), unicode.ToLower(rb)); c != 0 {
			return c
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
}
