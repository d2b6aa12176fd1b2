package report

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rootsync/rootsync/internal/check"
)

// Check is the verdict of rootsync check: the result, the server's stores as
// given, and notes (stores that could not be searched, CRL files not used).
type Check struct {
	Result *check.Result
	Stores []string
	Notes  []string
}

func verdict(r *check.Result) string {
	if r.Accepted {
		return "accepted"
	}
	return "rejected"
}

// CheckText writes the verdict for people.
func CheckText(w io.Writer, c Check, s Style) error {
	r := c.Result
	var b strings.Builder
	color := green
	if !r.Accepted {
		color = red
	}
	fmt.Fprintf(&b, "%s: %s (%s)\n", s.paint(color, verdict(r)), r.Leaf.Subject, r.Leaf.Fingerprint.Short())
	fmt.Fprintf(&b, "  checked against %s at %s\n", strings.Join(c.Stores, ", "), r.Now.UTC().Format(time.RFC3339))
	if a := r.Advertised; len(a.Stores) > 0 {
		fmt.Fprintf(&b, "  advertised CA names: %d (%d bytes) from %s\n", len(a.Names), a.Size, strings.Join(a.Stores, ", "))
	}
	b.WriteString("  chain:\n")
	for i, l := range r.Chain {
		fmt.Fprintf(&b, "    %d %s  %s  [%s]\n", i, l.Cert.Fingerprint.Short(), l.Cert.Subject, l.Source)
	}
	for _, x := range r.Reasons {
		fmt.Fprintf(&b, "  %s: %s: %s\n", x.Severity, x.Code, x.Message)
		if x.OpenSSL != nil {
			fmt.Fprintf(&b, "    OpenSSL (nginx, Apache): %s\n", x.OpenSSL)
		}
		if f := x.Fix; f != nil {
			switch {
			case f.Command == "" && f.Why != "":
				fmt.Fprintf(&b, "    fix: %s\n", f.Why)
			case f.Command != "" && f.Why != "":
				fmt.Fprintf(&b, "    fix: %s; run:\n      %s\n", f.Why, f.Command)
			case f.Command != "":
				fmt.Fprintf(&b, "    fix: the root is trusted for client authentication in %s; run:\n      %s\n", f.Store, f.Command)
			}
			if f.Note != "" {
				fmt.Fprintf(&b, "    note: %s\n", f.Note)
			}
		}
	}
	for _, n := range c.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type jsonCheck struct {
	Schema      string            `json:"schema"`
	Verdict     string            `json:"verdict"`
	Accepted    bool              `json:"accepted"`
	At          time.Time         `json:"at"`
	Certificate jsonCheckCert     `json:"certificate"`
	Stores      []string          `json:"stores"`
	Chain       []jsonCheckLink   `json:"chain"`
	Reasons     []jsonCheckReason `json:"reasons"`
	Notes       []string          `json:"notes"`
	Advertised  jsonCAList        `json:"advertised_cas"`
}

type jsonCheckCert struct {
	Fingerprint string     `json:"fingerprint"`
	Subject     string     `json:"subject"`
	Issuer      string     `json:"issuer,omitempty"`
	Serial      string     `json:"serial,omitempty"`
	NotBefore   *time.Time `json:"not_before,omitempty"`
	NotAfter    *time.Time `json:"not_after,omitempty"`
}

type jsonCheckLink struct {
	Fingerprint string `json:"fingerprint"`
	Subject     string `json:"subject"`
	Source      string `json:"source"`
	SelfSigned  bool   `json:"self_signed"`
}

type jsonCheckReason struct {
	Code        string          `json:"code"`
	Severity    string          `json:"severity"`
	Message     string          `json:"message"`
	Certificate *jsonCheckRef   `json:"certificate,omitempty"`
	Missing     *jsonCheckMiss  `json:"missing_issuer,omitempty"`
	Store       string          `json:"store,omitempty"`
	Fix         *jsonCheckFixes `json:"fix,omitempty"`
	OpenSSL     *jsonVerifyErr  `json:"openssl_error,omitempty"`
}

type jsonVerifyErr struct {
	Code int    `json:"code"`
	Name string `json:"name"`
}

type jsonCheckRef struct {
	Fingerprint string `json:"fingerprint"`
	Subject     string `json:"subject"`
}

type jsonCheckMiss struct {
	Subject        string `json:"subject"`
	AuthorityKeyID string `json:"authority_key_id,omitempty"`
}

type jsonCheckFixes struct {
	Store   string `json:"store,omitempty"`
	Command string `json:"command,omitempty"`
	Why     string `json:"why,omitempty"`
	Note    string `json:"note,omitempty"`
}

type jsonCAList struct {
	Stores []string `json:"stores"`
	Names  []string `json:"names"`
	Size   int      `json:"size"`
}

// CheckJSON writes the verdict as one JSON document (schema
// rootsync.check/v1).
func CheckJSON(w io.Writer, c Check) error {
	r := c.Result
	out := jsonCheck{Schema: CheckSchema, Verdict: verdict(r), Accepted: r.Accepted, At: r.Now.UTC(),
		Stores: append([]string{}, c.Stores...), Chain: []jsonCheckLink{}, Reasons: []jsonCheckReason{}, Notes: c.Notes}
	if out.Notes == nil {
		out.Notes = []string{}
	}
	out.Advertised = jsonCAList{Stores: append([]string{}, r.Advertised.Stores...), Names: append([]string{}, r.Advertised.Names...), Size: r.Advertised.Size}
	leaf := r.Leaf
	out.Certificate = jsonCheckCert{Fingerprint: leaf.Fingerprint.String(), Subject: leaf.Subject}
	if p := leaf.Parsed(); p != nil {
		out.Certificate.Issuer = p.Issuer.String()
		out.Certificate.Serial = hex.EncodeToString(p.SerialNumber.Bytes())
		nb, na := leaf.NotBefore.UTC(), leaf.NotAfter.UTC()
		out.Certificate.NotBefore, out.Certificate.NotAfter = &nb, &na
	}
	for _, l := range r.Chain {
		out.Chain = append(out.Chain, jsonCheckLink{l.Cert.Fingerprint.String(), l.Cert.Subject, l.Source, l.SelfSigned})
	}
	for _, x := range r.Reasons {
		jr := jsonCheckReason{Code: x.Code, Severity: string(x.Severity), Message: x.Message, Store: x.Store}
		if x.Cert != nil {
			jr.Certificate = &jsonCheckRef{x.Cert.Fingerprint.String(), x.Cert.Subject}
		}
		if x.Missing != nil {
			jr.Missing = &jsonCheckMiss{x.Missing.Subject, x.Missing.AuthorityKeyID}
		}
		if x.Fix != nil {
			jr.Fix = &jsonCheckFixes{x.Fix.Store, x.Fix.Command, x.Fix.Why, x.Fix.Note}
		}
		if x.OpenSSL != nil {
			jr.OpenSSL = &jsonVerifyErr{x.OpenSSL.Code, x.OpenSSL.Name}
		}
		out.Reasons = append(out.Reasons, jr)
	}
	return encode(w, out)
}
