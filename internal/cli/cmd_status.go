package cli

import (
	"context"
	"errors"
	"os"
	"sort"
	"time"

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
	fs, err := parseCommand(e, "status", "rootsync status [--config FILE] [flags]", false, o.AddFlags, &o.commonOptions, args)
	if err != nil {
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

	t := &statusTable{columns: map[string]*statusColumn{}}
	drift, failed := false, false
	if cfg != nil && len(cfg.Jobs) > 0 {
		var err error
		if drift, failed, err = t.jobs(ctx, e, &o, cfg); err != nil {
			return err
		}
	}
	if !o.noDiscover {
		t.discovered(home, o.openOptions())
	}
	var specs []stores.Spec
	for _, s := range t.st.Stores {
		specs = append(specs, t.columns[s.Spec].store.Spec())
	}
	public, err := system.Packaged(ctx, publicRoot(specs))
	if err != nil {
		return err
	}
	t.st.Public = public.From
	t.roots(ctx, public, e.now())
	st := t.st
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

// statusTable is the drift view being built: its stores (the columns, each
// once, with every role it has) and, once loaded, its roots.
type statusTable struct {
	st      report.Status
	columns map[string]*statusColumn
}

type statusColumn struct {
	store stores.Store
	idx   int
}

// add makes s a column, with role, unless it is one already.
func (t *statusTable) add(s stores.Store, role string) {
	spec := s.Spec().String()
	c, ok := t.columns[spec]
	if !ok {
		c = &statusColumn{store: s, idx: len(t.st.Stores)}
		t.columns[spec] = c
		t.st.Stores = append(t.st.Stores, report.StatusStore{Spec: spec})
	}
	ss := &t.st.Stores[c.idx]
	for _, r := range ss.Roles {
		if r == role {
			return
		}
	}
	ss.Roles = append(ss.Roles, role)
}

// jobs adds the configured jobs' sources and targets as columns and plans
// every job in a dry run: drift when a job's targets disagree with its
// sources, failed when a job cannot be checked.
func (t *statusTable) jobs(ctx context.Context, e *env, o *statusOptions, cfg *config.Config) (drift, failed bool, err error) {
	ro := &runOptions{commonOptions: o.commonOptions}
	prepared, secrets, err := ro.prepare(ctx, e, cfg, cfg.Jobs)
	if err != nil {
		return false, false, err
	}
	var units []job.Unit
	for _, pj := range prepared {
		units = append(units, pj.job)
		for _, s := range pj.job.Sources {
			t.add(s, "job "+pj.cfg.Name+" source")
		}
		for _, tg := range pj.job.Targets {
			t.add(tg.Store, "job "+pj.cfg.Name+" target")
		}
	}
	out, err := ro.tx(e, 0, 0, true, secrets).Do(ctx, units...)
	if err != nil {
		return false, false, err
	}
	for _, res := range out.Results {
		sj := report.StatusJob{Job: res.Name}
		switch {
		case res.Err != nil:
			sj.Error, failed = res.Err.Error(), true
		case res.Run != nil:
			for _, tg := range res.Run.Targets {
				if tg.Plan != nil {
					sj.Changes += len(tg.Plan.Changes)
				}
			}
			sj.InSync = !res.Run.Changed()
			drift = drift || !sj.InSync
		}
		t.st.Jobs = append(t.st.Jobs, sj)
	}
	return drift, failed, nil
}

// discovered adds as columns the stores discover finds that exist: each
// kind's own, and the CA files servers are configured with.
func (t *statusTable) discovered(home string, oo stores.OpenOptions) {
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
		sts, err := openStore(sp, oo)
		if err != nil {
			continue
		}
		for _, s := range sts {
			t.add(s, "discovered")
		}
	}
}

// roots loads every column and makes a row of each local root (a CA
// certificate not in the packaged set, no user certificate): its state in
// every store, absent where a store that could be read does not hold it.
func (t *statusTable) roots(ctx context.Context, public *system.PublicSet, now time.Time) {
	rows := map[stores.Fingerprint]*report.StatusRoot{}
	for i := range t.st.Stores {
		ss := &t.st.Stores[i]
		set, err := stores.LoadTarget(ctx, t.columns[ss.Spec].store)
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
		for i := range t.st.Stores {
			if _, ok := r.Cells[t.st.Stores[i].Spec]; !ok && t.st.Stores[i].Error == "" {
				r.Cells[t.st.Stores[i].Spec] = report.CellAbsent
			}
		}
		t.st.Roots = append(t.st.Roots, *r)
	}
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
