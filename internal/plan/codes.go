package plan

import (
	"fmt"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// Code names the kind of a warning, of a change's reason, or of a refusal.
// The strings are stable: scripts read them in the JSON output, where
// docs/json.md lists them. Prose is rendered from a code and its details,
// never the other way round.
type Code string

// Warning codes.
const (
	// CodeExpired: trusted by the sources but expired; left out.
	CodeExpired Code = "expired"
	// CodeNotCA: trusted by the sources but not a CA certificate; left out.
	CodeNotCA Code = "not-ca"
	// CodeCAUndetermined: trusted by the sources, but whether it is a CA
	// certificate cannot be determined (the certificate parser refuses it,
	// for example for a malformed basic constraints or key usage extension);
	// not added, and not removed where a target holds it.
	CodeCAUndetermined Code = "ca-undetermined"
	// CodeExcluded: left out on request (--exclude).
	CodeExcluded Code = "excluded"
	// CodeUnparsed: the certificate parser refuses it; copied as bytes.
	CodeUnparsed Code = "unparsed"
	// CodeConflict: trusted by one source, distrusted by another.
	CodeConflict Code = "conflict"
	// CodeNote: a store's remark about an entry.
	CodeNote Code = "note"
	// CodeLossyPurpose: per-purpose trust written into a store that trusts
	// for every purpose.
	CodeLossyPurpose Code = "lossy-purpose"
	// CodeLossyDistrust: distrust a store cannot record; left out of it.
	CodeLossyDistrust Code = "lossy-distrust"
	// CodeStillTrusted: distrusted by the sources, present in a target that
	// cannot record distrust, and the mode does not remove it.
	CodeStillTrusted Code = "still-trusted"
	// CodeKeptDistrust: the target distrusts what the sources trust; add and
	// prune modes keep the distrust.
	CodeKeptDistrust Code = "kept-distrust"
	// CodeUserCert: a store holds the certificate's private key (a user
	// certificate); it is never copied from a source, removed from a target
	// or given other trust there.
	CodeUserCert Code = "user-cert"
	// CodeOpenSSLCannotLoad: OpenSSL cannot load the certificate (a subject
	// or issuer name it cannot decode), and the target is read with OpenSSL,
	// which refuses the whole file for it: not added to that target, and
	// removed from it where the mode allows (a reason too).
	CodeOpenSSLCannotLoad Code = "openssl-cannot-load"
	// CodeOrigin: a root the target's origin (Options.Origin) does not
	// select (a public root for a local-only target, or the reverse); not
	// added. As a change's reason: removed for that reason (an explicit
	// origin, in prune or mirror mode).
	CodeOrigin Code = "origin"
	// CodeOriginKept: a root the target holds that its origin does not
	// select, kept (add mode, an entry the mode may not remove, or an
	// origin that is only the default); the message says how to settle it.
	CodeOriginKept Code = "origin-kept"
	// CodeNoPurposes: a purpose filter met a source that cannot record
	// purposes: every root of that source counts as trusted for the chosen
	// purposes.
	CodeNoPurposes Code = "no-purposes"
	// CodePurposeUnspecified: a source trusts the root for other purposes
	// but says nothing for the chosen ones (NSS trust flags C,, asked for
	// client-auth); not selected, and the message says how to grant it.
	CodePurposeUnspecified Code = "purpose-unspecified"
)

// Refusal codes.
const (
	// CodeMassRemoval: the plan removes most of what its mode may remove, or
	// empties the target (see Options.MaxRemovals).
	CodeMassRemoval Code = "mass-removal"
)

// Change reason codes. CodeExcluded, CodeExpired and CodeNotCA are reasons
// too: the reason an entry added earlier is removed in prune or mirror mode.
const (
	// ReasonTrusted: added or changed because sources trust it.
	ReasonTrusted Code = "trusted"
	// ReasonDistrusted: changed or removed because sources distrust it.
	ReasonDistrusted Code = "distrusted"
	// ReasonNotInSources: mirror mode removes what no source holds.
	ReasonNotInSources Code = "not-in-sources"
	// ReasonDropped: prune mode removes what rootsync added earlier and no
	// source holds now.
	ReasonDropped Code = "dropped"
)

// Reason is why a change is planned.
type Reason struct {
	Code Code
	// Sources are the sources that trust or distrust the certificate
	// (ReasonTrusted, ReasonDistrusted).
	Sources []string
	// Detail is the fingerprint prefix (CodeExcluded) or the expiry date
	// (CodeExpired).
	Detail string
}

// String is the reason in words, as the report shows it.
func (r Reason) String() string {
	switch r.Code {
	case ReasonTrusted:
		return "trusted by " + strings.Join(r.Sources, ", ")
	case ReasonDistrusted:
		return "distrusted by " + strings.Join(r.Sources, ", ")
	case CodeExcluded:
		return "excluded by --exclude " + r.Detail
	case CodeExpired:
		return "expired on " + r.Detail
	case CodeNotCA:
		return "not a CA certificate"
	case CodeOpenSSLCannotLoad:
		return "OpenSSL cannot load it, and OpenSSL reads this target"
	case CodeOrigin:
		if r.Detail == OriginPublic.String() {
			return "a local root; --origin public leaves it out"
		}
		return "a public root; --origin " + r.Detail + " leaves it out"
	case ReasonNotInSources:
		return "mirror mode removes what no source holds"
	case ReasonDropped:
		return "added by rootsync earlier; no source holds it now"
	case ReasonRemoveAsked:
		return "named by rootsync remove"
	case ReasonDistrustAsked:
		return "named by rootsync distrust"
	}
	return string(r.Code)
}

// detail is what a warning's words name besides its code.
type detail struct {
	target string // the target's spec
	kind   string // the target's kind (the spec before the colon)
	mode   Mode
	// suggest is the mode that would remove the entry (still-trusted).
	suggest Mode
	// trusted and distrusted name the sources on each side (conflict).
	trusted, distrusted []string
	// text is a store's own remark (note).
	text string
	// held: the target already holds the certificate (openssl-cannot-load).
	held bool
	// removed: the distrust command names the certificates, and a store
	// that cannot record distrust loses them (lossy-distrust).
	removed bool
	// origin is the target's origin, defaulted whether it is the default,
	// public whether the roots are public, exact whether the mode may
	// remove the entry (origin, origin-kept).
	origin            Origin
	defaulted, public bool
	exact             bool
	// source is a source's spec, purposes the chosen purposes, label a
	// store's name for the entry (no-purposes, purpose-unspecified).
	source   string
	purposes []stores.Purpose
	label    string
	trust    stores.Trust
}

// warningText renders a warning's message from its code. The message reads
// after a count: "2 certificates expired; left out ...".
func warningText(c Code, d detail) string {
	switch c {
	case CodeExpired:
		return "expired; left out (use --include-expired to keep them)"
	case CodeNotCA:
		return "not a CA certificate; left out (use --include-non-ca to keep them)"
	case CodeCAUndetermined:
		return "whose CA status cannot be determined (the certificate parser refuses them); not added as trusted roots, and not removed where a target holds them (use --include-non-ca to add them)"
	case CodeExcluded:
		return "excluded on request; left out"
	case CodeUnparsed:
		return "that the certificate parser refuses; kept and copied as bytes"
	case CodeConflict:
		return fmt.Sprintf("trusted by %s but distrusted by %s; distrust wins",
			strings.Join(d.trusted, ", "), strings.Join(d.distrusted, ", "))
	case CodeNote:
		return d.text
	case CodeLossyPurpose:
		return fmt.Sprintf("trusted only for some of the chosen purposes, but a %s store cannot record purposes: it will trust them for every purpose (use --purpose to choose)", d.kind)
	case CodeLossyDistrust:
		if d.removed {
			return fmt.Sprintf("to distrust, but a %s store cannot record distrust: removed from %s instead (a later sync that copies them there brings them back)", d.kind, d.target)
		}
		return fmt.Sprintf("distrusted for some purposes and trusted for others, but a %s store cannot record distrust: they are left out of it", d.kind)
	case CodeStillTrusted:
		return fmt.Sprintf("distrusted by the sources but present in %s, which cannot record distrust; %s mode does not remove it (use --mode %s)",
			d.target, d.mode, d.suggest)
	case CodeUserCert:
		return "held with their private key (user certificates, not roots); never copied, removed or re-trusted"
	case CodeOpenSSLCannotLoad:
		if d.held {
			return fmt.Sprintf("that OpenSSL cannot load (a subject or issuer name it cannot decode, such as a VisibleString) are in %s, which OpenSSL therefore refuses as a whole; %s mode does not remove them (use --mode %s)", d.target, d.mode, d.suggest)
		}
		return fmt.Sprintf("that OpenSSL cannot load (a subject or issuer name it cannot decode, such as a VisibleString); left out of %s, which is read with OpenSSL and would be refused as a whole", d.target)
	case CodeOrigin, CodeOriginKept:
		return originText(c, d)
	case CodeNoPurposes, CodePurposeUnspecified:
		return purposeText(c, d)
	case CodeKeptDistrust:
		return fmt.Sprintf("distrusted in %s but trusted by the sources; the target's distrust is kept (use --mode mirror to replace it)", d.target)
	}
	return string(c)
}
