package capath

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

// TestParseHashName: parseHashName and isOwnedName accept exactly the names
// the regular expressions of the HASH.N, HASH.rN and rootsync-<16 hex>.pem
// forms match, and read HASH and N as those groups say.
func TestParseHashName(t *testing.T) {
	names := []string{
		"0123abcd.0", "0123abcd.r0", "0123abcd.00", "0123abcd.255", "0123abcd.256", "0123abcd.r12",
		"0123abcd.", "0123abcd.r", "0123ABCD.0", "0123abcg.0", "0123abc.0", "0123abcde.0", "0123abcd.0 ",
		"0123abcd.-1", "0123abcd.+1", "0123abcd.1r", "0123abcd.rr1", "0123abcd_0", "ffffffff.99999999999999999999",
		"rootsync-0123456789abcdef.pem", "rootsync-0123456789ABCDEF.pem", "rootsync-0123456789abcde.pem",
		"rootsync-0123456789abcdef0.pem", "rootsync-0123456789abcdef.pem.", "xrootsync-0123456789abcdef.pem", "",
	}
	r := rand.New(rand.NewSource(1))
	const alphabet = "0123456789abcdefAr.-pemrootsync"
	for i := 0; i < 20000; i++ {
		b := []byte(names[r.Intn(len(names))])
		for k := r.Intn(3); k > 0 && len(b) > 0; k-- {
			b[r.Intn(len(b))] = alphabet[r.Intn(len(alphabet))]
		}
		names = append(names, string(b))
	}
	for _, name := range names {
		hash, crl, n, ok := parseHashName(name)
		m := linkRE.FindStringSubmatch(name)
		if ok != (m != nil) {
			t.Fatalf("parseHashName(%q) ok = %v, the expression says %v", name, ok, m != nil)
		}
		if m != nil {
			wantHash, _ := strconv.ParseUint(m[1], 16, 32)
			wantN, _ := strconv.Atoi(m[3])
			if hash != uint32(wantHash) || crl != (m[2] == "r") || n != wantN {
				t.Fatalf("parseHashName(%q) = %08x %v %d, want %s %v %d", name, hash, crl, n, m[1], m[2] == "r", wantN)
			}
		}
		if got, want := isOwnedName(name), ownedRE.MatchString(name); got != want {
			t.Fatalf("isOwnedName(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestHashNames: the HASH.N bookkeeping gives the lowest free N of a hash,
// keeps hashes apart, ignores names beyond the 256 OpenSSL looks at, lets
// the later of two names with one N stand for it, and says when all 256 are
// taken.
func TestHashNames(t *testing.T) {
	u := newHashNames()
	const a, b = 0x0123abcd, 0x0123abce
	if n := u.free(a); n != 0 {
		t.Fatalf("free of an unused hash = %d, want 0", n)
	}
	u.take(a, 0, 10)
	u.take(a, 1, 11)
	u.take(a, 3, 12)
	u.take(a, 300, 13)
	u.take(b, 0, 20)
	if n := u.free(a); n != 2 {
		t.Errorf("free(a) = %d, want 2", n)
	}
	if n := u.free(b); n != 1 {
		t.Errorf("free(b) = %d, want 1 (the hashes' names are apart)", n)
	}
	u.take(a, 3, 14) // HASH.03 after HASH.3
	got := map[int]int32{}
	for k := u.first[a]; k != 0; k = u.slots[k-1].next {
		if _, dup := got[u.slots[k-1].n]; dup {
			t.Errorf("N %d listed twice", u.slots[k-1].n)
		}
		got[u.slots[k-1].n] = u.slots[k-1].who
	}
	want := map[int]int32{0: 10, 1: 11, 3: 14, 300: 13}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("names of a = %v, want %v", got, want)
	}
	for n := 0; n < maxLinks; n++ {
		if n != 200 {
			u.take(b, n, int32(-1-n))
		}
	}
	if n := u.free(b); n != 200 {
		t.Errorf("free(b) with only 200 open = %d, want 200", n)
	}
	u.take(b, 200, -500)
	if n := u.free(b); n != maxLinks {
		t.Errorf("free(b) with all taken = %d, want %d", n, maxLinks)
	}
}

// TestLinkName: linkName writes HASH.N as openssl rehash does.
func TestLinkName(t *testing.T) {
	for _, tc := range []struct {
		hash uint32
		n    int
		want string
	}{{0, 0, "00000000.0"}, {0x0123abcd, 7, "0123abcd.7"}, {0xffffffff, 255, "ffffffff.255"}} {
		if got := linkName(tc.hash, tc.n); got != tc.want {
			t.Errorf("linkName(%#x, %d) = %q, want %q", tc.hash, tc.n, got, tc.want)
		}
	}
}

// TestScanLinks: scan resolves where each link points (an entry, a name
// that is not there, outside the folder) and which files the HASH.N names
// serve, following links to links.
func TestScanLinks(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "certs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "a.pem"), nil)
	writeFile(t, filepath.Join(dir, "0000000b.0"), nil) // a file named HASH.N
	writeFile(t, filepath.Join(base, "out.pem"), nil)
	for name, target := range map[string]string{
		"0000000a.0":  "a.pem",
		"0000000a.1":  "./0000000a.0", // a link to a link
		"0000000c.0":  "gone.pem",
		"0000000d.0":  "../out.pem",
		"0000000d.r0": "a.pem", // a CRL link: not listed
		"a-alias.pem": "a.pem", // a link not named HASH.N
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := open(t, dir).(*Store).scan()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range f.entries {
		names = append(names, e.name)
	}
	if want := "[0000000a.0 0000000a.1 0000000b.0 0000000c.0 0000000d.0 a-alias.pem a.pem]"; fmt.Sprint(names) != want {
		t.Fatalf("entries %v, want %s", names, want)
	}
	idx := func(name string) int32 {
		i := f.index(name)
		if i < 0 {
			t.Fatalf("no entry %s", name)
		}
		return i
	}
	for _, tc := range []struct {
		name, ref, label, holder string
		inFolder                 bool
	}{
		{"0000000a.0", "a.pem", "0000000a.0", "a.pem", true},
		{"0000000a.1", "0000000a.0", "0000000a.1", "a.pem", true},
		{"0000000b.0", "", "0000000b.0", "0000000b.0", false},
		{"0000000c.0", "gone.pem", "0000000c.0", "0000000c.0", true},
		{"0000000d.0", "", "out.pem", "0000000d.0", false},
		{"a-alias.pem", "", "a-alias.pem", "a-alias.pem", false},
	} {
		i := idx(tc.name)
		if got := f.refName(i); got != tc.ref {
			t.Errorf("%s: refName %q, want %q", tc.name, got, tc.ref)
		}
		if got := f.label(i); got != tc.label {
			t.Errorf("%s: label %q, want %q", tc.name, got, tc.label)
		}
		if got := f.entries[f.holder(i)].name; got != tc.holder {
			t.Errorf("%s: holder %q, want %q", tc.name, got, tc.holder)
		}
		if got := f.entries[i].link && f.inFolder(i); got != tc.inFolder {
			t.Errorf("%s: a link into the folder = %v, want %v", tc.name, got, tc.inFolder)
		}
	}
	r := f.reachable()
	for _, tc := range []struct {
		hash uint32
		name string
		want bool
	}{
		{0xa, "a.pem", true}, {0xa, "0000000a.0", false}, {0xb, "0000000b.0", true}, {0xb, "a.pem", false},
		{0xc, "0000000c.0", true}, {0xd, "0000000d.0", true}, {0xd, "a.pem", false},
	} {
		if got := r.has(tc.hash, idx(tc.name)); got != tc.want {
			t.Errorf("reachable: %08x serves %s = %v, want %v", tc.hash, tc.name, got, tc.want)
		}
	}
}

// TestRenumberClosesGaps: removing the certificates behind HASH.1 and HASH.3
// of five moves HASH.4 to HASH.1 and leaves the others where they were.
func TestRenumberClosesGaps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	s := open(t, dir)
	roots := colliding(5)
	apply(t, s, adds(roots...))
	before := linkMap(t, dir, false)
	if len(before) != 5 {
		t.Fatalf("%d links, want 5", len(before))
	}
	h, _ := HashName(stores.MustParse(roots[0].DER).RawSubject)
	set := load(t, s)
	var ch []stores.Change
	for _, n := range []int{1, 3} {
		for _, e := range set.Entries() {
			if e.Cert.Fingerprint.Short() == before[fmt.Sprintf("%s.%d", h, n)] {
				ch = append(ch, stores.Change{Action: stores.Remove, Entry: e})
			}
		}
	}
	if len(ch) != 2 {
		t.Fatalf("found %d of the certificates behind %s.1 and %s.3", len(ch), h, h)
	}
	apply(t, s, ch)
	want := map[string]string{h + ".0": before[h+".0"], h + ".1": before[h+".4"], h + ".2": before[h+".2"]}
	compareMaps(t, "links after removing .1 and .3", linkMap(t, dir, false), want)
}

// TestListDir: listDir reads the same names as os.ReadDir, with the same
// symbolic links, over listings longer than one read of the folder.
func TestListDir(t *testing.T) {
	dir := t.TempDir()
	want := map[string]bool{}
	for i := 0; i < 3000; i++ {
		name := fmt.Sprintf("rootsync-%016x.pem", i*7919)
		if i%3 == 0 {
			name = fmt.Sprintf("%08x.%d", i, i%5)
			if err := os.Symlink("target", filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			want[name] = true
			continue
		}
		writeFile(t, filepath.Join(dir, name), nil)
		want[name] = false
	}
	long := strings.Repeat("x", 250)
	if err := os.Mkdir(filepath.Join(dir, long), 0o755); err != nil {
		t.Fatal(err)
	}
	want[long] = false
	got := map[string]bool{}
	if !listDir(dir, func(name []byte, symlink bool) { got[string(name)] = symlink }) {
		t.Skip("listDir reads no folder on this system")
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listDir read %d names, want %d (or link flags differ)", len(got), len(want))
	}
	if listDir(filepath.Join(dir, "missing"), func([]byte, bool) {}) {
		t.Error("listDir of a missing folder reports success")
	}
}

// TestLinkLimit: with HASH.0 to HASH.255 all taken (a name beyond them does
// not count), an Add of a certificate with that hash fails naming the hash
// and leaves the folder as it was; with one of them free, the Add takes it.
func TestLinkLimit(t *testing.T) {
	roots := colliding(2)
	h, _ := HashName(stores.MustParse(roots[0].DER).RawSubject)
	for _, free := range []int{-1, 137} {
		dir := t.TempDir()
		for n := 0; n <= 300; n++ {
			if n == free || (n >= maxLinks && n != 300) {
				continue
			}
			if err := os.Symlink(fmt.Sprintf("elsewhere-%d.pem", n), filepath.Join(dir, fmt.Sprintf("%s.%d", h, n))); err != nil {
				t.Fatal(err)
			}
		}
		s := open(t, dir)
		before := storetest.Snapshot(t, s.Paths())
		err := s.Apply(context.Background(), adds(roots[0]))
		if free < 0 {
			if err == nil || !strings.Contains(err.Error(), "all 256 links for hash "+h+" are taken") {
				t.Errorf("Add with every link taken: %v", err)
			}
			storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
			continue
		}
		if err != nil {
			t.Fatalf("Add with %s.%d free: %v", h, free, err)
		}
		want := OwnedName(stores.FingerprintOf(roots[0].DER))
		if got, err := os.Readlink(filepath.Join(dir, fmt.Sprintf("%s.%d", h, free))); err != nil || got != want {
			t.Errorf("%s.%d -> %q, %v; want -> %s", h, free, got, err, want)
		}
	}
}
