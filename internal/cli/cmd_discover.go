package cli

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/internal/report"
	"github.com/rootsync/rootsync/internal/servers"
	"github.com/rootsync/rootsync/internal/storekinds"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/system"
)

type discoverOptions struct {
	commonOptions
	root string
}

func (o *discoverOptions) AddFlags(fs *pflag.FlagSet) {
	o.commonOptions.AddFlags(fs)
	fs.StringVar(&o.root, "root", "/", "read server configurations, the packaged root set and the system store under this folder (a chroot or a container's tree)")
}

// runDiscover lists the trust stores of this user and host that rootsync knows
// where to find, with the spec that names each: what each store kind's
// Discover reports, in the registry's order, then the CA files and folders
// servers are configured with. Each store that exists is read to count its
// roots and how many of them are local (not in the packaged root set).
func runDiscover(ctx context.Context, e *env, args []string) error {
	var o discoverOptions
	fs, err := parseCommand(e, "discover", "rootsync discover [flags]", false, o.AddFlags, &o.commonOptions, args)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("discover takes no arguments")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return err
	}
	public, err := system.Packaged(ctx, o.root)
	if err != nil {
		return err
	}
	var all []report.Found
	for _, k := range storekinds.Registry().Kinds() {
		if k.Discover == nil {
			continue
		}
		for _, f := range k.Discover(home) {
			spec, path := f.Spec, f.Path
			if k.Name == "system" && o.root != "/" && o.root != "" {
				spec, path = stores.Spec{Kind: "system", Location: o.root}.String(), o.root
			}
			all = append(all, report.Found{Spec: spec, Kind: k.Name, UsedBy: f.UsedBy, Path: path, Exists: f.Exists, Default: f.Default})
		}
	}
	uses, problems := servers.Find(o.root)
	for _, u := range uses {
		sp, err := storekinds.Registry().ParseSpec(u.Spec)
		if err != nil {
			continue
		}
		_, statErr := os.Stat(u.Path)
		all = append(all, report.Found{Spec: sp.String(), Kind: sp.Kind, Path: u.Path, Exists: statErr == nil,
			UsedBy: fmt.Sprintf("%s %s", u.Server, u.Directive), Server: u.Server, Config: fmt.Sprintf("%s:%d", u.Config, u.Line)})
	}
	for i := range all {
		count(ctx, &all[i], public, o.openOptions())
	}
	d := report.Discover{Stores: all, Problems: problems}
	if o.output == "json" {
		return report.DiscoverJSON(e.stdout, d)
	}
	return report.DiscoverText(e.stdout, d)
}

// count reads a store that exists and counts its roots (CA certificates it
// trusts for some purpose) and the local ones among them. A store that
// cannot be read gets its error instead.
func count(ctx context.Context, f *report.Found, public *system.PublicSet, oo stores.OpenOptions) {
	if !f.Exists {
		return
	}
	sp, err := storekinds.Registry().ParseSpec(f.Spec)
	if err == nil && f.Server != "" {
		// A server's file is read from under the root prefix.
		sp.Location = f.Path
	}
	var sts []stores.Store
	if err == nil {
		sts, err = openStore(sp, oo)
	}
	roots, local := 0, 0
	for _, st := range sts {
		if err != nil {
			break
		}
		var set *stores.Set
		if set, err = st.Load(ctx); err != nil {
			break
		}
		for _, e := range set.Entries() {
			if e.Cert.IsCA && e.Trust.Any(stores.Trusted) && !e.PrivateKey {
				roots++
				if !public.Public(e.Cert.Fingerprint) {
					local++
				}
			}
		}
	}
	if err != nil {
		f.Error = err.Error()
		return
	}
	f.Roots, f.Local = &roots, &local
}
