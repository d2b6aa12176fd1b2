package check_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/check"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

var (
	now   = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	root  = testpki.Root("check root")
	inter = root.Intermediate("check issuing ca")
	other = testpki.Root("check other root")
)

func cert(c *testpki.Cert) *stores.Certificate { return stores.MustParse(c.DER) }

func store(name string, caps stores.Capabilities, trust stores.Trust, cs ...*testpki.Cert) check.Store {
	s := stores.NewSet()
	for i, c := range cs {
		s.Add(&stores.Entry{Cert: cert(c), Trust: trust, Label: "block " + string(rune('1'+i))})
	}
	return check.Store{Name: name, Caps: caps, Set: s}
}

func pemStore(cs ...*testpki.Cert) check.Store {
	return store("pem:/etc/nginx/client-ca.pem", stores.Capabilities{}, stores.TrustAll(), cs...)
}

// crl makes a CRL by issuer that revokes the given serials.
func crl(t *testing.T, issuer *testpki.Cert, thisUpdate, nextUpdate time.Time, revoked ...*testpki.Cert) *check.CRL {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
	for _, r := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: r.Cert.SerialNumber, RevocationTime: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), ReasonCode: 1})
	}
	der, err := x509.CreateRevocationList(nil, tmpl, issuer.Cert, issuer.Key)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := check.ParseCRLs("crl.der", der)
	if err != nil {
		t.Fatal(err)
	}
	return ls[0]
}

func keyUsage(ku x509.KeyUsage) testpki.Option { return func(c *x509.Certificate) { c.KeyUsage = ku } }

func TestEvaluate(t *testing.T) {
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC) }
	valid := root.Leaf("alice")
	viaInter := inter.Leaf("bob")
	expired := root.Leaf("expired", testpki.Validity(d(2025, 1, 1), d(2026, 10, 12)))
	future := root.Leaf("future", testpki.Validity(d(2027, 1, 1), d(2030, 1, 1)))
	stranger := other.Leaf("stranger")
	serverOnly := root.Leaf("server only", testpki.ExtKeyUsage(x509.ExtKeyUsageServerAuth))
	badKU := root.Leaf("bad ku", keyUsage(x509.KeyUsageKeyEncipherment))
	impostor := testpki.Root("impostor", testpki.Subject(root.Cert.Subject))
	forged := impostor.Leaf("forged")
	selfSigned := testpki.Root("self signed client")
	notCA := testpki.Root("not a ca", testpki.NotCA())
	underNotCA := notCA.Leaf("under not ca")
	huge := testpki.Root("huge", testpki.Subject(pkix.Name{CommonName: strings.Repeat("x", 70000)}))
	perPurpose := stores.Capabilities{PerPurpose: true, Distrust: true, Ownership: true}
	nssOther := store("nss:/root/.pki/nssdb", perPurpose, stores.Trust{}.With(stores.ClientAuth, stores.Trusted), other)

	tests := []struct {
		name     string
		in       check.Input
		accepted bool
		codes    []string // reasons expected (all severities), in order
		contains []string // substrings of the messages
		fix      string   // expected fix command, if any
	}{
		{name: "valid", in: check.Input{Leaf: cert(valid), Stores: []check.Store{pemStore(root)}}, accepted: true},
		{name: "valid via intermediate", in: check.Input{Leaf: cert(viaInter), Intermediates: []*stores.Certificate{cert(inter)}, Stores: []check.Store{pemStore(root)}}, accepted: true},
		{name: "intermediate in the store with its root", in: check.Input{Leaf: cert(viaInter), Stores: []check.Store{pemStore(root, inter)}}, accepted: true,
			codes: []string{check.CodeNotSelfSignedRoot}},
		{name: "expired", in: check.Input{Leaf: cert(expired), Stores: []check.Store{pemStore(root)}},
			codes: []string{check.CodeExpired}, contains: []string{"expired 41 days ago on 2026-10-12"}},
		{name: "not yet valid", in: check.Input{Leaf: cert(future), Stores: []check.Store{pemStore(root)}},
			codes: []string{check.CodeNotYetValid}, contains: []string{"becomes valid in 39 days, on 2027-01-01"}},
		{name: "revoked", in: check.Input{Leaf: cert(valid), Stores: []check.Store{pemStore(root)}, CRLs: []*check.CRL{crl(t, root, d(2026, 11, 1), d(2026, 12, 1), valid)}},
			codes: []string{check.CodeRevoked}, contains: []string{"revoked on 2026-03-01 (key compromise)"}},
		{name: "not revoked", in: check.Input{Leaf: cert(valid), Stores: []check.Store{pemStore(root)}, CRLs: []*check.CRL{crl(t, root, d(2026, 11, 1), d(2026, 12, 1), expired)}},
			accepted: true},
		{name: "crl expired", in: check.Input{Leaf: cert(valid), Stores: []check.Store{pemStore(root)}, CRLs: []*check.CRL{crl(t, root, d(2026, 9, 1), d(2026, 10, 1))}},
			codes: []string{check.CodeCRLExpired}, contains: []string{"expired 52 days ago on 2026-10-01"}},
		{name: "crl not yet valid", in: check.Input{Leaf: cert(valid), Stores: []check.Store{pemStore(root)}, CRLs: []*check.CRL{crl(t, root, d(2026, 12, 1), d(2027, 1, 1))}},
			codes: []string{check.CodeCRLNotYetValid}},
		{name: "crl from the wrong key", in: check.Input{Leaf: cert(valid), Stores: []check.Store{pemStore(root)}, CRLs: []*check.CRL{crl(t, impostor, d(2026, 11, 1), d(2026, 12, 1))}},
			codes: []string{check.CodeCRLBadSignature}},
		{name: "crl of the root missing for the intermediate", in: check.Input{Leaf: cert(viaInter), Intermediates: []*stores.Certificate{cert(inter)}, Stores: []check.Store{pemStore(root)},
			CRLs: []*check.CRL{crl(t, inter, d(2026, 11, 1), d(2026, 12, 1))}},
			codes: []string{check.CodeCRLMissing, check.CodeCRLMissing}, contains: []string{"no CRL from CN=check root,O=rootsync tests is given to check the intermediate"}},
		{name: "crl of the root missing, leaf only", in: check.Input{Leaf: cert(viaInter), Intermediates: []*stores.Certificate{cert(inter)}, Stores: []check.Store{pemStore(root)},
			CRLs: []*check.CRL{crl(t, inter, d(2026, 11, 1), d(2026, 12, 1))}, CRLCheck: check.CRLLeaf},
			accepted: true},
		{name: "unknown issuer", in: check.Input{Leaf: cert(stranger), Stores: []check.Store{pemStore(root)}},
			codes: []string{check.CodeMissingIssuer}, contains: []string{"CN=check other root,O=rootsync tests (key id " + hexKeyID(other.Cert.SubjectKeyId) + ")", "no intermediates were given"}},
		{name: "unknown issuer, root trusted in another store", in: check.Input{Leaf: cert(stranger), Stores: []check.Store{pemStore(root)}, Others: []check.Store{nssOther}},
			codes: []string{check.CodeRootNotInStore}, contains: []string{"it is in nss:/root/.pki/nssdb"},
			fix: "rootsync sync nss:/root/.pki/nssdb --to pem:/etc/nginx/client-ca.pem --purpose client-auth --origin all --only " + stores.FingerprintOf(other.DER).Short()},
		{name: "missing intermediate", in: check.Input{Leaf: cert(viaInter), Stores: []check.Store{pemStore(root)}},
			codes: []string{check.CodeMissingIssuer}, contains: []string{"CN=check issuing ca,O=rootsync tests"}},
		{name: "missing intermediate found elsewhere", in: check.Input{Leaf: cert(viaInter), Stores: []check.Store{pemStore(root)}, Others: []check.Store{store("system", stores.Capabilities{}, stores.TrustAll(), inter)}},
			codes: []string{check.CodeMissingInter}, contains: []string{"the client must send it"}},
		{name: "eku server auth only", in: check.Input{Leaf: cert(serverOnly), Stores: []check.Store{pemStore(root)}},
			codes: []string{check.CodeEKU}, contains: []string{"it allows serverAuth"}},
		{name: "key usage without digitalSignature", in: check.Input{Leaf: cert(badKU), Stores: []check.Store{pemStore(root)}},
			codes: []string{check.CodeKeyUsage}, contains: []string{"(keyEncipherment)"}},
		{name: "root distrusted", in: check.Input{Leaf: cert(valid), Stores: []check.Store{store("nss:/etc/pki/nssdb", perPurpose, stores.TrustAll().With(stores.ClientAuth, stores.Distrusted), root)}},
			codes: []string{check.CodeRootDistrusted}},
		{name: "root not trusted for client auth", in: check.Input{Leaf: cert(valid), Stores: []check.Store{store("nss:/etc/pki/nssdb", perPurpose, stores.Trust{}.With(stores.ServerAuth, stores.Trusted), root)}},
			codes: []string{check.CodeRootNotTrusted}, fix: "certutil -M -n 'block 1' -t CT,, -d sql:/etc/pki/nssdb"},
		{name: "unspecified in a store without purposes is trusted", in: check.Input{Leaf: cert(valid), Stores: []check.Store{store("jks:/x.jks", stores.Capabilities{}, stores.Trust{}, root)}},
			accepted: true},
		{name: "intermediate as the only anchor", in: check.Input{Leaf: cert(viaInter), Stores: []check.Store{pemStore(inter)}},
			codes: []string{check.CodeAnchorNotSelfSign}, contains: []string{"partial-chain"}},
		{name: "same name, other key", in: check.Input{Leaf: cert(forged), Stores: []check.Store{pemStore(root)}},
			codes: []string{check.CodeBadSignature}, contains: []string{"re-keyed"}},
		{name: "self-signed client certificate", in: check.Input{Leaf: cert(selfSigned), Stores: []check.Store{pemStore(root)}},
			codes: []string{check.CodeRootNotInStore}, contains: []string{"self-signed"}},
		{name: "issuer not a CA", in: check.Input{Leaf: cert(underNotCA), Stores: []check.Store{pemStore(root, notCA)}},
			codes: []string{check.CodeNotCA}},
		{name: "ca list too long", in: check.Input{Leaf: cert(valid), Stores: []check.Store{pemStore(root, other)}, CAListWarn: 100},
			accepted: true, codes: []string{check.CodeCAListSize}, contains: []string{"for 2 CAs (warning above 100)"}},
		{name: "ca list beyond the TLS limit", in: check.Input{Leaf: cert(valid), Stores: []check.Store{pemStore(root, huge)}},
			codes: []string{check.CodeCAListSize}, contains: []string{"more than a TLS CertificateRequest can carry (65535)"}},
		{name: "several reasons at once", in: check.Input{Leaf: cert(root.Leaf("all wrong", testpki.ExtKeyUsage(x509.ExtKeyUsageServerAuth), testpki.Validity(d(2025, 1, 1), d(2026, 10, 12)))), Stores: []check.Store{pemStore(root)}},
			codes: []string{check.CodeExpired, check.CodeEKU}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Now = now
			r := check.Evaluate(tt.in)
			var codes, msgs []string
			var fix string
			for _, x := range r.Reasons {
				codes = append(codes, x.Code)
				msgs = append(msgs, x.Message)
				if x.Fix != nil && fix == "" {
					fix = x.Fix.Command
				}
			}
			if r.Accepted != tt.accepted {
				t.Errorf("accepted = %v, want %v; reasons:\n%s", r.Accepted, tt.accepted, strings.Join(msgs, "\n"))
			}
			if got, want := strings.Join(codes, " "), strings.Join(tt.codes, " "); got != want {
				t.Errorf("codes = %q, want %q; reasons:\n%s", got, want, strings.Join(msgs, "\n"))
			}
			all := strings.Join(msgs, "\n")
			for _, s := range tt.contains {
				if !strings.Contains(all, s) {
					t.Errorf("messages lack %q:\n%s", s, all)
				}
			}
			if fix != tt.fix {
				t.Errorf("fix = %q, want %q", fix, tt.fix)
			}
		})
	}
}

func hexKeyID(b []byte) string {
	var parts []string
	for _, v := range b {
		parts = append(parts, strings.ToUpper(big.NewInt(int64(v)).Text(16)))
	}
	for i, p := range parts {
		if len(p) == 1 {
			parts[i] = "0" + p
		}
	}
	return strings.Join(parts, ":")
}

func TestChainOrder(t *testing.T) {
	leaf := inter.Leaf("carol")
	r := check.Evaluate(check.Input{Leaf: cert(leaf), Intermediates: []*stores.Certificate{cert(inter)}, Stores: []check.Store{pemStore(root)}, Now: now})
	var got []string
	for _, l := range r.Chain {
		got = append(got, l.Cert.CN+"@"+l.Source)
	}
	want := "carol@client certificate check issuing ca@intermediates check root@pem:/etc/nginx/client-ca.pem"
	if strings.Join(got, " ") != want {
		t.Errorf("chain = %q, want %q", strings.Join(got, " "), want)
	}
}

func TestParseCRLsPEM(t *testing.T) {
	tmpl := &x509.RevocationList{Number: big.NewInt(2), ThisUpdate: now, NextUpdate: now.Add(time.Hour)}
	der, err := x509.CreateRevocationList(nil, tmpl, inter.Cert, inter.Key)
	if err != nil {
		t.Fatal(err)
	}
	block := string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
	ls, err := check.ParseCRLs("two.pem", []byte(block+block))
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[1].Source != "two.pem: CRL 2" || string(ls[0].RawIssuer) != string(inter.Cert.RawSubject) {
		t.Errorf("got %d CRLs, second %q, issuer match %v", len(ls), ls[len(ls)-1].Source, string(ls[0].RawIssuer) == string(inter.Cert.RawSubject))
	}
	if _, err := check.ParseCRLs("junk.pem", []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")); err == nil {
		t.Error("a file without CRL blocks parsed without error")
	}
}

// BenchmarkEvaluate checks a client certificate against a store of 150
// roots, about the size of a distribution bundle.
func BenchmarkEvaluate(b *testing.B) {
	roots := []*testpki.Cert{root}
	for i := 0; i < 149; i++ {
		roots = append(roots, testpki.Root(fmt.Sprintf("bench root %d", i)))
	}
	in := check.Input{Leaf: cert(inter.Leaf("bench")), Intermediates: []*stores.Certificate{cert(inter)}, Stores: []check.Store{pemStore(roots...)}, Now: now}
	b.ResetTimer()
	for b.Loop() {
		if r := check.Evaluate(in); !r.Accepted {
			b.Fatal(r.Reasons)
		}
	}
}

// TestValidityFix: an expired certificate is to be reissued; one that
// becomes valid within minutes points at a clock.
func TestValidityFix(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	root := testpki.Root("validity fix root")
	ca := stores.NewSet()
	ca.Add(&stores.Entry{Cert: stores.MustParse(root.DER), Trust: stores.TrustAll()})
	for _, tt := range []struct {
		name    string
		nb, na  time.Time
		code    string
		want    string
		wantNot string
	}{
		{"expired", now.AddDate(-2, 0, 0), now.AddDate(0, 0, -3), check.CodeExpired, "reissue the client certificate", "clock"},
		{"valid in minutes", now.Add(20 * time.Minute), now.AddDate(1, 0, 0), check.CodeNotYetValid, "a clock is probably wrong", "reissue the client"},
		{"valid in a month", now.AddDate(0, 1, 0), now.AddDate(1, 0, 0), check.CodeNotYetValid, "reissue the client certificate", "clock"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			leaf := stores.MustParse(root.Leaf("validity "+tt.name, testpki.Validity(tt.nb, tt.na)).DER)
			r := check.Evaluate(check.Input{Leaf: leaf, Now: now, Stores: []check.Store{{Name: "pem:/ca.pem", Set: ca}}})
			rs := r.Rejections()
			if len(rs) != 1 || rs[0].Code != tt.code || rs[0].Fix == nil {
				t.Fatalf("reasons %+v", rs)
			}
			if why := rs[0].Fix.Why; !strings.Contains(why, tt.want) || strings.Contains(why, tt.wantNot) {
				t.Errorf("fix %q: want %q, not %q", why, tt.want, tt.wantNot)
			}
		})
	}
}

// TestVerifyDepthRules: nginx (OpenSSL) counts the intermediate CAs, Apache
// (mod_ssl's AH02040 check) the root's position in the chain; without a
// depth, a chain either server rejects at its default of 1 is a warning.
// The nginx side is checked against the real nginx in internal/cli.
func TestVerifyDepthRules(t *testing.T) {
	inter2 := inter.Intermediate("check issuing ca 2")
	chains := []struct {
		name   string
		leaf   *testpki.Cert
		inters []*testpki.Cert
		n      int // intermediates
	}{
		{"root-issued", root.Leaf("depth 0"), nil, 0},
		{"one intermediate", inter.Leaf("depth 1"), []*testpki.Cert{inter}, 1},
		{"two intermediates", inter2.Leaf("depth 2"), []*testpki.Cert{inter2, inter}, 2},
	}
	for _, ch := range chains {
		for _, rule := range []check.DepthRule{check.DepthOpenSSL, check.DepthApache} {
			for d := 0; d <= 3; d++ {
				in := check.Input{Leaf: cert(ch.leaf), Now: now, Stores: []check.Store{pemStore(root)}, VerifyDepth: &d, DepthRule: rule}
				for _, c := range ch.inters {
					in.Intermediates = append(in.Intermediates, cert(c))
				}
				r := check.Evaluate(in)
				want := ch.n <= d
				if rule == check.DepthApache {
					want = ch.n+1 <= d
				}
				if r.Accepted != want || r.Has(check.CodeVerifyDepth) == want {
					t.Errorf("%s, rule %d, depth %d: accepted=%v, want %v: %+v", ch.name, rule, d, r.Accepted, want, r.Reasons)
				}
			}
		}
		in := check.Input{Leaf: cert(ch.leaf), Now: now, Stores: []check.Store{pemStore(root)}}
		for _, c := range ch.inters {
			in.Intermediates = append(in.Intermediates, cert(c))
		}
		r := check.Evaluate(in)
		if !r.Accepted || r.Has(check.CodeVerifyDepth) != (ch.n >= 2) {
			t.Errorf("%s without a depth: accepted=%v, reasons %+v; want accepted, a warning when nginx's default rejects it", ch.name, r.Accepted, r.Reasons)
		}
		in.DepthRule = check.DepthApache
		r = check.Evaluate(in)
		if !r.Accepted || r.Has(check.CodeVerifyDepth) != (ch.n >= 1) {
			t.Errorf("%s without a depth, Apache: accepted=%v, reasons %+v; want accepted, a warning when Apache's default rejects it", ch.name, r.Accepted, r.Reasons)
		}
	}
}

// TestAdvertisedCAList: the names of stores marked NotAdvertised (nginx's
// ssl_trusted_certificate) are not in the list, and its size counts the
// others' names once each.
func TestAdvertisedCAList(t *testing.T) {
	trusted := pemStore(other)
	trusted.Name, trusted.NotAdvertised = "pem:/etc/nginx/trusted.pem", true
	r := check.Evaluate(check.Input{Leaf: cert(other.Leaf("client")), Now: now, Stores: []check.Store{pemStore(root, root), trusted}})
	if !r.Accepted {
		t.Fatalf("a root that is trusted but not advertised still verifies: %+v", r.Reasons)
	}
	a := r.Advertised
	want := 2 + len(cert(root).RawSubject)
	if len(a.Names) != 1 || a.Names[0] != cert(root).Subject || a.Size != want || len(a.Stores) != 1 || a.Stores[0] != "pem:/etc/nginx/client-ca.pem" {
		t.Errorf("advertised %+v, want only %s (%d bytes) from the client CA file", a, cert(root).Subject, want)
	}
}
