package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/rootsync/rootsync/internal/check"
	"github.com/rootsync/rootsync/internal/report"
	"github.com/rootsync/rootsync/internal/storekinds"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/capath"
	"github.com/rootsync/rootsync/stores/nss"
)

type checkOptions struct {
	commonOptions
	stores        []string
	trusted       []string
	also          []string
	intermediates []string
	crls          []string
	crlCheck      string
	at            string
	noDiscover    bool
	caListWarn    int
	verifyDepth   int
	server        string
}

func (o *checkOptions) AddFlags(fs *pflag.FlagSet) {
	o.commonOptions.AddFlags(fs)
	fs.StringArrayVar(&o.stores, "store", nil, "a store the server takes its client CAs from (repeatable; several may follow one --store)")
	fs.StringArrayVar(&o.trusted, "trusted", nil, "a store the server trusts client CAs from without advertising their names (nginx ssl_trusted_certificate; repeatable)")
	fs.IntVar(&o.verifyDepth, "verify-depth", -1, "the server's verify depth, nginx ssl_verify_depth or Apache SSLVerifyDepth (both default to 1; see --server)")
	fs.StringVar(&o.server, "server", "nginx", "how --verify-depth counts: nginx (intermediate CAs below the root, as OpenSSL) or apache (the root's depth, the client certificate being 0)")
	fs.StringArrayVar(&o.also, "also", nil, "another store to look in for a missing root (repeatable; several may follow one --also)")
	fs.StringArrayVar(&o.intermediates, "intermediates", nil, "a PEM or DER file of intermediate certificates the client sends (repeatable)")
	fs.StringArrayVar(&o.crls, "crl", nil, "a CRL file (PEM or DER) the server uses (repeatable); capath stores add their HASH.rN files")
	fs.StringVar(&o.crlCheck, "crl-check", "chain", "with CRLs, which certificates need one: chain (nginx ssl_crl) or leaf")
	fs.StringVar(&o.at, "at", "", "judge validity at this time (RFC 3339 or YYYY-MM-DD) instead of now")
	fs.BoolVar(&o.noDiscover, "no-discover", false, "do not look in the system store and the NSS databases of this user for a missing root")
	fs.IntVar(&o.caListWarn, "ca-list-warn", check.DefaultCAListWarn, "warn when the advertised CA name list is larger than this many bytes")
}

// splitMulti lets one flag take several store specs ("--store A B"): the
// arguments after it that read as specs are rewritten as repeated flags.
func splitMulti(args []string, names ...string) []string {
	var out []string
	cur, taken := "", false // the flag collecting values; it has its first
	for _, a := range args {
		if slices.Contains(names, a) {
			cur, taken = a, false
			out = append(out, a)
			continue
		}
		if cur != "" && !strings.HasPrefix(a, "-") {
			if !taken {
				taken = true
				out = append(out, a)
				continue
			}
			// A spec of a known kind, even a wrong one: ParseSpec's
			// message about it is better than a stray argument's.
			if _, err := storekinds.Registry().ParseSpec(a); err == nil || specOfKnownKind(err) {
				out = append(out, cur, a)
				continue
			}
		}
		cur = ""
		out = append(out, a)
	}
	return out
}

// specOfKnownKind reports whether err is about a spec whose kind is known.
func specOfKnownKind(err error) bool {
	var se *stores.SpecError
	return errors.As(err, &se) && se.Kind != ""
}

func runCheck(ctx context.Context, e *env, args []string) error {
	var o checkOptions
	fs, err := parseCommand(e, "check", "rootsync check CERT --store STORE... [--trusted STORE]... [--verify-depth N] [--intermediates FILE]... [--crl FILE]... [--at TIME] [flags]\n"+
		"CERT is PEM (the first certificate is the client's, the rest intermediates), DER or PKCS#12.\n"+
		"exit status: 0 accepted, 4 rejected, 1 error, 2 usage", false, o.AddFlags, &o.commonOptions, splitMulti(args, "--store", "--trusted", "--also"))
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("check needs one client certificate: rootsync check CERT --store STORE")
	}
	if len(o.stores) == 0 {
		return usagef("check needs the server's CA store: rootsync check CERT --store pem:/etc/nginx/client-ca.pem")
	}
	in, err := o.checkInput(e, fs.Changed("verify-depth"))
	if err != nil {
		return err
	}
	serverSpecs, err := parseSpecs(o.stores)
	if err != nil {
		return err
	}
	trustedSpecs, err := parseSpecs(o.trusted)
	if err != nil {
		return err
	}
	alsoSpecs, err := parseSpecs(o.also)
	if err != nil {
		return err
	}
	if err := o.readCheckFiles(&in, fs.Arg(0)); err != nil {
		return err
	}
	notes, seen, err := loadServerStores(ctx, &in, serverSpecs, trustedSpecs, o.openOptions())
	if err != nil {
		return err
	}
	notes = append(notes, o.searchOtherStores(ctx, &in, seen, alsoSpecs)...)

	r := check.Evaluate(in)
	c := report.Check{Result: r, Notes: notes}
	for _, s := range in.Stores {
		c.Stores = append(c.Stores, s.Name)
	}
	if o.output == "json" {
		err = report.CheckJSON(e.stdout, c)
	} else {
		err = report.CheckText(e.stdout, c, e.style())
	}
	if err != nil {
		return err
	}
	if !r.Accepted {
		return errQuiet{code: ExitRejected}
	}
	return nil
}

// checkInput is the check's input as far as the flags alone give it: the
// time, the CRL mode, the CA list size to warn at and the verify depth
// (depthGiven: --verify-depth was on the command line).
func (o *checkOptions) checkInput(e *env, depthGiven bool) (check.Input, error) {
	in := check.Input{Now: e.now(), CAListWarn: o.caListWarn}
	if depthGiven {
		if o.verifyDepth < 0 {
			return in, usagef("--verify-depth %d: want 0 or more (nginx ssl_verify_depth, Apache SSLVerifyDepth)", o.verifyDepth)
		}
		in.VerifyDepth = &o.verifyDepth
	}
	switch o.server {
	case "nginx":
		in.DepthRule = check.DepthOpenSSL
	case "apache":
		in.DepthRule = check.DepthApache
	default:
		return in, usagef("--server %q: want nginx or apache", o.server)
	}
	switch o.crlCheck {
	case "chain":
		in.CRLCheck = check.CRLChain
	case "leaf":
		in.CRLCheck = check.CRLLeaf
	default:
		return in, usagef("--crl-check %q: want chain or leaf", o.crlCheck)
	}
	if o.at != "" {
		t, err := parseAt(o.at)
		if err != nil {
			return in, err
		}
		in.Now = t
	}
	return in, nil
}

// readCheckFiles reads the client certificate file, the --intermediates and
// the --crl files into in.
func (o *checkOptions) readCheckFiles(in *check.Input, certFile string) error {
	leaf, inters, err := readClientCert(certFile, o.openOptions().Password)
	if err != nil {
		return err
	}
	in.Leaf, in.Intermediates = leaf, inters
	for _, f := range o.intermediates {
		cs, err := readCerts(f)
		if err != nil {
			return err
		}
		in.Intermediates = append(in.Intermediates, cs...)
	}
	for _, f := range o.crls {
		b, err := stores.ReadFile(f)
		if err != nil {
			return err
		}
		ls, err := check.ParseCRLs(f, b)
		if err != nil {
			return &hinted{err, "give a CRL in PEM (X509 CRL blocks) or DER, e.g. from 'openssl ca -gencrl'"}
		}
		in.CRLs = append(in.CRLs, ls...)
	}
	return nil
}

// loadServerStores loads the server's stores (--store, then --trusted, whose
// names are not advertised) into in, with the CRLs of a capath folder; a
// store that cannot be read is an error. It returns notes and the specs it
// loaded.
func loadServerStores(ctx context.Context, in *check.Input, specs, trusted []stores.Spec, opts stores.OpenOptions) ([]string, map[string]bool, error) {
	var notes []string
	sts, err := openAll(specs, opts)
	if err != nil {
		return nil, nil, err
	}
	advertised := len(sts)
	trustedSts, err := openAll(trusted, opts)
	if err != nil {
		return nil, nil, err
	}
	sts = append(sts, trustedSts...)
	seen := map[string]bool{}
	for i, st := range sts {
		set, err := st.Load(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("store %s: %w", st.Spec(), err)
		}
		name := st.Spec().String()
		seen[name] = true
		in.Stores = append(in.Stores, check.Store{Name: name, Caps: st.Capabilities(), Set: set, NotAdvertised: i >= advertised})
		if st.Spec().Kind == "capath" {
			ls, n := capathCRLs(st.Spec().Location)
			in.CRLs = append(in.CRLs, ls...)
			notes = append(notes, n...)
		}
	}
	return notes, seen, nil
}

// searchOtherStores loads the other stores into in.Others, to say where a
// missing root is: --also, and unless --no-discover the system store and
// the user's NSS databases. Stores already seen are skipped; a store that
// cannot be read is a note, not an error.
func (o *checkOptions) searchOtherStores(ctx context.Context, in *check.Input, seen map[string]bool, also []stores.Spec) []string {
	var notes []string
	otherSpecs := also
	if !o.noDiscover {
		otherSpecs = append(otherSpecs, stores.Spec{Kind: "system"})
		if locs, err := nss.DiscoverUser(); err != nil {
			notes = append(notes, fmt.Sprintf("NSS databases not searched: %v", err))
		} else {
			for _, l := range locs {
				if l.Exists {
					otherSpecs = append(otherSpecs, stores.Spec{Kind: "nss", Location: l.Path})
				}
			}
		}
	}
	for _, sp := range otherSpecs {
		if seen[sp.String()] {
			continue
		}
		seen[sp.String()] = true
		sts, err := openStore(sp, o.openOptions())
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s not searched: %v", sp, err))
			continue
		}
		for _, st := range sts {
			set, err := st.Load(ctx)
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s not searched: %v", st.Spec(), err))
				continue
			}
			in.Others = append(in.Others, check.Store{Name: st.Spec().String(), Caps: st.Capabilities(), Set: set})
		}
	}
	return notes
}

func parseAt(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--at %q: want RFC 3339 (2026-10-12T08:00:00Z) or a date (2026-10-12)", s)
}

// readClientCert reads the client certificate: PEM (the first certificate is
// the leaf, the others intermediates), DER, or PKCS#12 (with the password
// from --password-env or --password-file, else the empty password).
func readClientCert(path string, pw stores.Secret) (*stores.Certificate, []*stores.Certificate, error) {
	data, err := stores.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if bytes.Contains(data, []byte("-----BEGIN")) {
		cs, err := decodeCerts(path, data)
		if err != nil {
			return nil, nil, err
		}
		return cs[0], cs[1:], nil
	}
	if c, err := stores.ParseCertificate(data); err == nil {
		return c, nil, nil
	}
	password := ""
	if !pw.IsZero() {
		v, err := pw.Value()
		if err != nil {
			return nil, nil, err
		}
		password = string(v)
	}
	_, leaf, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			hint := "give the file's password with --password-env VAR or --password-file FILE"
			if !pw.IsZero() {
				hint = "check the password in " + pw.String()
			}
			return nil, nil, &stores.Error{Path: path, Err: stores.ErrBadPassword, Hint: hint}
		}
		return nil, nil, &stores.Error{Path: path, Err: fmt.Errorf("neither PEM, DER nor PKCS#12: %w", err),
			Hint: "give the client certificate as PEM, DER or a PKCS#12 file (.p12, .pfx)"}
	}
	c, err := stores.ParseCertificate(leaf.Raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var inters []*stores.Certificate
	for i, ca := range cas {
		ic, err := stores.ParseCertificate(ca.Raw)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: certificate %d: %w", path, i+2, err)
		}
		inters = append(inters, ic)
	}
	return c, inters, nil
}

// readCerts reads every certificate of a PEM or DER file (CERTIFICATE and
// TRUSTED CERTIFICATE blocks alike, as OpenSSL reads them).
func readCerts(path string) ([]*stores.Certificate, error) {
	data, err := stores.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeCerts(path, data)
}

// decodeCerts is readCerts for data read from path.
func decodeCerts(path string, data []byte) ([]*stores.Certificate, error) {
	b, err := stores.DecodePEM(data, stores.DecodeOptions{DER: true})
	if err != nil {
		var be *stores.BlockError
		if errors.As(err, &be) {
			return nil, &stores.Error{Path: path, Entry: be.Position(), Err: be.Err, Hint: "replace the damaged block with the certificate itself"}
		}
		return nil, &stores.Error{Path: path, Err: err, Hint: "give certificates in PEM or DER"}
	}
	var out []*stores.Certificate
	for _, blk := range b.Certificates() {
		out = append(out, blk.Cert)
	}
	if len(out) == 0 {
		return nil, &stores.Error{Path: path, Err: errors.New("no CERTIFICATE block"), Hint: "give a file with the certificate in PEM, DER or PKCS#12"}
	}
	return out, nil
}

var crlLinkRE = regexp.MustCompile(`^([0-9a-f]{8})\.r[0-9]+$`)

// capathCRLs reads the HASH.rN files of a hashed directory, as OpenSSL finds
// them: by the subject hash of the CRL's issuer. A CRL under the wrong hash
// is left out with a note (OpenSSL would not find it).
func capathCRLs(dir string) ([]*check.CRL, []string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, []string{fmt.Sprintf("CRLs in %s not read: %v", dir, err)}
	}
	var out []*check.CRL
	var notes []string
	for _, de := range ents {
		m := crlLinkRE.FindStringSubmatch(de.Name())
		if m == nil {
			continue
		}
		p := filepath.Join(dir, de.Name())
		b, err := stores.ReadFile(p)
		if err != nil {
			notes = append(notes, fmt.Sprintf("CRL %s not read: %v", p, err))
			continue
		}
		ls, err := check.ParseCRLs(p, b)
		if err != nil {
			notes = append(notes, fmt.Sprintf("CRL %s not used: %v", p, err))
			continue
		}
		for _, l := range ls {
			h, err := capath.HashName(l.RawIssuer)
			if err != nil || h != m[1] {
				notes = append(notes, fmt.Sprintf("CRL %s is not named for its issuer's hash (%s): OpenSSL does not find it; run 'openssl rehash %s'", p, h, dir))
				continue
			}
			out = append(out, l)
		}
	}
	return out, notes
}
