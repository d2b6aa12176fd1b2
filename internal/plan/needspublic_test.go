package plan

import (
	"testing"

	"github.com/rootsync/rootsync/stores"
)

// The public root set is read only when some target's origin depends on it.
func TestNeedsPublic(t *testing.T) {
	server := Options{Purposes: []stores.Purpose{stores.ServerAuth}}
	client := Options{Purposes: []stores.Purpose{stores.ClientAuth}}
	cases := []struct {
		name  string
		opts  Options
		kinds []string
		want  bool
	}{
		{"pem, server-auth", server, []string{"pem", "capath", "p12"}, false},
		{"pem, client-auth", client, []string{"pem"}, true},
		{"nss", server, []string{"pem", "nss"}, true},
		{"explicit all", Options{Origin: OriginAll}, []string{"nss"}, false},
		{"explicit local", Options{Origin: OriginLocal}, []string{"p12"}, true},
		{"no targets", client, nil, false},
	}
	for _, c := range cases {
		if got := c.opts.NeedsPublic(c.kinds); got != c.want {
			t.Errorf("%s: NeedsPublic(%v) = %v, want %v", c.name, c.kinds, got, c.want)
		}
	}
}
