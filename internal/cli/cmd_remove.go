package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rootsync/rootsync/internal/job"
	"github.com/rootsync/rootsync/internal/plan"
	"github.com/rootsync/rootsync/internal/storekinds"
	"github.com/rootsync/rootsync/stores"
)

// editOptions are the flags of remove and distrust.
type editOptions struct {
	commonOptions
	// storeFlag is "from" (remove) or "in" (distrust).
	storeFlag   string
	allStores   bool
	allUsers    bool
	dryRun      bool
	lockWait    time.Duration
	keepBackups int
}

func (o *editOptions) AddFlags(fs *pflag.FlagSet, storeFlag string) {
	o.commonOptions.AddFlags(fs)
	o.storeFlag = storeFlag
	// --from and --in are taken out of the arguments before parsing
	// (splitFlag); they are declared for help texts.
	fs.String(storeFlag, "", "a store to change (repeatable; several may follow one --"+storeFlag+")")
	fs.BoolVar(&o.allStores, "all-stores", false, "every store 'rootsync discover' finds that exists (this user's browsers' NSS databases, the system store, Java's cacerts)")
	fs.BoolVar(&o.allUsers, "all-users", false, "with --all-stores, as root: the stores of every user in /etc/passwd with a login shell and a home folder (uid 1000 and up, and root)")
	fs.BoolVarP(&o.dryRun, "dry-run", "n", false, "print the plan, change nothing, exit 3 if there is something to do")
	fs.DurationVar(&o.lockWait, "lock-wait", 30*time.Second, "how long to wait for another rootsync run to finish")
	fs.IntVar(&o.keepBackups, "keep-backups", 10, "backups kept per store (0 keeps all)")
}

func runRemove(ctx context.Context, e *env, args []string) error {
	return runEdit(ctx, e, "remove", args)
}

func runDistrust(ctx context.Context, e *env, args []string) error {
	return runEdit(ctx, e, "distrust", args)
}

// runEdit removes (remove) or distrusts (distrust) the certificates that
// fingerprint prefixes name in the stores named, through the same
// transaction as sync: plan every store, back up, journal, apply all or
// none.
func runEdit(ctx context.Context, e *env, name string, args []string) error {
	storeFlag := "from"
	if name == "distrust" {
		storeFlag = "in"
	}
	var o editOptions
	rest, named := splitFlag(args, storeFlag)
	fs, err := parseCommand(e, name, "rootsync "+name+" FINGERPRINT... --"+storeFlag+" STORE... | --all-stores [--all-users] [flags]", true,
		func(fs *pflag.FlagSet) { o.AddFlags(fs, storeFlag) }, &o.commonOptions, rest)
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("%s needs at least one certificate's SHA-256 fingerprint (8 hex digits or more): rootsync %s FINGERPRINT... --%s STORE...", name, name, storeFlag)
	}
	if len(named) == 0 && !o.allStores {
		return usagef("%s needs the stores to change: --%s STORE... or --all-stores", name, storeFlag)
	}
	if o.allUsers && !o.allStores {
		return usagef("--all-users goes with --all-stores")
	}
	if o.allUsers && os.Geteuid() != 0 {
		return usagef("--all-users reads and changes other users' stores: run it as root")
	}
	if o.keepBackups < 0 {
		return usagef("--keep-backups %d: want a whole number, 0 or more (0 keeps all)", o.keepBackups)
	}
	var fps []string
	for _, a := range fs.Args() {
		fp := normalizeFingerprint(a)
		if err := plan.CheckPrefix(fp); err != nil {
			return usagef("fingerprint %q: %v", a, err)
		}
		fps = append(fps, fp)
	}
	specs, err := parseSpecs(named)
	if err != nil {
		return err
	}
	if o.allStores {
		homes, err := editHomes(o.allUsers)
		if err != nil {
			return err
		}
		specs = appendSpecs(specs, discovered(homes)...)
	}
	if len(specs) == 0 {
		return errors.New("discover found no store on this host; name the stores with --" + storeFlag)
	}
	sts, err := openAll(specs, o.openOptions())
	if err != nil {
		return err
	}
	u := &job.Edit{Name: name, Distrust: name == "distrust", Fingerprints: fps}
	for _, st := range sts {
		u.Targets = append(u.Targets, job.Target{Store: st})
	}
	tx := o.tx(e, o.lockWait, o.keepBackups, o.dryRun, o.secretEnv(specs))
	out, err := tx.Do(ctx, u)
	reportRecovery(e.stderr, out)
	if err != nil {
		return err
	}
	return finishRun(e, o.output, o.dryRun, out.Results[0], len(sts), "store", "stores")
}

// splitFlag takes the values of --name out of args: every argument after
// --name up to the next flag (so both "--name A B" and "--name A --name B"
// work), and --name=A.
func splitFlag(args []string, name string) (rest, values []string) {
	flag := "--" + name
	in := false
	for _, a := range args {
		switch {
		case a == flag:
			in = true
		case strings.HasPrefix(a, flag+"="):
			values = append(values, strings.TrimPrefix(a, flag+"="))
			in = false
		case in && !strings.HasPrefix(a, "-"):
			values = append(values, a)
		default:
			in = false
			rest = append(rest, a)
		}
	}
	return rest, values
}

// normalizeFingerprint accepts a fingerprint as the tools print it: with
// colons (openssl x509 -fingerprint, keytool), spaces or upper case.
func normalizeFingerprint(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "sha256:"), "SHA256:")
	s = strings.NewReplacer(":", "", " ", "").Replace(s)
	return strings.ToLower(s)
}

// editHomes is the home folders whose stores --all-stores means: this
// user's, or with --all-users every user's of /etc/passwd (passwdHomes).
func editHomes(allUsers bool) ([]string, error) {
	if !allUsers {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, err
		}
		return []string{home}, nil
	}
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return passwdHomes(f)
}

// passwdHomes reads a passwd file and returns the home folders of the users
// who can log in: root (uid 0) and uid 1000 and up (the regular users on
// Debian, Fedora, SUSE, Arch and Alpine), without nobody (65534), without a
// shell that refuses logins (nologin, false) and without a home that is not
// a folder. Service accounts below 1000 hold no browser profiles.
func passwdHomes(r io.Reader) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 7 {
			return nil, fmt.Errorf("/etc/passwd line %d: want 7 fields separated by ':', got %d", n, len(f))
		}
		uid, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, fmt.Errorf("/etc/passwd line %d: uid %q: %w", n, f[2], err)
		}
		home, shell := f[5], f[6]
		if (uid != 0 && uid < 1000) || uid == 65534 || home == "" || home == "/" || seen[home] {
			continue
		}
		if base := shell[strings.LastIndex(shell, "/")+1:]; base == "nologin" || base == "false" {
			continue
		}
		if fi, err := os.Stat(home); err != nil || !fi.IsDir() {
			continue
		}
		seen[home] = true
		out = append(out, home)
	}
	return out, sc.Err()
}

// discovered returns the specs of the stores that exist among those each
// kind's Discover finds for homes, each once; a shorthand is replaced by
// the path it found, so that it means that user's store.
func discovered(homes []string) []stores.Spec {
	var out []stores.Spec
	reg := storekinds.Registry()
	for _, home := range homes {
		for _, k := range reg.Kinds() {
			if k.Discover == nil {
				continue
			}
			for _, f := range k.Discover(home) {
				if !f.Exists {
					continue
				}
				s, err := reg.ParseSpec(f.Spec)
				if err != nil {
					continue
				}
				if k.IsShorthand != nil && k.IsShorthand(s.Location) && f.Path != "" {
					s.Location = f.Path
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// appendSpecs appends the specs of more that are not in specs yet.
func appendSpecs(specs []stores.Spec, more ...stores.Spec) []stores.Spec {
	seen := map[string]bool{}
	for _, s := range specs {
		seen[s.String()] = true
	}
	for _, s := range more {
		if !seen[s.String()] {
			seen[s.String()] = true
			specs = append(specs, s)
		}
	}
	return specs
}
