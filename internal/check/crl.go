package check

import (
	"bytes"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"

	ctx509 "github.com/google/certificate-transparency-go/x509"

	"github.com/rootsync/rootsync/stores"
)

// ParseCRLs reads the CRLs in data: PEM "X509 CRL" blocks (several may
// follow each other) or one DER CRL. source names the data in messages.
func ParseCRLs(source string, data []byte) ([]*CRL, error) {
	var ders [][]byte
	if bytes.Contains(data, []byte("-----BEGIN")) {
		rest := data
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if b.Type == "X509 CRL" {
				ders = append(ders, b.Bytes)
			}
		}
		if len(ders) == 0 {
			return nil, fmt.Errorf("%s: no X509 CRL block", source)
		}
	} else {
		ders = [][]byte{data}
	}
	var out []*CRL
	for i, der := range ders {
		where := source
		if len(ders) > 1 {
			where = fmt.Sprintf("%s: CRL %d", source, i+1)
		}
		l, err := ctx509.ParseCertificateListDER(der)
		if err != nil && (l == nil || ctx509.IsFatal(err)) {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		issuer, err := crlIssuer(l.TBSCertList.Raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		out = append(out, &CRL{Source: where, List: l, RawIssuer: issuer})
	}
	return out, nil
}

// crlIssuer takes the issuer Name's DER out of a TBSCertList.
func crlIssuer(tbs []byte) ([]byte, error) {
	var t struct {
		Raw     asn1.RawContent
		Version int `asn1:"optional"`
		Sig     asn1.RawValue
		Issuer  asn1.RawValue
		Rest    []asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(tbs, &t); err != nil {
		return nil, fmt.Errorf("CRL issuer: %w", err)
	}
	if len(t.Issuer.FullBytes) == 0 {
		return nil, errors.New("CRL has no issuer")
	}
	return t.Issuer.FullBytes, nil
}

var reasonText = map[ctx509.RevocationReasonCode]string{
	ctx509.KeyCompromise:        "key compromise",
	ctx509.CACompromise:         "CA compromise",
	ctx509.AffiliationChanged:   "affiliation changed",
	ctx509.Superseded:           "superseded",
	ctx509.CessationOfOperation: "cessation of operation",
	ctx509.CertificateHold:      "certificate hold",
	ctx509.RemoveFromCRL:        "remove from CRL",
	ctx509.PrivilegeWithdrawn:   "privilege withdrawn",
	ctx509.AACompromise:         "AA compromise",
}

// checkRevocation looks each certificate of the chain up in the CRLs of its
// issuer, as OpenSSL does when a server has CRLs (nginx ssl_crl: the whole
// chain, and a certificate whose issuer has no CRL fails).
func (c *checker) checkRevocation() {
	if len(c.in.CRLs) == 0 {
		return
	}
	chain := c.out.Chain
	last := len(chain) - 1
	if c.in.CRLCheck == CRLLeaf {
		last = 0
	}
	// A CRL's own faults are reported once, though it covers several certificates.
	bad := map[*CRL]bool{}
	for i := 0; i <= last; i++ {
		x := chain[i].Cert
		var issuer *stores.Certificate
		switch {
		case i+1 < len(chain):
			issuer = chain[i+1].Cert
		case chain[i].SelfSigned:
			issuer = x
		default:
			continue // the issuer is missing: reported already
		}
		if c.parsed(x) == nil {
			continue
		}
		var crls []*CRL
		for _, l := range c.in.CRLs {
			if bytes.Equal(l.RawIssuer, x.RawIssuer) {
				crls = append(crls, l)
			}
		}
		if len(crls) == 0 {
			scope := "checks every certificate of the chain (OpenSSL's CRL_CHECK_ALL, as nginx's ssl_crl sets it)"
			if c.in.CRLCheck == CRLLeaf {
				scope = "checks the client certificate"
			}
			c.add(Reason{Code: CodeCRLMissing, Severity: Reject, Cert: refOf(x),
				Message: fmt.Sprintf("no CRL from %s is given to check %s: a server that uses CRLs %s and rejects a certificate whose issuer has none; add the CRL of %s",
					issuer.Subject, c.role(x, i), scope, issuer.Subject)})
			continue
		}
		for _, l := range crls {
			if bad[l] {
				continue
			}
			if ip := c.parsed(issuer); ip == nil || ip.CheckCertificateListSignature(l.List) != nil {
				bad[l] = true
				c.add(Reason{Code: CodeCRLBadSignature, Severity: Reject, Cert: refOf(x),
					Message: fmt.Sprintf("the CRL %s names %s as its issuer but its signature does not verify with that certificate's key: OpenSSL rejects the client certificate; get the CRL that %s really issued", l.Source, issuer.Subject, issuer.Subject)})
				continue
			}
			tbs := l.List.TBSCertList
			switch {
			case c.in.Now.Before(tbs.ThisUpdate):
				bad[l] = true
				c.add(Reason{Code: CodeCRLNotYetValid, Severity: Reject, Cert: refOf(x),
					Message: fmt.Sprintf("the CRL %s from %s is not valid yet (this update %s, in %s): OpenSSL rejects the certificates it covers", l.Source, issuer.Subject, day(tbs.ThisUpdate), ago(tbs.ThisUpdate.Sub(c.in.Now)))})
			case !tbs.NextUpdate.IsZero() && c.in.Now.After(tbs.NextUpdate):
				bad[l] = true
				c.add(Reason{Code: CodeCRLExpired, Severity: Reject, Cert: refOf(x),
					Message: fmt.Sprintf("the CRL %s from %s expired %s ago on %s (next update passed): OpenSSL rejects the certificates it covers until a fresh CRL is installed", l.Source, issuer.Subject, ago(c.in.Now.Sub(tbs.NextUpdate)), day(tbs.NextUpdate))})
			}
			for _, rc := range tbs.RevokedCertificates {
				if rc.SerialNumber == nil || rc.SerialNumber.Cmp(c.parsed(x).SerialNumber) != 0 {
					continue
				}
				why := ""
				if s, ok := reasonText[rc.RevocationReason]; ok {
					why = " (" + s + ")"
				}
				c.add(Reason{Code: CodeRevoked, Severity: Reject, Cert: refOf(x),
					Message: fmt.Sprintf("%s was revoked on %s%s according to the CRL %s from %s", c.role(x, i), day(rc.RevocationTime), why, l.Source, issuer.Subject)})
				break
			}
		}
	}
}
