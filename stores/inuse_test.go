package stores_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

// TestInUse: InUse finds the Certificate ParseCertificate made for the same
// DER (from another buffer) while it is in use, and nothing for DER never
// parsed.
func TestInUse(t *testing.T) {
	der := testpki.RootDER("InUse Root")
	if c := stores.InUse(testpki.RootDER("InUse Never Parsed")); c != nil {
		t.Fatalf("InUse of DER never parsed: %v", c.Subject)
	}
	c, err := stores.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	cp := bytes.Clone(der)
	if got := stores.InUse(cp); got != c {
		t.Fatalf("InUse = %p, want %p", got, c)
	}
	runtime.KeepAlive(c)
}
