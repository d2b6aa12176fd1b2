package stores

import (
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
)

// Kinds lists the store kinds in the order the documentation gives them.
var Kinds = []string{"pem", "capath", "nss", "p12", "jks", "system"}

// Spec names a store: KIND:LOCATION, optionally followed by options as
// ?key=value&key=value (for example p12:trust.p12?password-env=TRUST_PW).
type Spec struct {
	Kind     string
	Location string
	Options  map[string]string
}

// ParseSpec reads a store spec. "system" alone is a valid spec; every other kind
// needs a location. A leading ~/ in the location is the user's home.
func ParseSpec(s string) (Spec, error) {
	kind, loc, hasColon := strings.Cut(s, ":")
	if q, c := strings.IndexByte(s, '?'), strings.IndexByte(s, ':'); q >= 0 && (c < 0 || q < c) {
		// "system?family=debian": options without a location.
		kind, loc, hasColon = s[:q], s[q:], false
	}
	known := false
	for _, k := range Kinds {
		known = known || k == kind
	}
	if !known {
		return Spec{}, fmt.Errorf("store %q: unknown kind %q (want KIND:LOCATION with KIND one of %s)", s, kind, strings.Join(Kinds, ", "))
	}
	spec := Spec{Kind: kind}
	if i := strings.LastIndexByte(loc, '?'); i >= 0 {
		q, err := url.ParseQuery(loc[i+1:])
		if err != nil || len(q) == 0 {
			return Spec{}, fmt.Errorf("store %q: options after '?' must read key=value&key=value", s)
		}
		spec.Options = map[string]string{}
		for k, v := range q {
			spec.Options[k] = v[len(v)-1]
		}
		loc = loc[:i]
	}
	if kind != "system" && (!hasColon || loc == "") {
		return Spec{}, fmt.Errorf("store %q: missing location (want %s:PATH)", s, kind)
	}
	if strings.HasPrefix(loc, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			loc = home + loc[1:]
		}
	}
	spec.Location = loc
	return spec, nil
}

// String renders the spec back in the form ParseSpec reads (options sorted).
func (s Spec) String() string {
	out := s.Kind
	if s.Location != "" {
		out += ":" + s.Location
	}
	if len(s.Options) > 0 {
		keys := make([]string, 0, len(s.Options))
		for k := range s.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var q []string
		for _, k := range keys {
			q = append(q, url.QueryEscape(k)+"="+url.QueryEscape(s.Options[k]))
		}
		out += "?" + strings.Join(q, "&")
	}
	return out
}

// Option returns the named option, or "".
func (s Spec) Option(key string) string { return s.Options[key] }
