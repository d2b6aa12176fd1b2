package javastore_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"

	"github.com/rootsync/rootsync/internal/cli"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/javastore"
	"github.com/rootsync/rootsync/stores/javastore/javatest"
	"github.com/rootsync/rootsync/stores/jks"
	"github.com/rootsync/rootsync/stores/p12"
	"github.com/rootsync/rootsync/stores/storetest"
)

const debianCacerts = "/etc/ssl/certs/java/cacerts"

func ptr(s string) *string { return &s }

// open opens kind:file; pw nil gives no password option (the default
// applies), otherwise a password file holding *pw.
func open(t testing.TB, kind, file string, pw *string) *javastore.Store {
	t.Helper()
	specText := kind + ":" + file
	if pw != nil {
		pwFile := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(pwFile, []byte(*pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		specText += "?password-file=" + pwFile
	}
	spec, err := map[string]stores.Kind{"p12": p12.Kind(), "jks": jks.Kind()}[kind].ParseSpec(specText)
	if err != nil {
		t.Fatal(err)
	}
	var s stores.Store
	if kind == "p12" {
		s, err = p12.Open(spec, stores.OpenOptions{})
	} else {
		s, err = jks.Open(spec, stores.OpenOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	return s.(*javastore.Store)
}

func addChanges(certs ...*testpki.Cert) []stores.Change {
	var ch []stores.Change
	for _, c := range certs {
		ch = append(ch, stores.Change{Action: stores.Add, Entry: &stores.Entry{Cert: stores.MustParse(c.DER), Trust: stores.TrustAll()}})
	}
	return ch
}

func mustApply(t testing.TB, s stores.Store, ch []stores.Change) {
	t.Helper()
	if err := s.Apply(context.Background(), ch); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

func mustLoad(t testing.TB, s stores.Store) *stores.Set {
	t.Helper()
	set, err := s.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return set
}

func fp(c *testpki.Cert) string { return stores.FingerprintOf(c.DER).String() }

func listStrings(es []javatest.ListEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Alias+" "+e.Type+" "+e.SHA256)
	}
	sort.Strings(out)
	return out
}

func formatOf(t testing.TB, path string) javastore.Format {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return javastore.Detect(b)
}

// A Java TLS client that trusts only the truststore fails against a server
// whose root is not in it, and succeeds once rootsync has added the root;
// keytool then lists exactly the entries rootsync wrote.
func TestJavaClientTrustsAddedRoot(t *testing.T) {
	javatest.Require(t, "keytool", "java", "javac")
	client := javatest.CompileClient(t)
	tests := []struct {
		name, kind, storetype string
		password              string
		clientPassword        *string
		wantFormat            javastore.Format
	}{
		{"p12", "p12", "PKCS12", "p12-secret", ptr("p12-secret"), javastore.PKCS12},
		{"p12-passwordless", "p12", "PKCS12", "", nil, javastore.PKCS12},
		{"jks", "jks", "JKS", "jks-secret", ptr("jks-secret"), javastore.JKS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := testpki.Root("Java Client Root " + tc.name)
			other := testpki.Root("Unrelated Root")
			port := javatest.Server(t, serverCert(root))
			file := filepath.Join(t.TempDir(), "trust."+tc.kind)
			s := open(t, tc.kind, file, ptr(tc.password))

			mustApply(t, s, addChanges(other))
			out, ok := client.Connect(t, port, file, tc.storetype, tc.clientPassword)
			t.Logf("before: %s", out)
			if ok {
				t.Fatalf("before adding the root, the Java client connected: %s", out)
			} else if !strings.Contains(out, "handshake failed") || !strings.Contains(out, "PKIX path building failed") {
				t.Fatalf("client did not fail for want of a trust anchor: %s", out)
			}
			mustApply(t, s, addChanges(root))
			out, ok = client.Connect(t, port, file, tc.storetype, tc.clientPassword)
			t.Logf("after: %s", out)
			if !ok {
				t.Fatalf("after adding the root, the Java client failed: %s", out)
			}
			if got := formatOf(t, file); got != tc.wantFormat {
				t.Errorf("file format = %s, want %s", got, tc.wantFormat)
			}
			got := listStrings(javatest.List(t, file, tc.storetype, tc.password))
			want := []string{
				"rootsync-java-client-root-" + tc.name + " trustedCertEntry " + fp(root),
				"rootsync-unrelated-root trustedCertEntry " + fp(other),
			}
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("keytool -list:\n got  %q\n want %q", got, want)
			}
		})
	}
}

// Debian's cacerts (JKS, password changeit) reads completely through jks:
// (p12: refuses it: not of its kind), and an added root keeps every other
// entry's alias, certificate and date.
func TestDebianCacerts(t *testing.T) {
	javatest.Require(t, "keytool")
	if _, err := os.Stat(debianCacerts); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (package ca-certificates-java)", err)
		}
		t.Skip(err)
	}
	want := javatest.List(t, debianCacerts, "JKS", "changeit")
	if len(want) < 100 {
		t.Fatalf("keytool lists only %d entries in %s", len(want), debianCacerts)
	}
	if _, err := open(t, "p12", debianCacerts, nil).Load(context.Background()); !errors.Is(err, stores.ErrWrongKind) {
		t.Errorf("p12:%s: Load: %v, want stores.ErrWrongKind", debianCacerts, err)
	}
	for _, kind := range []string{"jks"} {
		s := open(t, kind, debianCacerts, nil)
		set := mustLoad(t, s)
		if set.Len() != len(want) {
			t.Errorf("%s: Load gives %d entries, keytool lists %d", kind, set.Len(), len(want))
		}
		var got []string
		for _, e := range set.Entries() {
			got = append(got, e.Label+" trustedCertEntry "+e.Cert.Fingerprint.String())
			if e.Owned {
				t.Errorf("%s: %s reported as rootsync's", kind, e.Label)
			}
		}
		sort.Strings(got)
		if strings.Join(got, "\n") != strings.Join(listStrings(want), "\n") {
			t.Errorf("%s: entries differ from keytool -list", kind)
		}
	}

	// Rewrite a copy through jks: it stays JKS.
	data, err := os.ReadFile(debianCacerts)
	if err != nil {
		t.Fatal(err)
	}
	copyFile := filepath.Join(t.TempDir(), "cacerts")
	if err := os.WriteFile(copyFile, data, 0o640); err != nil {
		t.Fatal(err)
	}
	root := testpki.Root("Added To Cacerts")
	mustApply(t, open(t, "jks", copyFile, nil), addChanges(root))
	if f := formatOf(t, copyFile); f != javastore.JKS {
		t.Fatalf("cacerts rewritten as %s", f)
	}
	if fi, _ := os.Stat(copyFile); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode after rewrite = %v, want 0640", fi.Mode().Perm())
	}
	after := javatest.List(t, copyFile, "JKS", "changeit")
	byAlias := map[string]javatest.ListEntry{}
	for _, e := range after {
		byAlias[e.Alias] = e
	}
	if len(after) != len(want)+1 {
		t.Errorf("after adding one root keytool lists %d entries, want %d", len(after), len(want)+1)
	}
	for _, w := range want {
		if g := byAlias[w.Alias]; g != w {
			t.Errorf("entry %s changed: %+v, was %+v", w.Alias, g, w)
		}
	}
	if g := byAlias["rootsync-added-to-cacerts"]; g.SHA256 != fp(root) || g.Type != "trustedCertEntry" {
		t.Errorf("added entry: %+v", g)
	}
}

// Bad input gives a *stores.Error naming the file, with the right sentinel and
// a hint, and changes nothing.
func TestBadInput(t *testing.T) {
	javatest.Require(t, "keytool")
	dir := t.TempDir()
	foreign := testpki.Root("Bad Input Foreign")
	goodP12 := filepath.Join(dir, "good.p12")
	goodJKS := filepath.Join(dir, "good.jks")
	javatest.ImportCert(t, goodP12, "PKCS12", "right-pw", "foreign", foreign.DER)
	javatest.ImportCert(t, goodJKS, "JKS", "right-pw", "foreign", foreign.DER)
	p12Bytes, _ := os.ReadFile(goodP12)
	jksBytes, _ := os.ReadFile(goodJKS)

	tests := []struct {
		name    string
		kind    string
		content []byte
		pw      *string
		want    error
		inHint  string
	}{
		{"p12 wrong password", "p12", p12Bytes, ptr("wrong-pw"), stores.ErrBadPassword, "check the password"},
		{"p12 default password", "p12", p12Bytes, nil, stores.ErrBadPassword, "changeit"},
		{"jks wrong password", "jks", jksBytes, ptr("wrong-pw"), stores.ErrBadPassword, "check the password"},
		{"p12 truncated", "p12", p12Bytes[:len(p12Bytes)-40], ptr("right-pw"), stores.ErrCorrupt, "backup"},
		{"jks truncated", "jks", jksBytes[:len(jksBytes)-40], ptr("right-pw"), stores.ErrCorrupt, "backup"},
		{"jks truncated in a length", "jks", jksBytes[:13], ptr("right-pw"), stores.ErrCorrupt, "backup"},
		{"pem file", "p12", foreign.PEM(), ptr("right-pw"), stores.ErrWrongKind, "pem:"},
		{"pem file as jks", "jks", foreign.PEM(), ptr("right-pw"), stores.ErrWrongKind, "pem:"},
		{"jks file as p12", "p12", jksBytes, ptr("right-pw"), stores.ErrWrongKind, "jks:"},
		{"p12 file as jks", "jks", p12Bytes, ptr("right-pw"), stores.ErrWrongKind, "p12:"},
		{"jceks", "jks", append([]byte{0xce, 0xce, 0xce, 0xce, 0, 0, 0, 2}, make([]byte, 40)...), ptr("right-pw"), stores.ErrUnsupported, "keytool -importkeystore"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "store")
			if err := os.WriteFile(file, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			s := open(t, tc.kind, file, tc.pw)
			before := storetest.Snapshot(t, s.Paths())
			_, loadErr := s.Load(context.Background())
			applyErr := s.Apply(context.Background(), addChanges(testpki.Root("Bad Input Added")))
			for what, err := range map[string]error{"Load": loadErr, "Apply": applyErr} {
				var se *stores.Error
				t.Logf("%s: %v\n    hint: %s", what, err, stores.HintOf(err))
				switch {
				case err == nil:
					t.Errorf("%s succeeded", what)
				case !errors.As(err, &se) || se.Path != file:
					t.Errorf("%s: %v is not a *stores.Error naming %s", what, err, file)
				case !errors.Is(err, tc.want):
					t.Errorf("%s: %v, want %v", what, err, tc.want)
				case !strings.Contains(se.Hint, tc.inHint):
					t.Errorf("%s: hint %q does not mention %q", what, se.Hint, tc.inHint)
				case !strings.Contains(err.Error(), file):
					t.Errorf("%s: message %q does not name the file", what, err)
				}
			}
			storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
		})
	}

	t.Run("password variable not set", func(t *testing.T) {
		spec, _ := p12.Kind().ParseSpec("p12:" + goodP12 + "?password-env=RS_SURELY_UNSET_VARIABLE")
		s, _ := p12.Open(spec, stores.OpenOptions{})
		_, err := s.Load(context.Background())
		if !errors.Is(err, stores.ErrBadPassword) || !strings.Contains(err.Error(), "RS_SURELY_UNSET_VARIABLE") {
			t.Errorf("Load: %v, want a password error naming the variable", err)
		}
	})
}

// A PKCS#12 file with a private key is read but never rewritten; a JKS file
// with a private key (whose key password differs from the store's) is
// rewritten with the key entry intact.
func TestPrivateKeys(t *testing.T) {
	javatest.Require(t, "keytool")
	foreign := testpki.Root("Private Key Test Foreign")
	added := testpki.Root("Private Key Test Added")

	t.Run("p12", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "keys.p12")
		if _, err := javatest.Keytool("store-pw", "-genkeypair", "-keyalg", "EC", "-alias", "server", "-dname", "CN=server",
			"-keystore", file, "-storetype", "PKCS12", "-storepass:env", javatest.PasswordEnv); err != nil {
			t.Fatal(err)
		}
		javatest.ImportCert(t, file, "PKCS12", "store-pw", "foreign", foreign.DER)
		s := open(t, "p12", file, ptr("store-pw"))
		set := mustLoad(t, s)
		if set.Len() != 2 || set.Get(stores.FingerprintOf(foreign.DER)) == nil || set.Get(stores.FingerprintOf(foreign.DER)).PrivateKey {
			t.Errorf("Load: %d entries, want the trusted certificate and the key's", set.Len())
		}
		if n := strings.Join(s.Notes(), "\n"); !strings.Contains(n, "private key") {
			t.Errorf("notes %q do not mention the private key", n)
		}
		before := storetest.Snapshot(t, s.Paths())
		err := s.Apply(context.Background(), addChanges(added))
		var se *stores.Error
		if !errors.Is(err, stores.ErrUnsupported) || !errors.As(err, &se) || se.Hint == "" || !strings.Contains(err.Error(), "private key") {
			t.Errorf("Apply to a PKCS#12 file with a key: %v, want ErrUnsupported with a hint", err)
		}
		storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
	})

	t.Run("jks", func(t *testing.T) {
		t.Parallel()
		file := filepath.Join(t.TempDir(), "keys.jks")
		env := []string{javatest.PasswordEnv + "=store-pw", "RS_KEYPASS=other-key-pw"}
		if _, err := javatest.KeytoolEnv(env, "-genkeypair", "-keyalg", "EC", "-alias", "server", "-dname", "CN=server",
			"-keystore", file, "-storetype", "JKS", "-storepass:env", javatest.PasswordEnv, "-keypass:env", "RS_KEYPASS"); err != nil {
			t.Fatal(err)
		}
		javatest.ImportCert(t, file, "JKS", "store-pw", "foreign", foreign.DER)
		keyBefore := jksKeyEntry(t, file, "server")
		rawBefore := jksRawEntry(t, file, "server")
		listBefore := javatest.ListVerbose(t, file, "store-pw")
		s := open(t, "jks", file, ptr("store-pw"))
		set := mustLoad(t, s)
		keyFP := listBefore.Keys()[0].SHA256
		if set.Len() != 2 || set.Get(stores.FingerprintOf(foreign.DER)) == nil {
			t.Errorf("Load: %d entries, want the trusted certificate and the key's", set.Len())
		}
		for _, e := range set.Entries() {
			if isKey := e.Cert.Fingerprint.String() == keyFP; e.PrivateKey != isKey || (isKey && e.Label != "server") {
				t.Errorf("entry %s %s: PrivateKey %v, want %v", e.Label, e.Cert.Fingerprint, e.PrivateKey, isKey)
			}
		}
		pwFile := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(pwFile, []byte("store-pw"), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		if code := cli.Main([]string{"list", "--output", "json", "jks:" + file + "?password-file=" + pwFile}, &out, &errb); code != 0 {
			t.Fatalf("rootsync list: exit %d\n%s", code, errb.String())
		}
		var doc struct {
			Stores []struct {
				Certificates []struct {
					Fingerprint, Label string
					PrivateKey         bool `json:"private_key"`
				}
			}
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc.Stores) != 1 {
			t.Fatalf("rootsync list: %v, %d stores:\n%s", err, len(doc.Stores), out.String())
		}
		listed := doc.Stores[0]
		keysListed := 0
		for _, c := range listed.Certificates {
			if c.PrivateKey {
				keysListed++
				if c.Label != "server" || c.Fingerprint != keyFP {
					t.Errorf("rootsync list: key entry %+v, keytool lists %v", c, listBefore.Keys())
				}
			}
		}
		if keysListed != 1 || len(listed.Certificates) != 2 {
			t.Errorf("rootsync list: %d entries, %d marked private_key; want 2 and 1:\n%s", len(listed.Certificates), keysListed, out.String())
		}
		// A mirror sync from a source without the key's certificate keeps it.
		pemFile := filepath.Join(t.TempDir(), "roots.pem")
		if err := os.WriteFile(pemFile, added.PEM(), 0o644); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		errb.Reset()
		if code := cli.Main([]string{"diff", "pem:" + pemFile, "--to", "jks:" + file + "?password-file=" + pwFile, "--mode", "mirror", "--max-removals", "10"}, &out, &errb); code != 3 ||
			strings.Contains(out.String(), "remove  server") || !strings.Contains(out.String(), "1 to add, 1 to remove") {
			t.Errorf("mirror diff: exit %d, want 1 to add (the source's root), 1 to remove (foreign), the key's certificate kept:\n%s%s", code, out.String(), errb.String())
		}
		mustApply(t, s, addChanges(added))
		if keyAfter := jksKeyEntry(t, file, "server"); !bytes.Equal(keyAfter.PrivateKey, keyBefore.PrivateKey) || !keyAfter.CreationTime.Equal(keyBefore.CreationTime) {
			t.Error("the private-key entry changed")
		}
		if rawAfter := jksRawEntry(t, file, "server"); !bytes.Equal(rawAfter, rawBefore) {
			t.Errorf("the private-key entry's bytes changed (%d bytes, were %d)", len(rawAfter), len(rawBefore))
		}
		listAfter := javatest.ListVerbose(t, file, "store-pw")
		if got, want := listAfter.Keys(), listBefore.Keys(); len(got) != 1 || got[0] != want[0] {
			t.Errorf("keytool -list -v key entries after the sync: %v, were %v", got, want)
		}
		if n := len(listAfter.Trusted()); n != 2 {
			t.Errorf("keytool lists %d trusted entries after adding one, want 2", n)
		}
		// keytool can still use the key with its own password.
		if _, err := javatest.KeytoolEnv(env, "-certreq", "-alias", "server", "-keystore", file, "-storetype", "JKS",
			"-storepass:env", javatest.PasswordEnv, "-keypass:env", "RS_KEYPASS"); err != nil {
			t.Errorf("key unusable after rewrite: %v", err)
		}
	})
}

// An empty file is an empty store of the spec's format, as keytool treats
// it: Load lists nothing and Apply writes a keystore keytool reads.
func TestEmptyFile(t *testing.T) {
	javatest.Require(t, "keytool")
	for _, tc := range []struct {
		kind, storetype string
		want            javastore.Format
	}{{"jks", "JKS", javastore.JKS}, {"p12", "PKCS12", javastore.PKCS12}} {
		t.Run(tc.kind, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "empty")
			if err := os.WriteFile(file, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			s := open(t, tc.kind, file, ptr("pw-123456"))
			if n := mustLoad(t, s).Len(); n != 0 {
				t.Fatalf("Load of an empty file: %d entries", n)
			}
			added := testpki.Root("Empty File Added")
			mustApply(t, s, addChanges(added))
			if f := formatOf(t, file); f != tc.want {
				t.Fatalf("written as %s, want %s", f, tc.want)
			}
			got := listStrings(javatest.List(t, file, tc.storetype, "pw-123456"))
			if len(got) != 1 || !strings.Contains(got[0], fp(added)) {
				t.Errorf("keytool -list: %q", got)
			}
		})
	}
}

// serverCert is a TLS certificate for localhost that chains through an
// intermediate to root.
func serverCert(root *testpki.Cert) tls.Certificate {
	inter := root.Intermediate(root.Cert.Subject.CommonName + " Intermediate")
	leaf := inter.Leaf("localhost")
	return tls.Certificate{Certificate: [][]byte{leaf.DER, inter.DER}, PrivateKey: leaf.Key}
}

// jksRawEntry returns the bytes of one entry of a JKS file (version 2), from
// its tag to its last certificate.
func jksRawEntry(t *testing.T, file, alias string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p := 8
	u16 := func() int { v := int(data[p])<<8 | int(data[p+1]); p += 2; return v }
	u32 := func() int {
		v := int(data[p])<<24 | int(data[p+1])<<16 | int(data[p+2])<<8 | int(data[p+3])
		p += 4
		return v
	}
	for count := u32(); count > 0; count-- {
		start := p
		tag := u32()
		n := u16()
		a := string(data[p : p+n])
		p += n + 8
		certs := 1
		if tag == 1 {
			p += u32()
			certs = u32()
		}
		for ; certs > 0; certs-- {
			p += u16()
			p += u32()
		}
		if a == alias {
			return data[start:p]
		}
	}
	t.Fatalf("%s: no entry %q", file, alias)
	return nil
}

func jksKeyEntry(t *testing.T, file, alias string) keystore.PrivateKeyEntry {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ks := keystore.New()
	if err := ks.Load(f, []byte("store-pw")); err != nil {
		t.Fatal(err)
	}
	// Without decrypting: keystore-go keeps the encrypted key as read, and
	// GetPrivateKeyEntry would need the key password.
	chain, err := ks.GetPrivateKeyEntryCertificateChain(alias)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ks.GetPrivateKeyEntry(alias, []byte("other-key-pw"))
	if err != nil {
		t.Fatalf("key %s does not open with its own password: %v", alias, err)
	}
	if len(chain) == 0 {
		t.Fatal("empty chain")
	}
	return e
}
