package windows

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// Kind describes the windows: store kind for a stores.Registry. Its stores
// exist only on Windows; elsewhere Open says so.
func Kind() stores.Kind {
	return stores.Kind{
		Name:     "windows",
		Location: "PLACE/NAME",
		Summary:  "a Windows certificate store (CurrentUser/Root, LocalMachine/Root, .../CA, .../Disallowed, any other name), read and written through crypt32",
		What: "a Windows certificate store, read and written through crypt32: `CurrentUser/Root` (what the signed-in user's browsers trust), " +
			"`LocalMachine/Root` (what services and IIS trust), the `CA` and `Disallowed` stores of both, or any other store name. " +
			"Distrust of a `Root` entry lives in `Disallowed` beside it; ownership is a `rootsync - ` prefix on the friendly name",
		CanRecord: "per-purpose trust (the enhanced-key-usage property of a Root entry), distrust (the Disallowed store); " +
			"`CA` holds intermediates without trust, `Disallowed` distrust only",
		Capabilities: stores.Capabilities{Ownership: true},
		Options: []stores.Option{{
			Name: "disallowed", Value: "NAME",
			Meaning: "record distrust in this store of the same place instead of Disallowed (for stores other than Root)",
		}},
		Open:     Open,
		Discover: discover,
	}
}

// Places a store can be opened in.
const (
	CurrentUser  = "CurrentUser"
	LocalMachine = "LocalMachine"
)

// OwnerPrefix starts the friendly name of every entry rootsync adds.
const OwnerPrefix = "rootsync - "

// role is what a store holds, decided by its name.
type role int

const (
	// anchors: trust anchors (Root, or a store of another name), with
	// distrust in a companion store.
	anchors role = iota
	// intermediates: the CA store, certificates without trust.
	intermediates
	// disallowed: the Disallowed store, distrust only.
	disallowed
)

// location is a parsed PLACE/NAME.
type location struct {
	place, name string
	role        role
	companion   string // the store distrust goes to, for anchors
}

// parseLocation reads PLACE/NAME: the place is CurrentUser or LocalMachine
// (any case), the name any store name without '\' or '/'.
func parseLocation(spec stores.Spec) (location, error) {
	place, name, ok := strings.Cut(spec.Location, "/")
	bad := func(reason string) error {
		return &stores.Error{Path: spec.String(), Err: errors.New(reason),
			Hint: "name a store as windows:CurrentUser/Root or windows:LocalMachine/Root (or CA, Disallowed, another store name)"}
	}
	if !ok || name == "" {
		return location{}, bad("a windows store is PLACE/NAME")
	}
	switch {
	case strings.EqualFold(place, CurrentUser):
		place = CurrentUser
	case strings.EqualFold(place, LocalMachine):
		place = LocalMachine
	default:
		return location{}, bad(fmt.Sprintf("unknown place %q (want CurrentUser or LocalMachine)", place))
	}
	if strings.ContainsAny(name, `\/`) || strings.ContainsRune(name, 0) {
		return location{}, bad(fmt.Sprintf("store name %q holds a '\\' or '/'", name))
	}
	l := location{place: place, name: name, companion: "Disallowed"}
	switch {
	case strings.EqualFold(name, "CA"):
		l.role = intermediates
	case strings.EqualFold(name, "Disallowed"):
		l.role = disallowed
	}
	if c := spec.Option("disallowed"); c != "" {
		if l.role != anchors {
			return location{}, bad("the disallowed option belongs to a store of trust anchors, not to " + name)
		}
		if strings.EqualFold(c, name) || strings.ContainsAny(c, `\/`) {
			return location{}, bad(fmt.Sprintf("disallowed=%s: name another store of the same place", c))
		}
		l.companion = c
	}
	return l, nil
}

func (l location) String() string { return l.place + `\` + l.name }

// capabilities are what a store of l's role can record.
//
//lint:ignore U1000 the Windows build uses it (store_windows.go)
func (l location) capabilities() stores.Capabilities {
	switch l.role {
	case anchors:
		return stores.Capabilities{PerPurpose: true, Distrust: true, Ownership: true}
	case disallowed:
		return stores.Capabilities{Distrust: true, Ownership: true}
	}
	return stores.Capabilities{Ownership: true}
}
