package nss

import "github.com/rootsync/rootsync/stores"

// Kind describes the nss: store kind for a stores.Registry, with its
// shorthands (see ResolveShorthand) and the browsers' databases it discovers
// (see Discover).
func Kind() stores.Kind {
	return stores.Kind{
		Name:      "nss",
		Location:  "DIR",
		Summary:   "an NSS database (cert9.db, key4.db): Chromium's ~/.pki/nssdb, Firefox profiles",
		What:      "an NSS database (cert9.db, key4.db): Chromium's `~/.pki/nssdb`, Firefox profiles",
		CanRecord: "trust and distrust per purpose",
		Capabilities: stores.Capabilities{
			PerPurpose: true, Distrust: true, Ownership: true,
		},
		Options: stores.PasswordOptions,
		Open:    Open,
		Shorthands: []stores.Shorthand{
			{Form: "chromium"},
			{Form: "firefox", Note: "every profile"},
			{Form: "firefox/PROFILE"},
			{Form: "system", Note: "/etc/pki/nssdb"},
		},
		IsShorthand:   IsShorthand,
		Expand:        ResolveShorthand,
		Discover:      discoverSpecs,
		TrustNotation: TrustFlags,
	}
}
