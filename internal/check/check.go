// Package check explains why a TLS server that asks for client certificates
// would accept or reject one: it builds the chain from the client certificate
// through the intermediates to a root in the server's stores, the way OpenSSL
// (nginx, Apache) does, and reports every reason that applies (validity,
// revocation, key usages, trust for client authentication, missing issuers,
// signatures, the size of the advertised CA list), with the rootsync command
// that fixes a missing root when another store on the host trusts it.
//
// It is pure: it works only on the certificates, store contents and CRLs it is
// given, reads no files, never logs, and takes the time from its input.
package check

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	ctx509 "github.com/google/certificate-transparency-go/x509"

	"github.com/rootsync/rootsync/internal/plan"
	"github.com/rootsync/rootsync/stores"
)

// Severity says what a reason does to the verdict.
type Severity string

const (
	// Reject: the server rejects the certificate for this reason.
	Reject Severity = "reject"
	// Warning: the certificate passes, but something will bite (some clients
	// or servers fail, or a change elsewhere would break it).
	Warning Severity = "warning"
	// Note: worth knowing, changes nothing.
	Note Severity = "note"
)

// Reason codes: stable for scripts (documented in docs/json.md).
const (
	CodeExpired           = "expired"
	CodeNotYetValid       = "not-yet-valid"
	CodeRevoked           = "revoked"
	CodeCRLMissing        = "crl-missing"
	CodeCRLExpired        = "crl-expired"
	CodeCRLNotYetValid    = "crl-not-yet-valid"
	CodeCRLBadSignature   = "crl-bad-signature"
	CodeMissingIssuer     = "missing-issuer"
	CodeMissingInter      = "missing-intermediate"
	CodeRootNotInStore    = "root-not-in-store"
	CodeRootNotTrusted    = "root-not-trusted"
	CodeRootDistrusted    = "root-distrusted"
	CodeAnchorNotSelfSign = "anchor-not-self-signed"
	CodeNotSelfSignedRoot = "not-self-signed-in-store"
	CodeBadSignature      = "bad-signature"
	CodeEKU               = "eku"
	CodeKeyUsage          = "key-usage"
	CodeNotCA             = "not-ca"
	CodeUnparsed          = "unparsed"
	CodeCAListSize        = "ca-list-size"
	CodeChain             = "chain"
	CodeVerifyDepth       = "verify-depth"
)

// ServerDefaultDepth is the verify depth nginx (ssl_verify_depth) and Apache
// (SSLVerifyDepth) use when it is not configured.
const ServerDefaultDepth = 1

// DepthRule is how a server counts its verify depth.
type DepthRule int

const (
	// DepthOpenSSL is OpenSSL's own limit, which nginx's ssl_verify_depth
	// sets: the number of intermediate CAs between the client certificate
	// and the trusted root (depth 1: one intermediate at most).
	DepthOpenSSL DepthRule = iota
	// DepthApache is mod_ssl's stricter check of SSLVerifyDepth: the
	// position of the trusted root in the chain, the client certificate
	// being 0 (depth 1: the client certificate must be issued by the root
	// itself; Apache logs AH02040 "Certificate Chain too long").
	DepthApache
)

// DefaultCAListWarn is the size of the advertised CA list (bytes on the wire)
// above which check warns: some clients fail well before the TLS limit.
const DefaultCAListWarn = 16 << 10

// maxCAList is the most a TLS CertificateRequest can carry for the list of
// CA names (certificate_authorities<0..2^16-1>).
const maxCAList = 1<<16 - 1

// CRLMode says which certificates of the chain need a CRL when CRLs are in use.
type CRLMode int

const (
	// CRLChain: every certificate of the chain is checked and needs a CRL from
	// its issuer, as nginx does with ssl_crl (OpenSSL's X509_V_FLAG_CRL_CHECK_ALL).
	CRLChain CRLMode = iota
	// CRLLeaf: only the client certificate is checked (Apache's
	// SSLCARevocationCheck leaf).
	CRLLeaf
)

// Store is the content of one store as loaded.
type Store struct {
	Name string // the store's spec, as the user gave it
	Caps stores.Capabilities
	Set  *stores.Set
	// NotAdvertised: the server trusts the store's roots but does not send
	// their names to clients (nginx's ssl_trusted_certificate, next to
	// ssl_client_certificate whose names it sends).
	NotAdvertised bool
}

// CRL is one certificate revocation list and where it came from.
type CRL struct {
	Source    string // file name, for messages
	List      *ctx509.CertificateList
	RawIssuer []byte // DER of the issuer Name, exactly as in the CRL
}

// Input is everything a check looks at.
type Input struct {
	// Leaf is the client certificate; Intermediates are those the client
	// sends with it (or the user gives to check with).
	Leaf          *stores.Certificate
	Intermediates []*stores.Certificate
	// Stores are where the server takes its roots from (the union counts).
	Stores []Store
	// CRLs are the revocation lists the server uses. None means no
	// revocation checking.
	CRLs     []*CRL
	CRLCheck CRLMode
	// Others are other stores on the host, looked at only to say where a
	// missing or untrusted root can be found.
	Others []Store
	// Now is the time validity is judged at.
	Now time.Time
	// CAListWarn is the advertised CA list size that triggers a warning;
	// 0 means DefaultCAListWarn.
	CAListWarn int
	// VerifyDepth is the server's verify depth (nginx ssl_verify_depth,
	// Apache SSLVerifyDepth), counted as DepthRule says. Nil: not given; a
	// chain that either server rejects at its default (ServerDefaultDepth)
	// then gets a warning.
	VerifyDepth *int
	DepthRule   DepthRule
}

// CAList is the list of CA names a server sends in its certificate request:
// the subject names of the advertised stores' certificates, once each.
type CAList struct {
	Stores []string // the stores advertised
	Names  []string // subjects, in the stores' order
	// Size is the list's length on the wire: two bytes and the DER of each
	// name.
	Size int
}

// CertRef names a certificate in a result.
type CertRef struct {
	Fingerprint stores.Fingerprint
	Subject     string
}

func refOf(c *stores.Certificate) *CertRef {
	return &CertRef{Fingerprint: c.Fingerprint, Subject: c.Subject}
}

// Missing describes an issuer that was looked for and not found.
type Missing struct {
	Subject        string
	AuthorityKeyID string // hex, "" when the certificate has no AKI
}

// Fix is a way to repair a reason: another store that has what is missing,
// and the command that copies it over.
type Fix struct {
	Store   string
	Command string
	// Why says what the command does ("" for the usual: copy a root
	// Store trusts for client authentication).
	Why  string
	Note string
}

// Reason is one thing that affects the verdict.
type Reason struct {
	Code     string
	Severity Severity
	Message  string
	Cert     *CertRef // the certificate concerned, if any
	Missing  *Missing // the issuer not found, if any
	Store    string   // the store concerned, if any
	Fix      *Fix
	// OpenSSL is the verify error OpenSSL (nginx, Apache) reports for this
	// reason, nil where it has none.
	OpenSSL *VerifyError
}

// Link is one certificate of the chain and where it was found: "client
// certificate", "intermediates", or a store's name.
type Link struct {
	Cert       *stores.Certificate
	Source     string
	SelfSigned bool
}

// Result is the verdict.
type Result struct {
	Accepted bool
	Leaf     *stores.Certificate
	Chain    []Link
	Reasons  []Reason
	Now      time.Time
	// Advertised is the CA name list a server built from the stores sends.
	Advertised CAList
}

// Rejections returns the reasons that reject the certificate.
func (r *Result) Rejections() []Reason {
	var out []Reason
	for _, x := range r.Reasons {
		if x.Severity == Reject {
			out = append(out, x)
		}
	}
	return out
}

// Has reports whether a reason with code is present.
func (r *Result) Has(code string) bool {
	for _, x := range r.Reasons {
		if x.Code == code {
			return true
		}
	}
	return false
}

// candidate is a certificate that may issue another, and where it is.
type candidate struct {
	cert    *stores.Certificate
	source  string
	inStore bool
}

type checker struct {
	in      Input
	out     *Result
	pool    []candidate
	selfSig map[stores.Fingerprint]bool
	// parses keeps the lenient parse of each certificate the check looks at
	// (Certificate.Parsed parses anew on every call).
	parses map[*stores.Certificate]*ctx509.Certificate
}

// Evaluate checks in.Leaf against the input and returns the verdict with
// every reason that applies.
func Evaluate(in Input) *Result {
	c := &checker{in: in, out: &Result{Leaf: in.Leaf, Now: in.Now}, selfSig: map[stores.Fingerprint]bool{},
		parses: map[*stores.Certificate]*ctx509.Certificate{}}
	for _, st := range in.Stores {
		for _, e := range st.Set.Entries() {
			c.pool = append(c.pool, candidate{cert: e.Cert, source: st.Name, inStore: true})
		}
	}
	for _, ic := range in.Intermediates {
		c.pool = append(c.pool, candidate{cert: ic, source: "intermediates"})
	}
	c.run()
	for i := range c.out.Reasons {
		if c.out.Reasons[i].OpenSSL == nil {
			c.out.Reasons[i].OpenSSL = c.verifyError(c.out.Reasons[i])
		}
	}
	c.out.Accepted = len(c.out.Rejections()) == 0
	sortReasons(c.out.Reasons)
	return c.out
}

// parsed is x's lenient parse (nil when the parser refuses it), parsed once
// per check.
func (c *checker) parsed(x *stores.Certificate) *ctx509.Certificate {
	if p, ok := c.parses[x]; ok {
		return p
	}
	p := x.Parsed()
	c.parses[x] = p
	return p
}

func (c *checker) add(r Reason) { c.out.Reasons = append(c.out.Reasons, r) }

func (c *checker) run() {
	leaf := c.in.Leaf
	if c.parsed(leaf) == nil {
		c.add(Reason{Code: CodeUnparsed, Severity: Reject, Cert: refOf(leaf),
			Message: fmt.Sprintf("the client certificate %s cannot be parsed: %v", leaf.Subject, leaf.ParseError)})
		return
	}
	c.buildChain()
	c.checkAnchor()
	for i, l := range c.out.Chain {
		c.checkValidity(l.Cert, i)
		c.checkUsage(l.Cert, i)
	}
	c.checkRevocation()
	c.checkDepth()
	c.checkStores()
}

// checkDepth holds the chain against the server's verify depth.
func (c *checker) checkDepth() {
	chain := c.out.Chain
	if len(chain) < 2 || !c.reachesStore() {
		return
	}
	inters := len(chain) - 2 // between the client certificate and the root
	top := len(chain) - 1    // the root's position, as Apache counts
	if d := c.in.VerifyDepth; d != nil {
		if c.in.DepthRule == DepthApache {
			if top > *d {
				c.add(Reason{Code: CodeVerifyDepth, Severity: Reject, Cert: refOf(chain[0].Cert),
					Message: fmt.Sprintf("the trusted root is at depth %d of the chain, deeper than SSLVerifyDepth %d allows (Apache logs AH02040: Certificate Chain too long (chain has %d certificates, but maximum allowed are only %d))",
						top, *d, top, *d),
					Fix: &Fix{Why: fmt.Sprintf("raise the depth: SSLVerifyDepth %d", top)}})
			}
			return
		}
		if inters > *d {
			c.add(Reason{Code: CodeVerifyDepth, Severity: Reject, Cert: refOf(chain[0].Cert),
				Message: fmt.Sprintf("the chain has %s between the client certificate and the root, more than ssl_verify_depth %d allows: OpenSSL stops building the chain before the root",
					plural(inters, "intermediate CA", "intermediate CAs"), *d),
				Fix:     &Fix{Why: fmt.Sprintf("raise the depth: nginx ssl_verify_depth %d", inters)},
				OpenSSL: &VerifyError{Code: 20, Name: verifyErrorNames[20]}})
		}
		return
	}
	// Not given: a warning where the server rejects the chain at its default.
	who := ""
	switch {
	case inters > ServerDefaultDepth:
		who = "nginx and Apache reject it with their default verify depth 1 (ssl_verify_depth, SSLVerifyDepth)"
	case c.in.DepthRule == DepthApache && top > ServerDefaultDepth:
		who = "Apache rejects it with its default SSLVerifyDepth 1"
	}
	if who != "" {
		c.add(Reason{Code: CodeVerifyDepth, Severity: Warning, Cert: refOf(chain[0].Cert),
			Message: fmt.Sprintf("the chain has %s between the client certificate and the root: %s; give the server's depth with --verify-depth",
				plural(inters, "intermediate CA", "intermediate CAs"), who),
			Fix: &Fix{Why: fmt.Sprintf("configure the server with nginx ssl_verify_depth %d or more, Apache SSLVerifyDepth %d or more", inters, top)}})
	}
}

// reachesStore: the chain ends at a certificate of a server store.
func (c *checker) reachesStore() bool {
	top := c.out.Chain[len(c.out.Chain)-1].Cert
	_, ok := c.storeOf(top)
	return ok
}

// selfSigned: subject equals issuer and the certificate's own key verifies
// its signature.
func (c *checker) selfSigned(x *stores.Certificate) bool {
	if v, ok := c.selfSig[x.Fingerprint]; ok {
		return v
	}
	p := c.parsed(x)
	v := x.SelfIssued && p != nil &&
		p.CheckSignature(p.SignatureAlgorithm, p.RawTBSCertificate, p.Signature) == nil
	c.selfSig[x.Fingerprint] = v
	return v
}

// looksSelfSigned is the cheap test for a whole store: self-issued, and the
// key identifiers (where present) agree. Chains use selfSigned, which
// verifies the signature.
func looksSelfSigned(x *stores.Certificate) bool {
	if !x.SelfIssued {
		return false
	}
	p := x.Parsed()
	return !keyIDMismatch(p, p)
}

func (c *checker) signedBy(child, parent *stores.Certificate) bool {
	cp, pp := c.parsed(child), c.parsed(parent)
	if cp == nil || pp == nil {
		return false
	}
	return pp.CheckSignature(cp.SignatureAlgorithm, cp.RawTBSCertificate, cp.Signature) == nil
}

// keyIDMismatch: both sides carry key identifiers and they differ (OpenSSL's
// X509_check_issued then says "not the issuer").
func keyIDMismatch(child, parent *ctx509.Certificate) bool {
	if child == nil || parent == nil {
		return false
	}
	aki, ski := child.AuthorityKeyId, parent.SubjectKeyId
	return len(aki) > 0 && len(ski) > 0 && !bytes.Equal(aki, ski)
}

// issuers returns the candidates whose subject is x's issuer, best first:
// signature verifies, then in a store (OpenSSL looks in the trust store
// first), then self-signed.
func (c *checker) issuers(x *stores.Certificate, seen map[stores.Fingerprint]bool) []candidate {
	var out []candidate
	for _, cand := range c.pool {
		if seen[cand.cert.Fingerprint] || !bytes.Equal(cand.cert.RawSubject, x.RawIssuer) {
			continue
		}
		out = append(out, cand)
	}
	scores := make(map[*stores.Certificate]int, len(out))
	for _, k := range out {
		s := 0
		if c.signedBy(x, k.cert) {
			s += 8
		}
		if !keyIDMismatch(c.parsed(x), c.parsed(k.cert)) {
			s += 4
		}
		if k.inStore {
			s += 2
		}
		if c.selfSigned(k.cert) {
			s++
		}
		scores[k.cert] = s
	}
	sort.SliceStable(out, func(i, j int) bool { return scores[out[i].cert] > scores[out[j].cert] })
	return out
}

// buildChain follows issuers from the leaf up to a self-signed certificate
// or to an issuer that cannot be found.
func (c *checker) buildChain() {
	leaf := c.in.Leaf
	c.out.Chain = []Link{{Cert: leaf, Source: "client certificate", SelfSigned: c.selfSigned(leaf)}}
	if src, ok := c.storeOf(leaf); ok {
		c.out.Chain[0].Source = src
	}
	seen := map[stores.Fingerprint]bool{leaf.Fingerprint: true}
	cur := leaf
	for depth := 0; depth < 16; depth++ {
		if c.selfSigned(cur) {
			return
		}
		cands := c.issuers(cur, seen)
		if len(cands) == 0 {
			return
		}
		best := cands[0]
		if !c.signedBy(cur, best.cert) {
			why := "its signature does not verify with the issuer's key"
			if c.parsed(best.cert) == nil {
				why = "the issuer certificate cannot be parsed, so the signature cannot be checked"
			} else if keyIDMismatch(c.parsed(cur), c.parsed(best.cert)) {
				why = fmt.Sprintf("the issuer's name matches but it is a different key (authority key id %s, subject key id %s): the issuer was probably re-keyed; get the certificate that matches",
					hexID(c.parsed(cur).AuthorityKeyId), hexID(c.parsed(best.cert).SubjectKeyId))
			}
			r := Reason{Code: CodeBadSignature, Severity: Reject, Cert: refOf(cur), Store: best.source,
				Message: fmt.Sprintf("%s is not signed by %s (%s, from %s): %s", describe(cur), best.cert.Subject, best.cert.Fingerprint.Short(), best.source, why)}
			if c.parsed(best.cert) != nil && keyIDMismatch(c.parsed(cur), c.parsed(best.cert)) {
				// OpenSSL does not take a certificate whose subject key id
				// differs from the authority key id for the issuer at all.
				r.OpenSSL = &VerifyError{Code: 20, Name: verifyErrorNames[20]}
			}
			c.add(r)
		}
		seen[best.cert.Fingerprint] = true
		c.out.Chain = append(c.out.Chain, Link{Cert: best.cert, Source: best.source, SelfSigned: c.selfSigned(best.cert)})
		cur = best.cert
	}
	c.add(Reason{Code: CodeChain, Severity: Reject, Cert: refOf(cur),
		Message: "the chain is longer than 16 certificates; it probably loops"})
}

// storeOf returns the name of the first server store holding x.
func (c *checker) storeOf(x *stores.Certificate) (string, bool) {
	for _, st := range c.in.Stores {
		if st.Set.Get(x.Fingerprint) != nil {
			return st.Name, true
		}
	}
	return "", false
}

// clientTrust is what the server stores together say about x for client
// authentication: distrust anywhere wins, trust anywhere is enough. In a store
// that cannot tell purposes apart, silence means trusted; in one that can,
// silence means not trusted.
func clientTrust(sts []Store, x *stores.Certificate) (lvl stores.Level, where string, found bool) {
	lvl = stores.Unspecified
	for _, st := range sts {
		e := st.Set.Get(x.Fingerprint)
		if e == nil {
			continue
		}
		found = true
		l := e.Trust.Get(stores.ClientAuth)
		if l == stores.Unspecified && !st.Caps.PerPurpose && e.Trust.IsZero() {
			// A store that cannot record purposes trusts what it holds; but
			// an entry that names other purposes (a TRUSTED CERTIFICATE
			// block trusted for serverAuth) is not trusted for the rest, as
			// OpenSSL reads it.
			l = stores.Trusted
		}
		switch {
		case l == stores.Distrusted:
			return stores.Distrusted, st.Name, true
		case l == stores.Trusted && lvl != stores.Trusted:
			lvl, where = stores.Trusted, st.Name
		case where == "":
			where = st.Name
		}
	}
	return lvl, where, found
}

func (c *checker) target() string {
	if len(c.in.Stores) == 0 {
		return "STORE"
	}
	return c.in.Stores[0].Name
}

func (c *checker) storeNames() string {
	var n []string
	for _, st := range c.in.Stores {
		n = append(n, st.Name)
	}
	if len(n) == 0 {
		return "the server's stores (none given)"
	}
	return strings.Join(n, ", ")
}

// checkAnchor judges the top of the chain.
func (c *checker) checkAnchor() {
	if c.out.Has(CodeChain) {
		return
	}
	top := c.out.Chain[len(c.out.Chain)-1].Cert
	lvl, where, inStore := clientTrust(c.in.Stores, top)
	switch {
	case c.selfSigned(top) && inStore:
		switch lvl {
		case stores.Trusted:
			return
		case stores.Distrusted:
			c.add(Reason{Code: CodeRootDistrusted, Severity: Reject, Cert: refOf(top), Store: where,
				Message: fmt.Sprintf("the root %s is in %s but distrusted for client authentication", top.Subject, where),
				Fix:     c.findFix(top.RawSubject, top, true)})
		default:
			c.add(Reason{Code: CodeRootNotTrusted, Severity: Reject, Cert: refOf(top), Store: where,
				Message: fmt.Sprintf("the root %s is in %s but not trusted for client authentication there", top.Subject, where),
				Fix:     c.fixOrTrust(top, where)})
		}
	case c.selfSigned(top):
		what := "the chain ends at the root"
		if len(c.out.Chain) == 1 {
			what = "the client certificate is self-signed:"
		}
		c.add(Reason{Code: CodeRootNotInStore, Severity: Reject, Cert: refOf(top),
			Message: fmt.Sprintf("%s %s (%s), which is not in %s", what, top.Subject, top.Fingerprint.Short(), c.storeNames()),
			Fix:     c.findFix(top.RawSubject, top, false)})
	case inStore:
		// A trusted certificate that is not self-signed: OpenSSL keeps looking
		// for its issuer and fails without X509_V_FLAG_PARTIAL_CHAIN.
		m := missingOf(top)
		c.add(Reason{Code: CodeAnchorNotSelfSign, Severity: Reject, Cert: refOf(top), Store: where, Missing: m,
			Message: fmt.Sprintf("the chain reaches %s in %s, but it is not a self-signed root and its issuer %s%s is nowhere to be found: OpenSSL (nginx, Apache) accepts that only with partial-chain verification, which they do not enable; add the root to %s",
				top.Subject, where, m.Subject, akiText(m), c.target()),
			Fix: c.findFix(top.RawIssuer, top, false)})
	default:
		c.missingIssuer(top)
	}
}

func missingOf(x *stores.Certificate) *Missing {
	m := &Missing{Subject: nameOf(x.RawIssuer)}
	if p := x.Parsed(); p != nil {
		m.AuthorityKeyID = hexID(p.AuthorityKeyId)
	}
	return m
}

func akiText(m *Missing) string {
	if m.AuthorityKeyID == "" {
		return ""
	}
	return " (key id " + m.AuthorityKeyID + ")"
}

// missingIssuer reports that top's issuer is neither in the stores nor
// among the intermediates, and says what it is if another store has it.
func (c *checker) missingIssuer(top *stores.Certificate) {
	m := missingOf(top)
	who := "the client certificate"
	if top != c.in.Leaf {
		who = "the intermediate " + top.Subject
	}
	if other, st := c.findOther(top.RawIssuer, top); other != nil {
		if c.selfSigned(other) {
			c.add(Reason{Code: CodeRootNotInStore, Severity: Reject, Cert: refOf(top), Missing: m,
				Message: fmt.Sprintf("%s was issued by the root %s%s, which is not in %s (it is in %s)", who, m.Subject, akiText(m), c.storeNames(), st.Name),
				Fix:     c.findFix(top.RawIssuer, top, false)})
			return
		}
		c.add(Reason{Code: CodeMissingInter, Severity: Reject, Cert: refOf(top), Missing: m,
			Message: fmt.Sprintf("%s was issued by the intermediate CA %s%s, which the client did not send and which is not in %s; it is in %s: the client must send it with its certificate (or add it to %s, with its root)",
				who, m.Subject, akiText(m), c.storeNames(), st.Name, c.target())})
		return
	}
	given := "no intermediates were given"
	if n := len(c.in.Intermediates); n > 0 {
		given = "not among the " + plural(n, "intermediate", "intermediates") + " given"
	}
	c.add(Reason{Code: CodeMissingIssuer, Severity: Reject, Cert: refOf(top), Missing: m,
		Message: fmt.Sprintf("the issuer of %s, %s%s, is not a root in %s and %s: if it is an intermediate CA, the client must send it (check with --intermediates FILE); if it is a root, add it to %s",
			who, m.Subject, akiText(m), c.storeNames(), given, c.target())})
}

// findOther looks for the certificate named rawSubject that issued x (or, with
// x nil, any certificate with that subject) in the other stores.
func (c *checker) findOther(rawSubject []byte, x *stores.Certificate) (*stores.Certificate, *Store) {
	for i := range c.in.Others {
		st := &c.in.Others[i]
		for _, e := range st.Set.Entries() {
			if bytes.Equal(e.Cert.RawSubject, rawSubject) && (x == nil || x.SelfIssued && bytes.Equal(x.RawSubject, rawSubject) || c.signedBy(x, e.Cert)) {
				return e.Cert, st
			}
		}
	}
	return nil, nil
}

// findFix looks in the other stores for a root with rawSubject that issued x
// (or is x itself) and that the store trusts for client authentication, and
// returns the sync command that copies it into the first server store.
// distrusted: the server store distrusts it, so copying trust will not help.
func (c *checker) findFix(rawSubject []byte, x *stores.Certificate, distrusted bool) *Fix {
	var found []string
	var grant *Fix
	for _, st := range c.in.Others {
		for _, e := range st.Set.Entries() {
			if !bytes.Equal(e.Cert.RawSubject, rawSubject) {
				continue
			}
			if !(e.Cert.Fingerprint == x.Fingerprint || c.signedBy(x, e.Cert)) {
				continue
			}
			lvl, _, _ := clientTrust([]Store{st}, e.Cert)
			if lvl != stores.Trusted {
				found = append(found, fmt.Sprintf("%s has it, %s for client authentication", st.Name, lvl))
				if f := grantFix(st, e); f != nil && grant == nil && !distrusted {
					f.Note += fmt.Sprintf("; then copy it: rootsync sync %s --to %s --purpose client-auth --origin all --only %s",
						shellQuote(st.Name), shellQuote(c.target()), e.Cert.Fingerprint.Short())
					grant = f
				}
				continue
			}
			if distrusted {
				return &Fix{Store: st.Name, Note: fmt.Sprintf("%s trusts it for client authentication, but distrust in %s wins: remove the distrust there if the root is good", st.Name, c.target())}
			}
			return &Fix{Store: st.Name,
				Command: fmt.Sprintf("rootsync sync %s --to %s --purpose client-auth --origin all --only %s",
					shellQuote(st.Name), shellQuote(c.target()), e.Cert.Fingerprint.Short())}
		}
	}
	if grant != nil {
		return grant
	}
	if len(found) > 0 {
		return &Fix{Note: strings.Join(found, "; ")}
	}
	return nil
}

// grantFix is the command that trusts e for client authentication in st,
// where st records trust per purpose and says nothing of client
// authentication for e (NSS trust C,, as Chromium's documented import
// writes it), or nil where rootsync knows no such command.
func grantFix(st Store, e *stores.Entry) *Fix {
	kind, dir, _ := strings.Cut(st.Name, ":")
	if kind != "nss" || dir == "" || e.Label == "" || e.Trust.Get(stores.ClientAuth) != stores.Unspecified || !e.Trust.Any(stores.Trusted) {
		return nil
	}
	if strings.Contains(dir, "?") {
		dir = dir[:strings.Index(dir, "?")]
	}
	t := e.Trust.With(stores.ClientAuth, stores.Trusted)
	return &Fix{Store: st.Name, Why: "grant the root trust for client authentication in " + st.Name,
		Command: fmt.Sprintf("certutil -M -n %s -t %s -d sql:%s", plan.ShellQuote(e.Label), plan.NSSFlags(t), plan.ShellQuote(dir)),
		Note:    fmt.Sprintf("%s trusts it only for %s (NSS trust %s) and says nothing for client authentication; the command adds T, trust for client authentication", st.Name, trustedFor(e.Trust), plan.NSSFlags(e.Trust))}
}

// trustedFor lists the purposes t trusts.
func trustedFor(t stores.Trust) string {
	var out []string
	for _, p := range stores.Purposes {
		if t.Get(p) == stores.Trusted {
			out = append(out, p.String())
		}
	}
	return strings.Join(out, ", ")
}

// fixOrTrust: for a root present but not trusted for client authentication.
func (c *checker) fixOrTrust(root *stores.Certificate, where string) *Fix {
	other := c.findFix(root.RawSubject, root, false)
	if other != nil && other.Command != "" {
		return other
	}
	for _, st := range c.in.Stores {
		if e := st.Set.Get(root.Fingerprint); e != nil && st.Name == where {
			if f := grantFix(st, e); f != nil {
				return f
			}
		}
	}
	if other != nil {
		return other
	}
	return &Fix{Note: fmt.Sprintf("mark it trusted for client authentication in %s (a source that trusts it: rootsync sync SOURCE --to %s --purpose client-auth)", where, shellQuote(where))}
}

// checkValidity reports a certificate of the chain outside its validity
// period; OpenSSL checks every one, the root included.
func (c *checker) checkValidity(x *stores.Certificate, i int) {
	now := c.in.Now
	switch {
	case !x.NotBefore.IsZero() && now.Before(x.NotBefore):
		c.add(Reason{Code: CodeNotYetValid, Severity: Reject, Cert: refOf(x),
			Message: fmt.Sprintf("%s is not valid yet: it becomes valid in %s, on %s", c.role(x, i), ago(x.NotBefore.Sub(now)), day(x.NotBefore)),
			Fix:     c.validityFix(CodeNotYetValid, c.role(x, i), x.NotBefore.Sub(now))})
	case !x.NotAfter.IsZero() && now.After(x.NotAfter):
		c.add(Reason{Code: CodeExpired, Severity: Reject, Cert: refOf(x),
			Message: fmt.Sprintf("%s expired %s ago on %s", c.role(x, i), ago(now.Sub(x.NotAfter)), day(x.NotAfter)),
			Fix:     c.validityFix(CodeExpired, c.role(x, i), 0)})
	}
}

// role names a chain certificate for a message.
func (c *checker) role(x *stores.Certificate, i int) string {
	switch {
	case i == 0:
		return "the client certificate " + x.Subject
	case i == len(c.out.Chain)-1 && c.out.Chain[i].SelfSigned:
		return "the root " + x.Subject
	}
	return "the intermediate " + x.Subject
}

// checkUsage applies OpenSSL's "ssl_client" purpose: extended key usage with
// clientAuth (or anyExtendedKeyUsage) on every certificate that has one, a key
// usage that allows signing on the leaf, and CA certificates above it.
func (c *checker) checkUsage(x *stores.Certificate, i int) {
	p := c.parsed(x)
	if p == nil {
		c.add(Reason{Code: CodeUnparsed, Severity: Reject, Cert: refOf(x),
			Message: fmt.Sprintf("%s cannot be parsed: %v", c.role(x, i), x.ParseError)})
		return
	}
	if len(p.ExtKeyUsage)+len(p.UnknownExtKeyUsage) > 0 {
		ok := false
		for _, u := range p.ExtKeyUsage {
			ok = ok || u == ctx509.ExtKeyUsageClientAuth || u == ctx509.ExtKeyUsageAny
		}
		if !ok {
			c.add(Reason{Code: CodeEKU, Severity: Reject, Cert: refOf(x),
				Message: fmt.Sprintf("%s has an extended key usage without client authentication (it allows %s): OpenSSL rejects it as 'unsuitable certificate purpose'",
					c.role(x, i), ekuNames(p))})
		}
	}
	if i == 0 {
		if p.KeyUsage != 0 && p.KeyUsage&ctx509.KeyUsageDigitalSignature == 0 {
			also := "OpenSSL rejects it as 'unsuitable certificate purpose'"
			if p.KeyUsage&ctx509.KeyUsageKeyAgreement != 0 {
				also = "OpenSSL lets keyAgreement pass, but the key may not sign the TLS handshake and other servers (IIS, Java) reject it"
			}
			c.add(Reason{Code: CodeKeyUsage, Severity: Reject, Cert: refOf(x),
				Message: fmt.Sprintf("the client certificate's key usage (%s) lacks digitalSignature: %s", kuNames(p.KeyUsage), also)})
		}
		return
	}
	switch {
	case p.Version >= 3 && !(p.BasicConstraintsValid && p.IsCA):
		c.add(Reason{Code: CodeNotCA, Severity: Reject, Cert: refOf(x),
			Message: fmt.Sprintf("%s issues a certificate but is not a CA (basic constraints)", c.role(x, i))})
	case p.KeyUsage != 0 && p.KeyUsage&ctx509.KeyUsageCertSign == 0:
		c.add(Reason{Code: CodeNotCA, Severity: Reject, Cert: refOf(x),
			Message: fmt.Sprintf("%s issues a certificate but its key usage (%s) lacks keyCertSign", c.role(x, i), kuNames(p.KeyUsage))})
	}
}

// checkStores looks at the server stores as a whole: certificates that are
// not self-signed roots, and the size of the CA list a server advertises.
func (c *checker) checkStores() {
	var notSelf []string
	anchor := c.out.Chain[len(c.out.Chain)-1].Cert
	names := map[string]bool{}
	size, count := 0, 0
	adv := &c.out.Advertised
	for _, st := range c.in.Stores {
		if !st.NotAdvertised {
			adv.Stores = append(adv.Stores, st.Name)
		}
		for _, e := range st.Set.Entries() {
			if !st.NotAdvertised && !names[string(e.Cert.RawSubject)] {
				names[string(e.Cert.RawSubject)] = true
				size += 2 + len(e.Cert.RawSubject)
				count++
				adv.Names = append(adv.Names, e.Cert.Subject)
			}
			if !looksSelfSigned(e.Cert) && !(c.out.Has(CodeAnchorNotSelfSign) && e.Cert == anchor) {
				notSelf = append(notSelf, fmt.Sprintf("%s (%s, in %s)", e.Cert.Subject, e.Cert.Fingerprint.Short(), st.Name))
			}
		}
	}
	if len(notSelf) > 0 {
		list := notSelf
		if len(list) > 3 {
			list = append(list[:3:3], fmt.Sprintf("and %d more", len(notSelf)-3))
		}
		c.add(Reason{Code: CodeNotSelfSignedRoot, Severity: Warning,
			Message: fmt.Sprintf("%s among the roots %s not self-signed: OpenSSL uses such a certificate only on the way to its root, never as the end of a chain (that needs partial-chain verification): %s",
				plural(len(notSelf), "certificate", "certificates"), isAre(len(notSelf)), strings.Join(list, "; "))})
	}
	adv.Size = size
	limit := c.in.CAListWarn
	if limit <= 0 {
		limit = DefaultCAListWarn
	}
	switch {
	case size > maxCAList:
		c.add(Reason{Code: CodeCAListSize, Severity: Reject,
			Message: fmt.Sprintf("the list of CA names a server advertises from these stores is %d bytes for %s, more than a TLS CertificateRequest can carry (%d): the handshake fails for every client; advertise fewer CAs (nginx: a short ssl_client_certificate, the rest in ssl_trusted_certificate)",
				size, plural(count, "CA", "CAs"), maxCAList)})
	case size > limit:
		c.add(Reason{Code: CodeCAListSize, Severity: Warning,
			Message: fmt.Sprintf("the list of CA names a server advertises from these stores is %d bytes for %s (warning above %d): some clients fail on long lists; advertise fewer CAs (nginx: a short ssl_client_certificate, the rest in ssl_trusted_certificate)",
				size, plural(count, "CA", "CAs"), limit)})
	}
}

func sortReasons(rs []Reason) {
	rank := map[Severity]int{Reject: 0, Warning: 1, Note: 2}
	sort.SliceStable(rs, func(i, j int) bool {
		if rank[rs[i].Severity] != rank[rs[j].Severity] {
			return rank[rs[i].Severity] < rank[rs[j].Severity]
		}
		return false
	})
}

// nameOf renders a raw DER Name for people (RFC 4514 order), or as hex when
// it does not decode.
func nameOf(der []byte) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(der, &seq); err == nil && len(rest) == 0 {
		if s := seq.String(); s != "" {
			return s
		}
		return "(empty name)"
	}
	return "#" + hex.EncodeToString(der)
}

func describe(x *stores.Certificate) string { return x.Subject + " (" + x.Fingerprint.Short() + ")" }

func hexID(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	parts := make([]string, len(b))
	for i, v := range b {
		parts[i] = hex.EncodeToString([]byte{v})
	}
	return strings.ToUpper(strings.Join(parts, ":"))
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// ago renders a duration for people: days when at least one, else hours or
// minutes.
func ago(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day", "days")
	case d >= time.Hour:
		return plural(int(d/time.Hour), "hour", "hours")
	case d >= time.Minute:
		return plural(int(d/time.Minute), "minute", "minutes")
	}
	return plural(int(d/time.Second), "second", "seconds")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

var ekuText = map[ctx509.ExtKeyUsage]string{
	ctx509.ExtKeyUsageServerAuth:      "serverAuth",
	ctx509.ExtKeyUsageClientAuth:      "clientAuth",
	ctx509.ExtKeyUsageCodeSigning:     "codeSigning",
	ctx509.ExtKeyUsageEmailProtection: "emailProtection",
	ctx509.ExtKeyUsageTimeStamping:    "timeStamping",
	ctx509.ExtKeyUsageOCSPSigning:     "OCSPSigning",
}

func ekuNames(p *ctx509.Certificate) string {
	var n []string
	for _, u := range p.ExtKeyUsage {
		if s, ok := ekuText[u]; ok {
			n = append(n, s)
		} else {
			n = append(n, fmt.Sprintf("usage %d", int(u)))
		}
	}
	for _, o := range p.UnknownExtKeyUsage {
		n = append(n, o.String())
	}
	return strings.Join(n, ", ")
}

var kuText = []struct {
	bit  ctx509.KeyUsage
	name string
}{
	{ctx509.KeyUsageDigitalSignature, "digitalSignature"},
	{ctx509.KeyUsageContentCommitment, "nonRepudiation"},
	{ctx509.KeyUsageKeyEncipherment, "keyEncipherment"},
	{ctx509.KeyUsageDataEncipherment, "dataEncipherment"},
	{ctx509.KeyUsageKeyAgreement, "keyAgreement"},
	{ctx509.KeyUsageCertSign, "keyCertSign"},
	{ctx509.KeyUsageCRLSign, "cRLSign"},
	{ctx509.KeyUsageEncipherOnly, "encipherOnly"},
	{ctx509.KeyUsageDecipherOnly, "decipherOnly"},
}

func kuNames(ku ctx509.KeyUsage) string {
	var n []string
	for _, k := range kuText {
		if ku&k.bit != 0 {
			n = append(n, k.name)
		}
	}
	return strings.Join(n, ", ")
}

// shellQuote quotes a store spec for a command line when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:~+=@,%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
