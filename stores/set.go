package stores

import (
	"sort"
	"strings"
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

// Get returns the entry for f, or nil.
func (s *Set) Get(f Fingerprint) *Entry { return s.m[f] }

// Len is the number of distinct certificates.
func (s *Set) Len() int { return len(s.m) }

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
	// The lower-case names are made once, not at every comparison.
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = strings.ToLower(e.Cert.CommonName())
	}
	sort.Sort(byName{es, keys})
}

type byName struct {
	es   []*Entry
	keys []string
}

func (b byName) Len() int { return len(b.es) }

func (b byName) Swap(i, j int) {
	b.es[i], b.es[j] = b.es[j], b.es[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}

func (b byName) Less(i, j int) bool {
	if b.keys[i] != b.keys[j] {
		return b.keys[i] < b.keys[j]
	}
	return string(b.es[i].Cert.Fingerprint[:]) < string(b.es[j].Cert.Fingerprint[:])
}

// Less is the order of SortEntries.
func Less(a, b *Certificate) bool {
	an, bn := strings.ToLower(a.CommonName()), strings.ToLower(b.CommonName())
	if an != bn {
		return an < bn
	}
	return string(a.Fingerprint[:]) < string(b.Fingerprint[:])
}
