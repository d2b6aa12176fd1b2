//go:build windows

package windows

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/storetest"
)

var (
	storeCount atomic.Int64
	runID      = func() string {
		b := make([]byte, 6)
		rand.Read(b)
		return hex.EncodeToString(b)
	}()
)

// testStoreName returns the name of a CurrentUser store of this test alone,
// which starts empty and is deleted (with its distrust store) afterwards.
func testStoreName(t *testing.T) string {
	name := fmt.Sprintf("rootsync-test-%s-%d", runID, storeCount.Add(1))
	t.Cleanup(func() {
		deleteStore(t, CurrentUser, name)
		deleteStore(t, CurrentUser, name+"-Disallowed")
	})
	return name
}

// deleteStore removes the registry key of PLACE\NAME with its subkeys
// (Wine does not implement CERT_STORE_DELETE_FLAG).
func deleteStore(t *testing.T, place, name string) {
	root, path := registry.CURRENT_USER, `Software\Microsoft\SystemCertificates\`+name
	if place == LocalMachine {
		root, path = registry.LOCAL_MACHINE, `SOFTWARE\Microsoft\SystemCertificates\`+name
	}
	if err := deleteKey(root, path); err != nil && !errors.Is(err, registry.ErrNotExist) {
		t.Errorf("delete store %s\\%s: %v", place, name, err)
	}
}

func deleteKey(root registry.Key, path string) error {
	k, err := registry.OpenKey(root, path, registry.ENUMERATE_SUB_KEYS)
	if err != nil {
		return err
	}
	subs, err := k.ReadSubKeyNames(-1)
	k.Close()
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if err := deleteKey(root, path+`\`+sub); err != nil {
			return err
		}
	}
	return registry.DeleteKey(root, path)
}

func openSpec(t *testing.T, spec string) *Store {
	t.Helper()
	sp, err := Kind().ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(sp, stores.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*Store)
}

// addForeign adds der to PLACE\NAME as another program would: no friendly
// name, no properties.
func addForeign(t *testing.T, place, name string, der []byte) {
	t.Helper()
	cs, err := openStore(place, name, false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.close()
	c, err := cs.addEncoded(der, addNew)
	if err != nil {
		t.Fatal(err)
	}
	windows.CertFreeCertificateContext(c)
	if err := cs.commit(); err != nil {
		t.Fatal(err)
	}
}

// TestConformance runs the storetest suite against crypt32 in a store of
// its own (with a distrust store of its own), which starts empty.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, dir string) stores.Store {
			name := testStoreName(t)
			return openSpec(t, "windows:CurrentUser/"+name+"?disallowed="+name+"-Disallowed")
		},
		AddForeign: func(t *testing.T, s stores.Store, c *stores.Certificate) {
			addForeign(t, CurrentUser, s.(*Store).loc.name, c.DER)
		},
		SkipReadOnly: true,
		NoDir:        true,
	})
}

func apply(t *testing.T, s stores.Store, ch ...stores.Change) {
	t.Helper()
	if err := s.Apply(context.Background(), ch); err != nil {
		t.Fatalf("Apply(%s): %v", s.Spec(), err)
	}
}

func load(t *testing.T, s stores.Store) *stores.Set {
	t.Helper()
	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load(%s): %v", s.Spec(), err)
	}
	return set
}

func add(c *testpki.Cert, tr stores.Trust) stores.Change {
	return stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: stores.MustParse(c.DER), Trust: tr}, Reason: "test"}
}

// TestPropertiesReadBack: the enhanced-key-usage property, the friendly
// name and the Disallowed entry that rootsync writes are what crypt32 gives
// back in another process. (Wine's chain engine ignores both the property
// and Disallowed, so reading them back through the API is the test.)
func TestPropertiesReadBack(t *testing.T) {
	name := testStoreName(t)
	spec := "windows:CurrentUser/" + name + "?disallowed=" + name + "-Disallowed"
	s := openSpec(t, spec)
	client := testpki.Root("Windows Readback Client Root")
	bad := testpki.Root("Windows Readback Distrusted Root")
	apply(t, s, add(client, stores.Trust{}.With(stores.ClientAuth, stores.Trusted)), add(bad, stores.DistrustAll()))
	out := readInChild(t, spec)
	for _, want := range []string{
		"rootsync - Windows Readback Client Root|owned|" + (stores.Trust{}.With(stores.ClientAuth, stores.Trusted)).String(),
		"rootsync - Windows Readback Distrusted Root|owned|" + stores.DistrustAll().String(),
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("another process reads\n%s\nwant a line %q", out, want)
		}
	}
	// The raw property is the DER list of the one purpose.
	cs, err := openStore(CurrentUser, name, false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.close()
	var prop []byte
	cs.each(func(c *windows.CertContext) error {
		prop, _, _ = property(c, propEnhKeyUsage)
		return nil
	})
	if fmt.Sprintf("%x", prop) != "300a06082b06010505070302" {
		t.Errorf("enhanced-key-usage property %x, want client auth only", prop)
	}
}

// readInChild loads spec in a new process (this test binary) and returns
// one line per entry: label|owned|trust.
func readInChild(t *testing.T, spec string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildLoad$")
	cmd.Env = append(os.Environ(), "ROOTSYNC_CHILD_SPEC="+spec)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	return string(out)
}

// TestChildLoad is the child of readInChild; it does nothing on its own.
func TestChildLoad(t *testing.T) {
	spec := os.Getenv("ROOTSYNC_CHILD_SPEC")
	if spec == "" {
		return
	}
	for _, e := range load(t, openSpec(t, spec)).Entries() {
		owned := "foreign"
		if e.Owned {
			owned = "owned"
		}
		fmt.Printf("%s|%s|%s\n", e.Label, owned, e.Trust)
	}
}

// TestTLSClientTrustsRoot: a Go TLS client with the system roots (on
// Windows: CertGetCertificateChain) fails before rootsync adds a test root
// to CurrentUser\Root, succeeds after, and fails again after removal.
func TestTLSClientTrustsRoot(t *testing.T) {
	root := testpki.Root("rootsync Windows TLS Test Root")
	leaf := root.Leaf("localhost")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.DER, root.DER}, PrivateKey: leaf.Key}}}
	srv.StartTLS()
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	// Each attempt is a new process: Wine's chain engine reads the root
	// stores once per process.
	get := func() error {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildTLS$")
		cmd.Env = append(os.Environ(), "ROOTSYNC_CHILD_URL="+url)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.Contains(string(out), "tls ok") {
			return fmt.Errorf("no answer: %s", out)
		}
		return nil
	}
	s := openSpec(t, "windows:CurrentUser/Root")
	fp := stores.FingerprintOf(root.DER)
	t.Cleanup(func() {
		if e := load(t, s).Get(fp); e != nil {
			_ = s.Apply(context.Background(), []stores.Change{{Action: stores.Remove, Entry: e}})
		}
	})
	if err := get(); err == nil {
		t.Fatal("the TLS client trusts the test root before it is added")
	}
	apply(t, s, add(root, stores.TrustAll()))
	if err := get(); err != nil {
		t.Fatalf("after adding the root to CurrentUser\\Root: %v", err)
	}
	e := load(t, s).Get(fp)
	if e == nil || !e.Owned {
		t.Fatalf("the added root reads back as %+v", e)
	}
	apply(t, s, stores.Change{Action: stores.Remove, Entry: e, Reason: "test"})
	if err := get(); err == nil {
		t.Fatal("the TLS client still trusts the root after its removal")
	}
	if load(t, s).Get(fp) != nil {
		t.Fatal("the removed root is still in CurrentUser\\Root")
	}
}

// TestChildTLS is the TLS client of TestTLSClientTrustsRoot: Go's client
// with the system roots, so CertGetCertificateChain decides. It does
// nothing on its own.
func TestChildTLS(t *testing.T) {
	url := os.Getenv("ROOTSYNC_CHILD_URL")
	if url == "" {
		return
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println("tls ok")
}

// TestInheritedEntry: a root that only LocalMachine\Root holds is what
// CurrentUser\Root shows when crypt32's view includes it; it is then listed
// as inherited, and removing it through CurrentUser is refused, leaving it in
// LocalMachine\Root.
func TestInheritedEntry(t *testing.T) {
	root := testpki.Root("rootsync Windows Inherited Test Root")
	lm := openSpec(t, "windows:LocalMachine/Root")
	fp := stores.FingerprintOf(root.DER)
	apply(t, lm, add(root, stores.TrustAll()))
	t.Cleanup(func() {
		if e := load(t, lm).Get(fp); e != nil {
			apply(t, lm, stores.Change{Action: stores.Remove, Entry: e, Reason: "test"})
		}
	})
	cu := openSpec(t, "windows:CurrentUser/Root")
	e := load(t, cu).Get(fp)
	if e == nil {
		t.Skip("crypt32's CurrentUser\\Root view does not show LocalMachine\\Root entries here")
	}
	if !strings.Contains(strings.Join(e.Notes, "; "), "inherited from LocalMachine") {
		t.Errorf("entry inherited from LocalMachine has notes %q", e.Notes)
	}
	err := cu.Apply(context.Background(), []stores.Change{{Action: stores.Remove, Entry: e, Reason: "test"}})
	if err == nil || !strings.Contains(err.Error(), "inherited") {
		t.Fatalf("removing an inherited entry through CurrentUser: %v, want a refusal", err)
	}
	if load(t, lm).Get(fp) == nil {
		t.Fatal("the refused removal took the root out of LocalMachine\\Root")
	}
}
