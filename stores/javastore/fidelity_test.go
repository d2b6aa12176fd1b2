package javastore_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	keystore "github.com/pavlo-v-chernykh/keystore-go/v4"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/rootsync/rootsync/internal/cli"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/javastore/javatest"
	"github.com/rootsync/rootsync/stores/storetest"
)

// The fixtures every writer gets: three roots, and a server certificate
// with its key for the writers that make key entries.
var (
	fidA   = testpki.Root("Fidelity Root A")
	fidB   = testpki.Root("Fidelity Root B")
	fidC   = testpki.Root("Fidelity Root C")
	fidSrv = fidA.Intermediate("Fidelity Intermediate").Leaf("fidelity.example")
)

// javaCertTypes are spellings of the certificate type that Java's
// CertificateFactory.getInstance accepts (TestJavaCertificateTypes asks the
// JDK).
var javaCertTypes = []string{"X.509", "X509", "x.509", "x509"}

// writer makes a keystore at file with the real tool; fidelity compares
// what rootsync reads with what keytool lists.
type writer struct {
	name     string
	password string
	tools    []string
	make     func(t *testing.T, file, password string)
	// refused: rootsync must refuse the file (with this in the message).
	refused string
	// wantKeys is how many private-key entries the fixture has.
	wantKeys int
	// noTrusted: the fixture has no trusted certificate entry.
	noTrusted bool
}

// Every trusted certificate entry keytool -list -v shows, rootsync lists
// with the same alias and SHA-256 fingerprint, and every PrivateKeyEntry it
// lists as a key entry, whatever wrote the keystore; a diff in mirror mode
// from a PEM bundle of the same roots (made by keytool -list -rfc) plans
// nothing. JCEKS is refused, never read as empty.
func TestKeytoolAgreesWhateverWroteIt(t *testing.T) {
	javatest.Require(t, "keytool")
	writers := []writer{
		{name: "keytool JKS", password: "keytool-pw", make: keytoolWriter("JKS"), wantKeys: 1},
		{name: "keytool PKCS12", password: "keytool-pw", make: keytoolWriter("PKCS12"), wantKeys: 1},
		{name: "keytool JCEKS", password: "keytool-pw", make: keytoolWriter("JCEKS"), wantKeys: 1, refused: "JCEKS"},
		{name: "keystore-go defaults", password: "keystore-go-pw", make: keystoreGoDefaults, wantKeys: 1},
		{name: "keystore-go aliases equal ignoring case", password: "keystore-go-pw", make: keystoreGoCaseAliases},
		{name: "keystore-go every certificate type Java accepts", password: "keystore-go-pw", make: keystoreGoTypes},
		{name: "python3-pyjks", password: "pyjks-pw", tools: []string{"/usr/bin/python3"}, make: pyjksWriter("jks"), wantKeys: 1},
		{name: "p11-kit trust extract java-cacerts", password: "changeit", tools: []string{"trust"}, make: p11kitWriter},
		{name: "ca-certificates-java", password: "changeit", make: debianCacertsWriter},
		{name: "go-pkcs12 Modern2023 Encode (a key)", password: "gopkcs12-pw", make: goPKCS12Key(pkcs12.Modern2023), wantKeys: 1, noTrusted: true},
		{name: "go-pkcs12 LegacyDES Encode (a key)", password: "gopkcs12-pw", make: goPKCS12Key(pkcs12.LegacyDES), wantKeys: 1, noTrusted: true},
		{name: "go-pkcs12 aliases equal ignoring case", password: "gopkcs12-pw", make: goPKCS12CaseAliases},
	}
	for _, enc := range []struct {
		name string
		enc  *pkcs12.Encoder
		pw   string
	}{
		{"LegacyRC2", pkcs12.LegacyRC2, "gopkcs12-pw"},
		{"Legacy (LegacyDES)", pkcs12.Legacy, "gopkcs12-pw"},
		{"Modern (Modern2023)", pkcs12.Modern, "gopkcs12-pw"},
		{"Passwordless", pkcs12.Passwordless, ""},
	} {
		writers = append(writers,
			writer{name: "go-pkcs12 " + enc.name + " EncodeTrustStore", password: enc.pw, make: goPKCS12TrustStore(enc.enc, false)},
			writer{name: "go-pkcs12 " + enc.name + " EncodeTrustStoreEntries", password: enc.pw, make: goPKCS12TrustStore(enc.enc, true)})
	}
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			for _, tool := range w.tools {
				storetest.Tool(t, tool)
			}
			file := filepath.Join(t.TempDir(), "store")
			w.make(t, file, w.password)
			if _, err := os.Stat(file); err != nil {
				t.Fatalf("the writer made no keystore: %v", err)
			}
			keytool := javatest.ListVerbose(t, file, w.password)
			if (len(keytool.Trusted()) == 0) != w.noTrusted {
				t.Fatalf("keytool lists %d trusted certificate entries, the fixture has them: %v", len(keytool.Trusted()), !w.noTrusted)
			}
			if len(keytool.Keys()) != w.wantKeys {
				t.Fatalf("keytool lists %d private-key entries, the fixture has %d", len(keytool.Keys()), w.wantKeys)
			}
			// The kind that names the format keytool found (the other kind
			// refuses the file); a JCEKS file must be refused by both.
			kinds := map[string][]string{"JKS": {"jks"}, "PKCS12": {"p12"}, "JCEKS": {"jks", "p12"}}[keytool.Type]
			if len(kinds) == 0 {
				t.Fatalf("keytool found a %q keystore", keytool.Type)
			}
			for _, kind := range kinds {
				s := open(t, kind, file, ptr(w.password))
				if w.refused != "" {
					checkRefused(t, s, kind, w.refused)
					continue
				}
				set := mustLoad(t, s)
				if got, want := setAliases(set, false), entryStrings(keytool.Trusted()); got != want {
					t.Errorf("%s: trusted entries differ from keytool -list -v (%s):\n got:\n%s\n want:\n%s", kind, keytool.Type, got, want)
				}
				if got, want := setAliases(set, true), entryStrings(keytool.Keys()); got != want {
					t.Errorf("%s: key entries differ from keytool's PrivateKeyEntry entries:\n got:\n%s\n want:\n%s", kind, got, want)
				}
				if !w.noTrusted {
					diffPlansNothing(t, kind, file, w.password, javatest.TrustedPEM(t, file, w.password))
				}
			}
		})
	}
}

// setAliases is a set's entries as "alias fingerprint" lines, one per alias
// (a certificate under several aliases is one entry whose notes name the
// others): the private-key entries or the others.
func setAliases(set *stores.Set, keys bool) string {
	var out []string
	for _, e := range set.Entries() {
		if e.PrivateKey != keys {
			continue
		}
		out = append(out, e.Label+" "+e.Cert.Fingerprint.String())
		for _, n := range e.Notes {
			var alias string
			if _, err := fmt.Sscanf(n, "also under alias %q", &alias); err == nil {
				out = append(out, alias+" "+e.Cert.Fingerprint.String())
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func entryStrings(es []javatest.ListEntry) string {
	var out []string
	for _, e := range es {
		out = append(out, e.Alias+" "+e.SHA256)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func checkRefused(t *testing.T, s stores.Store, kind, want string) {
	t.Helper()
	before := storetest.Snapshot(t, s.Paths())
	_, err := s.Load(context.Background())
	if !errors.Is(err, stores.ErrUnsupported) || !strings.Contains(err.Error(), want) || stores.HintOf(err) == "" {
		t.Errorf("%s: Load: %v, want ErrUnsupported naming %s, with a hint", kind, err, want)
	}
	err = s.Apply(context.Background(), addChanges(testpki.Root("Refused Added")))
	if !errors.Is(err, stores.ErrUnsupported) {
		t.Errorf("%s: Apply: %v, want ErrUnsupported", kind, err)
	}
	storetest.Compare(t, before, storetest.Snapshot(t, s.Paths()))
}

// diffPlansNothing runs rootsync diff from a PEM bundle to the keystore in
// mirror mode: any root rootsync did not list would be planned as an addition,
// any entry it listed wrongly as a removal.
func diffPlansNothing(t *testing.T, kind, file, password string, bundle []byte) {
	t.Helper()
	dir := t.TempDir()
	pemFile := filepath.Join(dir, "roots.pem")
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pemFile, bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := cli.Main([]string{"diff", "pem:" + pemFile, "--to", kind + ":" + file + "?password-file=" + pwFile,
		"--mode", "mirror", "--include-expired", "--include-non-ca"}, &stdout, &stderr)
	if code != 0 {
		t.Errorf("%s: diff from keytool's own PEM export: exit %d, want 0 (nothing to do)\n%s%s", kind, code, stdout.String(), stderr.String())
	}
}

func keytoolWriter(storetype string) func(t *testing.T, file, password string) {
	return func(t *testing.T, file, password string) {
		for i, c := range []*testpki.Cert{fidA, fidB, fidC} {
			javatest.ImportCert(t, file, storetype, password, fmt.Sprintf("Keytool Root %c", 'A'+i), c.DER)
		}
		if _, err := javatest.Keytool(password, "-genkeypair", "-keyalg", "EC", "-alias", "Server Key", "-dname", "CN=keytool server",
			"-keystore", file, "-storetype", storetype, "-storepass:env", javatest.PasswordEnv); err != nil {
			t.Fatal(err)
		}
	}
}

func storeJKS(t *testing.T, ks keystore.KeyStore, file, password string) {
	t.Helper()
	var b bytes.Buffer
	if err := ks.Store(&b, []byte(password)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

var fixedTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// keystoreGoDefaults writes as keystore-go's own examples do: keystore.New()
// with no options and the certificate type "X509" (the type keystore-go
// itself gives version 1 files).
func keystoreGoDefaults(t *testing.T, file, password string) {
	ks := keystore.New()
	for i, c := range []*testpki.Cert{fidA, fidB, fidC} {
		if err := ks.SetTrustedCertificateEntry(fmt.Sprintf("Keystore-Go Root %c", 'A'+i), keystore.TrustedCertificateEntry{
			CreationTime: fixedTime, Certificate: keystore.Certificate{Type: "X509", Content: c.DER}}); err != nil {
			t.Fatal(err)
		}
	}
	key, err := x509.MarshalPKCS8PrivateKey(fidSrv.Key)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.SetPrivateKeyEntry("server", keystore.PrivateKeyEntry{CreationTime: fixedTime, PrivateKey: key,
		CertificateChain: []keystore.Certificate{{Type: "X509", Content: fidSrv.DER}}}, []byte(password)); err != nil {
		t.Fatal(err)
	}
	storeJKS(t, ks, file, password)
}

// keystoreGoCaseAliases writes aliases that differ only in case, in an
// order where the later one (which Java sees) is not the first sorted.
func keystoreGoCaseAliases(t *testing.T, file, password string) {
	var b bytes.Buffer
	b.Write([]byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 3})
	for _, e := range []struct {
		alias string
		c     *testpki.Cert
	}{{"root", fidA}, {"Root", fidB}, {"other", fidC}} {
		writeJKSTrusted(&b, e.alias, "X.509", e.c.DER)
	}
	b.Write(jksDigest(password, b.Bytes()))
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// keystore-go itself reads it (it keeps both entries).
	ks := keystore.New(keystore.WithCaseExactAliases())
	if err := ks.Load(bytes.NewReader(b.Bytes()), []byte(password)); err != nil || len(ks.Aliases()) != 3 {
		t.Fatalf("keystore-go does not read the fixture: %v, %d aliases", err, len(ks.Aliases()))
	}
}

// keystoreGoTypes writes one entry per spelling of the certificate type.
func keystoreGoTypes(t *testing.T, file, password string) {
	ks := keystore.New()
	certs := []*testpki.Cert{fidA, fidB, fidC, testpki.Root("Fidelity Root D")}
	for i, typ := range javaCertTypes[:4] {
		if err := ks.SetTrustedCertificateEntry(fmt.Sprintf("type %d", i), keystore.TrustedCertificateEntry{
			CreationTime: fixedTime, Certificate: keystore.Certificate{Type: typ, Content: certs[i].DER}}); err != nil {
			t.Fatal(err)
		}
	}
	storeJKS(t, ks, file, password)
}

// writeJKSTrusted appends one version 2 trusted certificate entry.
func writeJKSTrusted(b *bytes.Buffer, alias, typ string, der []byte) {
	u16 := func(n int) { b.Write([]byte{byte(n >> 8), byte(n)}) }
	u32 := func(n int) { b.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}) }
	u32(2)
	u16(len(alias))
	b.WriteString(alias)
	b.Write(make([]byte, 8))
	u16(len(typ))
	b.WriteString(typ)
	u32(len(der))
	b.Write(der)
}

// jksDigest is the JKS integrity digest: SHA-1 over the password as UTF-16
// big endian, "Mighty Aphrodite" and the data.
func jksDigest(password string, data []byte) []byte {
	h := sha1.New()
	for _, r := range utf16.Encode([]rune(password)) {
		h.Write([]byte{byte(r >> 8), byte(r)})
	}
	h.Write([]byte("Mighty Aphrodite"))
	h.Write(data)
	return h.Sum(nil)
}

// pyjksScript writes a keystore with pyjks from a JSON description on
// stdin; the password comes from the environment.
const pyjksScript = `
import json, os, sys, jks
spec = json.load(sys.stdin)
entries = []
for e in spec["trusted"]:
    entries.append(jks.TrustedCertEntry.new(e["alias"], bytes.fromhex(e["cert"])))
for k in spec["keys"]:
    entries.append(jks.PrivateKeyEntry.new(k["alias"], [bytes.fromhex(c) for c in k["chain"]], bytes.fromhex(k["key"]), "pkcs8"))
ks = jks.KeyStore.new(spec["store_type"], entries)
ks.save(spec["file"], os.environ["RS_STOREPASS"])
`

func pyjksWriter(storeType string) func(t *testing.T, file, password string) {
	return func(t *testing.T, file, password string) {
		key, err := x509.MarshalPKCS8PrivateKey(fidSrv.Key)
		if err != nil {
			t.Fatal(err)
		}
		spec := map[string]any{
			"file": file, "store_type": storeType,
			"trusted": []map[string]string{
				{"alias": "pyjks root a", "cert": hex.EncodeToString(fidA.DER)},
				{"alias": "pyjks root b", "cert": hex.EncodeToString(fidB.DER)},
				// pyjks writes the bytes it is given (and always the type
				// "X.509"); Java's certificate factory reads PEM text as well
				// as DER.
				{"alias": "pyjks root c", "cert": hex.EncodeToString(fidC.PEM())},
			},
			"keys": []map[string]any{{"alias": "pyjks server", "chain": []string{hex.EncodeToString(fidSrv.DER)}, "key": hex.EncodeToString(key)}},
		}
		in, err := json.Marshal(spec)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/usr/bin/python3", "-c", pyjksScript)
		cmd.Stdin = bytes.NewReader(in)
		cmd.Env = append(os.Environ(), javatest.PasswordEnv+"="+password)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pyjks: %v\n%s", err, out)
		}
	}
}

// p11kitWriter runs p11-kit's trust extract --format=java-cacerts over a
// folder of anchors, with a module configuration of its own (in a user
// namespace when run as root, since p11-kit ignores a user's configuration
// for root).
func p11kitWriter(t *testing.T, file, password string) {
	if password != "changeit" {
		t.Fatal("p11-kit writes with the password changeit")
	}
	source := filepath.Join(t.TempDir(), "source")
	anchors := filepath.Join(source, "anchors")
	if err := os.MkdirAll(anchors, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, c := range []*testpki.Cert{fidA, fidB, fidC} {
		if err := os.WriteFile(filepath.Join(anchors, fmt.Sprintf("root-%d.pem", i)), c.PEM(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data := storetest.TrustExtract(t, source, "--format=java-cacerts", "--filter=ca-anchors", "--purpose", "server-auth")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// debianCacertsWriter copies Debian's cacerts, written by
// ca-certificates-java.
func debianCacertsWriter(t *testing.T, file, password string) {
	data, err := os.ReadFile(debianCacerts)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (package ca-certificates-java)", err)
		}
		t.Skip(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func goPKCS12TrustStore(enc *pkcs12.Encoder, named bool) func(t *testing.T, file, password string) {
	return func(t *testing.T, file, password string) {
		certs := []*x509.Certificate{fidA.Cert, fidB.Cert, fidC.Cert}
		var data []byte
		var err error
		if named {
			data, err = enc.EncodeTrustStoreEntries([]pkcs12.TrustStoreEntry{
				{Cert: fidA.Cert, FriendlyName: "Go Root A"}, {Cert: fidB.Cert, FriendlyName: "go root b"}, {Cert: fidC.Cert, FriendlyName: "GO-ROOT-C"},
			}, password)
		} else {
			data, err = enc.EncodeTrustStore(certs, password)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func goPKCS12CaseAliases(t *testing.T, file, password string) {
	data, err := pkcs12.Modern2023.EncodeTrustStoreEntries([]pkcs12.TrustStoreEntry{
		{Cert: fidA.Cert, FriendlyName: "root"}, {Cert: fidB.Cert, FriendlyName: "Root"}, {Cert: fidC.Cert, FriendlyName: "other"},
	}, password)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// goPKCS12Key writes a key with its certificate and a CA certificate
// (without Java's trust attribute: Java uses it only for the key's chain).
func goPKCS12Key(enc *pkcs12.Encoder) func(t *testing.T, file, password string) {
	return func(t *testing.T, file, password string) {
		data, err := enc.Encode(fidSrv.Key, fidSrv.Cert, []*x509.Certificate{fidA.Cert}, password)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// cfProbe asks the JDK which certificate type names
// CertificateFactory.getInstance accepts: JKS names a type per certificate,
// and Java refuses the whole keystore when it does not know one.
// Arguments after "--" are keystore files, which it loads as keytool does
// (password changeit).
const cfProbe = `import java.io.File;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
public class CFProbe {
    public static void main(String[] args) {
        boolean files = false;
        for (String a : args) {
            if (a.equals("--")) { files = true; continue; }
            try {
                if (files) KeyStore.getInstance(new File(a), "changeit".toCharArray());
                else CertificateFactory.getInstance(a);
                System.out.println("yes");
            } catch (Exception e) { System.out.println("no"); }
        }
    }
}
`

// For every spelling of the certificate type, rootsync reads a JKS entry
// exactly when the JDK's CertificateFactory knows the type, and keytool
// agrees on the file.
func TestJavaCertificateTypes(t *testing.T) {
	javatest.Require(t, "keytool", "java", "javac")
	spellings := append(append([]string(nil), javaCertTypes...), "X.5o9", "X-509", "X 509", " X.509", "X.509 ", "PKCS7", "PEM", "")
	dir := t.TempDir()
	src := filepath.Join(dir, "CFProbe.java")
	if err := os.WriteFile(src, []byte(cfProbe), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("javac", "-d", dir, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	var files []string
	for i, typ := range spellings {
		var b bytes.Buffer
		b.Write([]byte{0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 1})
		writeJKSTrusted(&b, "entry", typ, fidA.DER)
		b.Write(jksDigest("changeit", b.Bytes()))
		file := filepath.Join(dir, fmt.Sprintf("type-%d.jks", i))
		if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
	}
	args := append(append(append([]string{"-cp", dir, "CFProbe"}, spellings...), "--"), files...)
	out, err := exec.Command("java", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("java: %v\n%s", err, out)
	}
	answers := strings.Fields(string(out))
	if len(answers) != 2*len(spellings) {
		t.Fatalf("the probe answered %q for %d spellings", answers, len(spellings))
	}
	for i, typ := range spellings {
		javaReads := answers[i] == "yes"
		if i < len(javaCertTypes) && !javaReads {
			t.Errorf("the JDK does not accept %q, which javaCertTypes lists", typ)
		}
		if loads := answers[len(spellings)+i] == "yes"; loads != javaReads {
			t.Errorf("type %q: the factory says %v, KeyStore.load says %v", typ, javaReads, loads)
		}
		set, err := open(t, "jks", files[i], nil).Load(context.Background())
		switch {
		case javaReads && err != nil:
			t.Errorf("type %q: Java reads it, rootsync: %v", typ, err)
		case javaReads && (set.Len() != 1 || set.Get(stores.FingerprintOf(fidA.DER)) == nil):
			t.Errorf("type %q: Java reads it, rootsync lists %d certificates", typ, set.Len())
		case !javaReads && (!errors.Is(err, stores.ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("%q", typ))):
			t.Errorf("type %q: Java refuses the keystore, rootsync: %v (want ErrCorrupt naming the type)", typ, err)
		}
	}
}
