package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// Origin narrows the sources' roots by where they come from: the public
// root set the distribution (or a JDK, a browser vendor) packages, or local
// roots, added by the organisation. Distrust is never narrowed: it reaches
// every target whatever its origin.
type Origin int

const (
	// OriginDefault is local for a target that should not get public roots
	// unasked — a pem or capath target when client-auth is among the
	// purposes (a server's client-CA file: any public CA could vouch for a
	// client), and an nss target (browsers trust the public roots through
	// NSS's built-in list already) — and all otherwise.
	OriginDefault Origin = iota
	// OriginLocal selects only roots outside the public set.
	OriginLocal
	// OriginPublic selects only roots in the public set.
	OriginPublic
	// OriginAll selects every root.
	OriginAll
)

var originNames = []string{"default", "local", "public", "all"}

func (o Origin) String() string {
	if o < 0 || int(o) >= len(originNames) {
		return fmt.Sprintf("origin(%d)", int(o))
	}
	return originNames[o]
}

// ParseOrigin reads "local", "public" or "all".
func ParseOrigin(s string) (Origin, error) {
	for i, n := range originNames[1:] {
		if s == n {
			return Origin(i + 1), nil
		}
	}
	return 0, fmt.Errorf("unknown origin %q (want local, public or all)", s)
}

// admits reports whether a root that is (or is not) public is selected.
func (o Origin) admits(public bool) bool {
	switch o {
	case OriginLocal:
		return !public
	case OriginPublic:
		return public
	}
	return true
}

// NeedsPublic reports whether the public root set (Options.Public) matters
// to a plan for targets of these kinds: whether any of them takes an origin
// other than all. A caller that learns it does not skips reading the set.
func (o Options) NeedsPublic(targetKinds []string) bool {
	for _, k := range targetKinds {
		if origin, _ := o.originFor(k); origin != OriginAll {
			return true
		}
	}
	return false
}

// originFor is the origin that applies to a target of the given kind, and
// whether it is the default rather than asked for.
func (o Options) originFor(kind string) (Origin, bool) {
	if o.Origin != OriginDefault {
		return o.Origin, false
	}
	switch {
	case kind == "nss":
		return OriginLocal, true
	case (kind == "pem" || kind == "capath") && slices.Contains(o.Purposes, stores.ClientAuth):
		return OriginLocal, true
	}
	return OriginAll, true
}

// outOfOrigin plans a root of the desired state that the target's origin
// does not select: it is not added; where the target holds it, an explicit
// origin removes it in the modes that may remove it, and the default origin
// keeps it with a warning (so that a job written before origins existed
// does not turn into a mass removal), saying how to settle it either way.
func (b *builder) outOfOrigin(want, have *stores.Entry, ref CertRef) {
	public := b.opts.Public[want.Cert.Fingerprint]
	dt := b.dt
	dt.origin, dt.defaulted, dt.public = b.origin, b.defaulted, public
	dt.exact = have != nil && b.exact(have)
	if have == nil {
		b.w.add(CodeOrigin, dt, ref)
		return
	}
	if b.exact(have) && !b.defaulted {
		b.removes = append(b.removes, b.change(stores.Remove, have, Reason{Code: CodeOrigin, Detail: b.origin.String()}))
		b.originRemovals++
		return
	}
	b.w.add(CodeOriginKept, dt, ref)
	b.p.Kept++
}

// originText renders the CodeOrigin and CodeOriginKept warnings.
func originText(c Code, d detail) string {
	what := "in the public root set (packaged by the distribution)"
	if !d.public {
		what = "local roots (not in the packaged public root set)"
	}
	if c == CodeOrigin {
		switch {
		case d.defaulted && d.kind == "nss":
			return what + ", which browsers already trust through NSS's built-in list; not copied into " + d.target +
				" (use --origin all to copy them; distrust is written all the same)"
		case d.defaulted:
			return what + "; not copied into " + d.target +
				", which takes only local roots for client-auth unless asked (use --origin all to copy them)"
		}
		return what + "; left out by --origin " + d.origin.String()
	}
	var how string
	switch {
	case d.mode == AddOnly:
		how = "add mode never removes (remove them with --mode prune or mirror and --origin " + d.origin.String() + ")"
	case !d.exact:
		how = "kept: " + d.mode.String() + " mode removes only what rootsync added"
	case d.defaulted:
		how = fmt.Sprintf("kept, because the origin %s is only the default for this target: remove them by giving --origin %s (origin: %s in a configuration job; with --max-removals when they are many), or keep managing them with --origin all",
			d.origin, d.origin, d.origin)
	}
	return strings.TrimSpace(fmt.Sprintf("%s, held by %s but not selected by origin %s; %s", what, d.target, d.origin, how))
}

// purposeText renders the CodeNoPurposes and CodePurposeUnspecified
// warnings.
func purposeText(c Code, d detail) string {
	var ps []string
	for _, p := range d.purposes {
		ps = append(ps, p.String())
	}
	purposes := strings.Join(ps, ", ")
	if c == CodeNoPurposes {
		return fmt.Sprintf("selected for %s only because %s cannot record purposes: every root it trusts counts as trusted for %s (--origin local, the default for client-auth into pem, capath and nss targets, keeps only the organisation's own; --only and --exclude narrow further)",
			purposes, d.source, purposes)
	}
	kind, loc, _ := strings.Cut(d.source, ":")
	how := "grant it in " + d.source + " and run again"
	if kind == "nss" && loc != "" && d.label != "" {
		t := d.trust
		for _, p := range d.purposes {
			t = t.With(p, stores.Trusted)
		}
		how = fmt.Sprintf("grant it with: certutil -M -n %s -t %s -d sql:%s", ShellQuote(d.label), NSSFlags(t), ShellQuote(loc))
	}
	return fmt.Sprintf("trusted by %s for other purposes, but with nothing said for %s; not selected (%s, or copy it anyway with --purpose naming a purpose it is trusted for)",
		d.source, purposes, how)
}

// NSSFlags are the certutil -t trust flags ("SSL,S/MIME,code signing") of
// a CA trusted as t says: C in the first field is server-auth, T
// client-auth; C in the second email, in the third code signing.
func NSSFlags(t stores.Trust) string {
	var f [3]string
	if t.Get(stores.ServerAuth) == stores.Trusted {
		f[0] += "C"
	}
	if t.Get(stores.ClientAuth) == stores.Trusted {
		f[0] += "T"
	}
	if t.Get(stores.Email) == stores.Trusted {
		f[1] = "C"
	}
	if t.Get(stores.CodeSigning) == stores.Trusted {
		f[2] = "C"
	}
	return f[0] + "," + f[1] + "," + f[2]
}

// ShellQuote quotes s for a POSIX shell when it needs it, so that a command
// a message shows can be pasted as it is.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,=+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
