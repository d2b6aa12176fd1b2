package nss

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"iter"
	"math/bits"
	"sort"
	"strconv"
	"time"
)

// This file holds how rows are kept in memory once read: each row's bytes in
// one allocation, trust attributes as a short list, signatures with the part
// they share stored once. A database of n certificates then costs a few
// hundred bytes per certificate beyond the certificates themselves.

// rawCol receives one column as the driver gives it, without the copy
// database/sql makes for a []byte destination. The bytes are valid until the
// next call of Next; what is kept is copied (see pack). Other types read as
// database/sql would convert them to []byte.
type rawCol struct{ b []byte }

func (c *rawCol) Scan(src any) error {
	switch s := src.(type) {
	case nil:
		c.b = nil
	case []byte:
		c.b = s
	case string:
		c.b = []byte(s)
	case int64:
		c.b = strconv.AppendInt(nil, s, 10)
	case float64:
		c.b = strconv.AppendFloat(nil, s, 'g', -1, 64)
	case bool:
		c.b = strconv.AppendBool(nil, s)
	case time.Time:
		c.b = s.AppendFormat(nil, time.RFC3339Nano)
	default:
		return fmt.Errorf("unsupported column type %T", src)
	}
	return nil
}

// idCol receives a metaData id. Text, as NSS writes ids, is kept as the
// string the driver made, without the copy rawCol would make; anything else
// reads as rawCol reads it.
type idCol struct {
	text   string
	isText bool
	raw    rawCol
}

func (c *idCol) Scan(src any) error {
	if s, ok := src.(string); ok {
		c.text, c.isText = s, true
		return nil
	}
	c.isText = false
	return c.raw.Scan(src)
}

// sigKey reads the id as parseSigID does.
func (c *idCol) sigKey() (sigKey, bool) {
	if c.isText {
		return parseSigID(c.text)
	}
	return parseSigID(c.raw.b)
}

// pack copies the slices parts point to into one new allocation and points
// them there; nil stays nil, empty stays empty.
func pack(parts ...*[]byte) {
	n := 0
	for _, p := range parts {
		n += len(*p)
	}
	buf := make([]byte, 0, n)
	for _, p := range parts {
		if *p == nil {
			continue
		}
		start := len(buf)
		buf = append(buf, *p...)
		*p = buf[start:len(buf):len(buf)]
	}
}

// attrList is the attributes of a trust object that were read, in
// ascending attribute order (trustAttrOrder); absent ones are not listed.
// buf holds a mask of two bytes (bit k set when trustAttrOrder[k] is
// listed), where each listed value ends (a uint32 each), the values back to
// back, and then whatever bytes the owner keeps after them (extra): one
// allocation per trust object. A nil buf lists nothing.
type attrList struct {
	buf []byte
}

// newAttrList lists the attributes of trustAttrOrder for which get returns
// a value; the returned slice is l.buf with room for extra more bytes,
// which the caller appends and then stores as l.buf.
func newAttrList(get func(uint32) []byte, extra int) (attrList, []byte) {
	var mask uint16
	n, size := 0, 0
	for k, t := range trustAttrOrder {
		if v := get(t); v != nil {
			mask |= 1 << k
			n, size = n+1, size+len(v)
		}
	}
	buf := make([]byte, 2+4*n, 2+4*n+size+extra)
	binary.LittleEndian.PutUint16(buf, mask)
	i := 0
	for _, t := range trustAttrOrder {
		if v := get(t); v != nil {
			buf = append(buf, v...)
			binary.LittleEndian.PutUint32(buf[2+4*i:], uint32(len(buf)-2-4*n))
			i++
		}
	}
	return attrList{buf: buf[:len(buf):len(buf)]}, buf
}

func (l attrList) mask() uint16 {
	if len(l.buf) < 2 {
		return 0
	}
	return binary.LittleEndian.Uint16(l.buf)
}

func (l attrList) len() int { return bits.OnesCount16(l.mask()) }

// vals is the values, back to back, and what follows them.
func (l attrList) vals() []byte {
	if len(l.buf) < 2 {
		return nil
	}
	return l.buf[2+4*l.len():]
}

// extra is what follows the values.
func (l attrList) extra() []byte {
	n := l.len()
	if n == 0 {
		return l.vals()
	}
	return l.vals()[binary.LittleEndian.Uint32(l.buf[2+4*(n-1):]):]
}

// at returns the i-th attribute and its value.
func (l attrList) at(i int) (uint32, []byte) {
	k, m := 0, l.mask()
	for j := 0; ; k++ {
		if m&(1<<k) != 0 {
			if j == i {
				break
			}
			j++
		}
	}
	start := uint32(0)
	if i > 0 {
		start = binary.LittleEndian.Uint32(l.buf[2+4*(i-1):])
	}
	end := binary.LittleEndian.Uint32(l.buf[2+4*i:])
	return trustAttrOrder[k], l.vals()[start:end:end]
}

// get returns the value of attr, nil when absent.
func (l attrList) get(attr uint32) []byte {
	for k, t := range trustAttrOrder {
		if t == attr {
			m := l.mask()
			if m&(1<<k) == 0 {
				return nil
			}
			_, v := l.at(bits.OnesCount16(m & (1<<k - 1)))
			return v
		}
	}
	return nil
}

// all yields each attribute and its value.
func (l attrList) all() iter.Seq2[uint32, []byte] {
	return func(yield func(uint32, []byte) bool) {
		for i := range l.len() {
			if !yield(l.at(i)) {
				return
			}
		}
	}
}

// trustAttrOrder is trustReadAttrs in ascending order.
var trustAttrOrder = func() []uint32 {
	s := append([]uint32(nil), trustReadAttrs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}()

// pairHash hashes an issuer and serial number pair unambiguously.
func pairHash(seed maphash.Seed, issuer, serial []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(issuer)))])
	h.Write(issuer)
	h.Write(serial)
	return h.Sum64()
}

// sigTail is how many bytes at the end of a signature differ from one
// signature to the next: the HMAC-SHA-256 value. What comes before it (the
// algorithm, salt and iteration count) is the same for all the signatures of
// one write, so sigTable keeps one copy of it.
const sigTail = 32

// sigTable holds key4.db's certificate signatures, by object id.
type sigTable struct {
	m        map[uint32][]sigEntry
	n        int
	prefixes []string          // the distinct beginnings of the signatures
	intern   map[string]uint32 // index in prefixes
}

// sigEntry is one signature: prefixes[prefix] followed by tail[:tailLen].
type sigEntry struct {
	attr    uint32
	prefix  uint32
	tail    [sigTail]byte
	tailLen uint8
}

func (t *sigTable) len() int { return t.n }

// lookup returns the signature of k in its two parts.
func (t *sigTable) lookup(k sigKey) (prefix string, tail []byte, ok bool) {
	es := t.m[k.id]
	for i := range es {
		if es[i].attr == k.attr {
			return t.prefixes[es[i].prefix], es[i].tail[:es[i].tailLen], true
		}
	}
	return "", nil, false
}

// get returns a copy of the signature of k.
func (t *sigTable) get(k sigKey) ([]byte, bool) {
	prefix, tail, ok := t.lookup(k)
	if !ok {
		return nil, false
	}
	return append([]byte(prefix), tail...), true
}

// set keeps a copy of der as the signature of k.
func (t *sigTable) set(k sigKey, der []byte) {
	if t.m == nil {
		t.m = map[uint32][]sigEntry{}
	}
	if t.intern == nil {
		t.intern = map[string]uint32{}
	}
	split := max(len(der)-sigTail, 0)
	idx, ok := t.intern[string(der[:split])]
	if !ok {
		idx = uint32(len(t.prefixes))
		t.prefixes = append(t.prefixes, string(der[:split]))
		t.intern[t.prefixes[idx]] = idx
	}
	e := sigEntry{attr: k.attr, prefix: idx}
	e.tailLen = uint8(copy(e.tail[:], der[split:]))
	es := t.m[k.id]
	for i := range es {
		if es[i].attr == k.attr {
			es[i] = e
			return
		}
	}
	t.m[k.id] = append(es, e)
	t.n++
}

// forID calls f with each signature of object id.
func (t *sigTable) forID(id uint32, f func(sigKey, []byte)) {
	for _, e := range t.m[id] {
		f(sigKey{id, e.attr}, append([]byte(t.prefixes[e.prefix]), e.tail[:e.tailLen]...))
	}
}

// forEach calls f with every signature.
func (t *sigTable) forEach(f func(sigKey, []byte)) {
	for id := range t.m {
		t.forID(id, f)
	}
}

// done drops what only reading needed.
func (t *sigTable) done() { t.intern = nil }
