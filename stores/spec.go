package stores

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// escapeLocation writes a location so that ParseSpec reads it back: '%',
// '?' and a leading '~' are the only characters a spec gives a meaning.
func escapeLocation(loc string) string {
	loc = strings.NewReplacer("%", "%25", "?", "%3F").Replace(loc)
	if strings.HasPrefix(loc, "~") {
		loc = "%7E" + loc[1:]
	}
	return loc
}

// unescapeLocation percent-decodes a location; '+' stays a plus sign.
func unescapeLocation(loc string) (string, error) {
	s, err := url.PathUnescape(loc)
	if err != nil {
		return "", describeEscapeError(err)
	}
	return s, nil
}

// unescapeQuery decodes an option's key or value as a URL query does ('+'
// is a space).
func unescapeQuery(s string) (string, error) {
	out, err := url.QueryUnescape(s)
	if err != nil {
		return "", describeEscapeError(err)
	}
	return out, nil
}

func describeEscapeError(err error) error {
	var e url.EscapeError
	if errors.As(err, &e) {
		return fmt.Errorf("bad %%-escape %q", string(e))
	}
	return err
}

// encodeOptions writes options as key=value&..., sorted by key.
func encodeOptions(opts map[string]string) string {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var q []string
	for _, k := range keys {
		q = append(q, url.QueryEscape(k)+"="+url.QueryEscape(opts[k]))
	}
	return strings.Join(q, "&")
}
