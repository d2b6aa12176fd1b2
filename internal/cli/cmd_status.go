package cli

import (
	"context"
	"errors"
	"os"
	"sort"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/internal/config"
	"github.com/rootsync/rootsync/internal/job"
	"github.com/rootsync/rootsync/internal/report"
	"github.com/rootsync/rootsync/internal/servers"
	"github.com/rootsync/rootsync/internal/storekinds"
	"github.com/rootsync/rootsync/stores"
	"github.com/rootsync/rootsync/stores/system"
)

// statusOptions are the flags of status.
type statusOptions struct {
	commonOptions
	config     string
	noDiscover bool
}

func (o *statusOptions) AddFlags(fs *pflag.FlagSet) {
	o.commonOptions.AddFlags(fs)
	fs.StringVarP(&o.config, "config", "c", "", "configuration file whose jobs are checked (default as for run; none is fine unless given)")
	fs.BoolVar(&o.noDiscover, "no-discover", false, "show only the stores of the configured jobs, not every store discover finds")
}

// runStatus shows the drift view: every local root (not in the packaged
// root set) that a store holds, against every store (the configured jobs'
// and, unless --no-discover, those discover finds), and whether each job's
// targets agree with its sources. Only the jobs decide the exit status: 3
// when one disagrees, 1 when one cannot be checked.
func runStatus(ctx context.Context, e *env, args []string) error {
	var o statusOptions
	fs := pflag.NewFlagSet("status", pflag.ContinueOnError)
	o.AddFlags(fs)
	fs.Usage = func() {
		e.stderr.Write([]byte("usage: rootsync status [--config FILE] [flags]\n"))
		fs.PrintDefaults()
	}
	if err := parse(fs, args, e.stderr); err != nil {
		return err
	}
	if err := o.setup(e); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("status takes no arguments (the jobs come from the configuration file)")
	}
	home, _ := os.UserHomeDir()
	var cfg *config.Config
	if path := o.config; path != "" || fileExists(config.DefaultPath(os.Geteuid(), os.Getenv, home)) {
		var err error
		if _, cfg, err = loadConfig(path); err != nil {
			return err
		}
	}

	var st report.Status
	type column struct {
		store stores.Store
		idx   int
	}
	columns := map[string]*column{}
	add := func(s stores.Store, role string) {
		spec := s.Spec().String()
		c, ok := columns[spec]
		if !ok {
			c = &column{store: s, idx: len(st.Stores)}
			columns[spec] = c
			st.Stores = append(st.Stores, report.StatusStore{Spec: spec})
		}
		ss := &st.Stores[c.idx]
		for _, r := range ss.Roles {
			if r == role {
				return
			}
		}
		ss.Roles = append(ss.Roles, role)
	}
	drift, failed := false, false
	if cfg != nil && len(cfg.Jobs) > 0 {
		ro := &runOptions{commonOptions: o.commonOptions}
		prepared, secrets, err := ro.prepare(ctx, e, cfg, cfg.Jobs)
		if err != nil {
			return err
		}
		var units []job.Unit
		for _, pj := range prepared {
			units = append(units, pj.job)
			for _, s := range pj.job.Sources {
				add(s, "job "+pj.cfg.Name+" source")
			}
			for _, t := range pj.job.Targets {
				add(t.Store, "job "+pj.cfg.Name+" target")
			}
		}
		out, err := ro.tx(e, 0, 0, true, secrets).Do(ctx, units...)
		if err != nil {
			return err
		}
		for _, res := range out.Results {
			sj := report.StatusJob{Job: res.Name}
			switch {
			case res.Err != nil:
				sj.Error, failed = res.Err.Error(), true
			case res.Run != nil:
				for _, t := range res.Run.Targets {
					if t.Plan != nil {
						sj.Changes += len(t.Plan.Changes)
					}
				}
				sj.InSync = !res.Run.Changed()
				drift = drift || !sj.InSync
			}
			st.Jobs = append(st.Jobs, sj)
		}
	}
	if !o.noDiscover {
		var found []string
		for _, k := range storekinds.Registry().Kinds() {
			if k.Discover == nil {
				continue
			}
			for _, f := range k.Discover(home) {
				if f.Exists {
					found = append(found, f.Spec)
				}
			}
		}
		uses, _ := servers.Find("/")
		for _, u := range uses {
			if fileExists(u.Path) {
				found = append(found, u.Spec)
			}
		}
		for _, spec := range found {
			sp, err := storekinds.Registry().ParseSpec(spec)
			if err != nil {
				continue
			}
			sts, err := openStore(sp, o.openOptions())
			if err != nil {
				continue
			}
			for _, s := range sts {
				add(s, "discovered")
			}
		}
	}

	var specs []stores.Spec
	for _, s := range st.Stores {
		specs = append(specs, columns[s.Spec].store.Spec())
	}
	public, err := system.Packaged(ctx, publicRoot(specs))
	if err != nil {
		return err
	}
	st.Public = public.From
	rows := map[stores.Fingerprint]*report.StatusRoot{}
	now := e.now()
	for i := range st.Stores {
		ss := &st.Stores[i]
		set, err := stores.LoadTarget(ctx, columns[ss.Spec].store)
		if err != nil {
			ss.Error = err.Error()
			continue
		}
		for _, en := range set.Entries() {
			fp := en.Cert.Fingerprint
			if !en.Cert.IsCA || en.PrivateKey || public.Public(fp) {
				continue
			}
			r, ok := rows[fp]
			if !ok {
				r = &report.StatusRoot{Fingerprint: fp.String(), Subject: en.Cert.Subject, Cells: map[string]string{}}
				rows[fp] = r
			}
			cell := report.CellUntrusted
			switch {
			case en.Trust.Any(stores.Distrusted):
				cell = report.CellDistrusted
			case en.Cert.Expired(now):
				cell = report.CellExpired
			case en.Trust.Any(stores.Trusted):
				cell = report.CellTrusted
			}
			r.Cells[ss.Spec] = cell
		}
	}
	for _, r := range rows {
		for i := range st.Stores {
			if _, ok := r.Cells[st.Stores[i].Spec]; !ok && st.Stores[i].Error == "" {
				r.Cells[st.Stores[i].Spec] = report.CellAbsent
			}
		}
		st.Roots = append(st.Roots, *r)
	}
	sort.Slice(st.Roots, func(i, j int) bool {
		if st.Roots[i].Subject != st.Roots[j].Subject {
			return st.Roots[i].Subject < st.Roots[j].Subject
		}
		return st.Roots[i].Fingerprint < st.Roots[j].Fingerprint
	})
	if o.output == "json" {
		err = report.StatusJSON(e.stdout, st)
	} else {
		err = report.StatusText(e.stdout, st)
	}
	switch {
	case err != nil:
		return err
	case failed:
		return errQuiet{ExitError}
	case drift:
		return errDrift
	}
	return nil
}

// publicRoot is the tree whose packaged root set applies: that of the first
// system:ROOT among specs, else the running system.
func publicRoot(specs []stores.Spec) string {
	for _, s := range specs {
		if s.Kind == "system" && s.Location != "" {
			return s.Location
		}
	}
	return "/"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil || !errors.Is(err, os.ErrNotExist)
}
