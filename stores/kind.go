package stores

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Kind describes one store kind: the KIND of a spec KIND:LOCATION. Each
// adapter package exports its Kind (pem.Kind(), nss.Kind(), ...), and a
// program collects the kinds it knows in a Registry. Spec parsing, option
// checks, shorthand expansion, help texts and discovery all read the Kind, so
// a new kind is one adapter package plus one entry in the program's list.
//
// A Kind is a plain value: building one registers nothing anywhere.
type Kind struct {
	// Name is the spec prefix: "pem", "nss", "system". Lower-case letters and
	// digits.
	Name string
	// Location names the location part in help texts: "FILE", "DIR", "ROOT".
	Location string
	// LocationOptional: the spec may be the bare name ("system"). Otherwise
	// a location is required.
	LocationOptional bool
	// Summary is one plain-text line for --help.
	Summary string
	// What and CanRecord are the "what" and "can record" cells of the README's
	// store table (Markdown).
	What, CanRecord string
	// Capabilities are the distinctions every store of the kind can express.
	// A store's own Capabilities may say more (the system store can record
	// distrust where the distribution has a blocklist folder).
	Capabilities Capabilities
	// Options are the options the kind accepts after '?'. ParseSpec refuses
	// every other option.
	Options []Option
	// Open returns the store a parsed spec names: the adapter's Open.
	// Registry.Open expands shorthands before it calls Open.
	Open func(Spec, OpenOptions) (Store, error)

	// Shorthands document the locations that stand for stores found on the
	// host (nss:chromium). A kind with shorthands sets IsShorthand and
	// Expand too.
	Shorthands []Shorthand
	// IsShorthand reports whether a (decoded) location is a shorthand rather
	// than a path. It does no I/O.
	IsShorthand func(loc string) bool
	// Expand returns the locations a shorthand stands for, for the user
	// whose home folder is home: one or more, never none. When it finds
	// nothing, its error matches ErrNothingFound (see NothingFound).
	Expand func(loc, home string) ([]string, error)

	// Discover, when not nil, lists the stores of this kind that the user
	// whose home folder is home, and the host, have or would have. It never
	// fails: what cannot be read is left out.
	Discover func(home string) []Found
	// TrustNotation, when not nil, renders an entry's trust in the kind's own
	// notation for listings (NSS: "CT,C,c").
	TrustNotation func(*Entry) string
}

// Option is one option a kind accepts after '?' in a spec.
type Option struct {
	// Name is the key: "password-env".
	Name string
	// Value names its value in help texts: "VAR", "FILE", "NAME".
	Value string
	// Meaning is one line for help texts and the README.
	Meaning string
	// Secret: the option says where a secret is kept (the secret itself
	// never appears in a spec), so that a program can keep such variables
	// and files away from the commands it starts.
	Secret bool
}

// PasswordOptions are the options of kinds whose stores may need a password;
// SecretFromSpec reads them.
var PasswordOptions = []Option{
	{Name: "password-env", Value: "VAR", Meaning: "the store's password is in this environment variable", Secret: true},
	{Name: "password-file", Value: "FILE", Meaning: "the store's password is the first line of this file", Secret: true},
	{Name: "password-credential", Value: "NAME", Meaning: "the store's password is the systemd credential NAME (LoadCredential=NAME:FILE in the unit; read from $CREDENTIALS_DIRECTORY)", Secret: true},
}

// Shorthand documents one shorthand location of a kind.
type Shorthand struct {
	// Form is the location as written, an upper-case word standing for a
	// name the user picks: "chromium", "firefox/PROFILE".
	Form string
	// Note says what it stands for when the form does not ("every
	// profile"), or is "".
	Note string
}

// Found is a store that a kind's Discover found.
type Found struct {
	// Spec names the store, as ParseSpec reads it.
	Spec string
	// UsedBy says who uses it, for people: "Chromium", "Java (Debian)".
	UsedBy string
	// Path is the file or folder of the store.
	Path string
	// Exists reports whether the store is there yet (a browser creates its
	// database on first start).
	Exists bool
	// Default marks the one its program uses unless told otherwise (the
	// Firefox profile Firefox starts with).
	Default bool
}

// ErrNothingFound is wrapped by the error of a shorthand that finds no store
// (nss:firefox for a user without a Firefox profile). A shorthand never
// stands for an empty store.
var ErrNothingFound = errors.New("no store found")

// NothingFound returns an error whose text is msg (which says where the
// shorthand looked) and which errors.Is matches with ErrNothingFound.
func NothingFound(msg string) error { return &nothingFound{msg} }

type nothingFound struct{ msg string }

func (e *nothingFound) Error() string        { return e.msg }
func (e *nothingFound) Is(target error) bool { return target == ErrNothingFound }

// SpecError is a spec that cannot be read. Its text reads
// `store "SPEC": REASON`.
type SpecError struct {
	// Spec is the spec as given.
	Spec string
	// Kind is the kind whose rules the spec breaks (a wrong option, a
	// missing location), or "" when the spec's kind is not known.
	Kind string
	// Option is the option at fault, or "".
	Option string
	// Reason says what is wrong and what is wanted, without the spec.
	Reason string
}

func (e *SpecError) Error() string { return fmt.Sprintf("store %q: %s", e.Spec, e.Reason) }

// Spec names a store: KIND:LOCATION, optionally followed by options as
// ?key=value&key=value (for example p12:trust.p12?password-env=TRUST_PW).
// The location is percent-decoded: a '?' in a path is written %3F and a '%'
// is written %25.
type Spec struct {
	Kind     string
	Location string
	Options  map[string]string
}

// String renders the spec in the form ParseSpec reads: the location with '%',
// '?' and a leading '~' escaped, options sorted.
func (s Spec) String() string {
	out := s.Kind
	if s.Location != "" {
		out += ":" + escapeLocation(s.Location)
	}
	if len(s.Options) > 0 {
		out += "?" + encodeOptions(s.Options)
	}
	return out
}

// Option returns the named option, or "".
func (s Spec) Option(key string) string { return s.Options[key] }

// ParseSpec reads a spec of this kind. It refuses another kind, an option
// the kind does not accept (naming the ones it does), an option given twice
// or without a value, a missing location, and a bad %-escape. The location
// is percent-decoded; a leading ~/ (as written, not %7E/) is the user's home
// folder. Every error is
// a *SpecError. ParseSpec does not expand shorthands and touches no file.
func (k Kind) ParseSpec(s string) (Spec, error) {
	kind, loc, _, query, hasQuery := splitSpec(s)
	if kind != k.Name {
		return Spec{}, &SpecError{Spec: s, Reason: fmt.Sprintf("not a %s: spec", k.Name)}
	}
	bad := func(option, format string, args ...any) error {
		return &SpecError{Spec: s, Kind: k.Name, Option: option, Reason: fmt.Sprintf(format, args...)}
	}
	spec := Spec{Kind: k.Name}
	if hasQuery {
		opts, err := k.parseOptions(query, bad)
		if err != nil {
			return Spec{}, err
		}
		spec.Options = opts
	}
	if loc == "" {
		if !k.LocationOptional {
			return Spec{}, bad("", "missing location (want %s)", k.Usage())
		}
		return spec, nil
	}
	dec, err := unescapeLocation(loc)
	if err != nil {
		return Spec{}, bad("", "location: %v (a '%%' in a path is written %%25)", err)
	}
	if strings.HasPrefix(loc, "~/") { // as written: %7E/ is a folder named ~
		if home, err := os.UserHomeDir(); err == nil {
			dec = home + dec[1:]
		}
	}
	spec.Location = dec
	return spec, nil
}

func (k Kind) parseOptions(query string, bad func(option, format string, args ...any) error) (map[string]string, error) {
	if query == "" {
		return nil, bad("", "nothing after '?': options read key=value&key=value")
	}
	opts := map[string]string{}
	for _, pair := range strings.Split(query, "&") {
		rawKey, rawVal, _ := strings.Cut(pair, "=")
		key, err1 := unescapeQuery(rawKey)
		val, err2 := unescapeQuery(rawVal)
		if err := errors.Join(err1, err2); err != nil {
			return nil, bad(key, "option %q: %v", rawKey, err)
		}
		if key == "" {
			return nil, bad("", "options after '?' must read key=value&key=value")
		}
		if k.option(key) == nil {
			return nil, bad(key, "unknown option %q (%s)", key, k.acceptedOptions())
		}
		if _, dup := opts[key]; dup {
			return nil, bad(key, "option %q is given twice", key)
		}
		if val == "" {
			return nil, bad(key, "option %q needs a value (%s=%s)", key, key, k.option(key).Value)
		}
		opts[key] = val
	}
	return opts, nil
}

func (k Kind) option(name string) *Option {
	for i := range k.Options {
		if k.Options[i].Name == name {
			return &k.Options[i]
		}
	}
	return nil
}

// acceptedOptions says which options the kind takes, for messages.
func (k Kind) acceptedOptions() string {
	if len(k.Options) == 0 {
		return k.Name + " takes no options"
	}
	var names []string
	for _, o := range k.Options {
		names = append(names, o.Name)
	}
	return k.Name + " takes " + orList(names)
}

// Usage is the spec's form for help texts and messages: "pem:FILE",
// "system[:ROOT]".
func (k Kind) Usage() string {
	if k.LocationOptional {
		return k.Name + "[:" + k.Location + "]"
	}
	return k.Name + ":" + k.Location
}

// Registry is the set of store kinds a program knows, in the order it lists
// them. It is built from an explicit list (NewRegistry), never by side
// effects of importing a package. A Registry is read-only and safe for
// concurrent use.
type Registry struct {
	kinds []Kind
}

var kindName = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// NewRegistry checks the kinds and returns their registry: every kind has a
// unique, well-formed name, an Open, a Location unless the location is
// optional, unique options, and either all of Shorthands, IsShorthand and
// Expand or none of them.
func NewRegistry(kinds ...Kind) (*Registry, error) {
	seen := map[string]bool{}
	for _, k := range kinds {
		switch {
		case !kindName.MatchString(k.Name):
			return nil, fmt.Errorf("store kind %q: a name is lower-case letters and digits", k.Name)
		case seen[k.Name]:
			return nil, fmt.Errorf("store kind %q is listed twice", k.Name)
		case k.Open == nil:
			return nil, fmt.Errorf("store kind %q has no Open", k.Name)
		case k.Location == "":
			return nil, fmt.Errorf("store kind %q: Location names the location part (FILE, DIR, ...)", k.Name)
		case (len(k.Shorthands) > 0) != (k.IsShorthand != nil) || (k.IsShorthand != nil) != (k.Expand != nil):
			return nil, fmt.Errorf("store kind %q: Shorthands, IsShorthand and Expand go together", k.Name)
		}
		seen[k.Name] = true
		opts := map[string]bool{}
		for _, o := range k.Options {
			if o.Name == "" || opts[o.Name] {
				return nil, fmt.Errorf("store kind %q: option %q is empty or listed twice", k.Name, o.Name)
			}
			opts[o.Name] = true
		}
	}
	return &Registry{kinds: append([]Kind(nil), kinds...)}, nil
}

// Kinds returns the kinds in the registry's order.
func (r *Registry) Kinds() []Kind { return append([]Kind(nil), r.kinds...) }

// Names returns the kind names in the registry's order.
func (r *Registry) Names() []string {
	var out []string
	for _, k := range r.kinds {
		out = append(out, k.Name)
	}
	return out
}

// Lookup returns the kind named name.
func (r *Registry) Lookup(name string) (Kind, bool) {
	for _, k := range r.kinds {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// ParseSpec reads a spec of any kind in the registry: its kind's ParseSpec,
// after refusing an unknown kind with a *SpecError that lists the known ones.
func (r *Registry) ParseSpec(s string) (Spec, error) {
	kind, _, _, _, _ := splitSpec(s)
	k, ok := r.Lookup(kind)
	if !ok {
		return Spec{}, &SpecError{Spec: s, Reason: fmt.Sprintf("unknown kind %q (want KIND:LOCATION with KIND one of %s)", kind, strings.Join(r.Names(), ", "))}
	}
	return k.ParseSpec(s)
}

// IsShorthand reports whether spec's location is a shorthand of its kind.
func (r *Registry) IsShorthand(spec Spec) bool {
	k, ok := r.Lookup(spec.Kind)
	return ok && k.IsShorthand != nil && spec.Location != "" && k.IsShorthand(spec.Location)
}

// Expand returns the specs a spec stands for, for the user whose home folder
// is home: the spec itself, or the stores its shorthand finds (same options),
// in the order the kind's Expand gives. A shorthand that finds nothing is an
// error matching ErrNothingFound.
func (r *Registry) Expand(spec Spec, home string) ([]Spec, error) {
	if !r.IsShorthand(spec) {
		return []Spec{spec}, nil
	}
	k, _ := r.Lookup(spec.Kind)
	locs, err := k.Expand(spec.Location, home)
	if err == nil && len(locs) == 0 {
		err = NothingFound("the shorthand finds no store")
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", spec, err)
	}
	out := make([]Spec, 0, len(locs))
	for _, l := range locs {
		out = append(out, Spec{Kind: spec.Kind, Location: l, Options: spec.Options})
	}
	return out, nil
}

// Open expands spec (for the current user) and opens each store it stands
// for with its kind's Open.
func (r *Registry) Open(spec Spec, opts OpenOptions) ([]Store, error) {
	k, ok := r.Lookup(spec.Kind)
	if !ok {
		return nil, &SpecError{Spec: spec.String(), Reason: fmt.Sprintf("unknown kind %q (want one of %s)", spec.Kind, strings.Join(r.Names(), ", "))}
	}
	specs := []Spec{spec}
	if r.IsShorthand(spec) {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", spec, err)
		}
		if specs, err = r.Expand(spec, home); err != nil {
			return nil, err
		}
	}
	var out []Store
	for _, sp := range specs {
		st, err := k.Open(sp, opts)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// splitSpec cuts a spec into its kind, its location (still escaped) and its
// options (still escaped). The kind ends at the first ':' or '?'; the options
// start at the first '?' after it.
func splitSpec(s string) (kind, loc string, hasLoc bool, query string, hasQuery bool) {
	i := strings.IndexAny(s, ":?")
	if i < 0 {
		return s, "", false, "", false
	}
	kind, rest := s[:i], s[i:]
	if rest[0] == ':' {
		rest, hasLoc = rest[1:], true
	}
	loc, query, hasQuery = strings.Cut(rest, "?")
	return kind, loc, hasLoc, query, hasQuery
}

func orList(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
