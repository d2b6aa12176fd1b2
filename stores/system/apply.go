package system

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rootsync/rootsync/internal/atomicfile"
	"github.com/rootsync/rootsync/stores"
)

// fileOp writes data to path, or removes path when remove is set.
type fileOp struct {
	path   string
	data   []byte
	remove bool
}

// expectation is what the PEM outputs must say after Apply.
type expectation struct {
	cert    *stores.Certificate
	present bool // in some PEM bundle (trusted), or in none (removed, distrusted)
}

// Apply writes the changes into the input folders, regenerates the outputs
// and checks them; see the package documentation.
func (s *Store) Apply(ctx context.Context, changes []stores.Change) error {
	if len(changes) == 0 {
		return nil
	}
	_, in, err := s.load()
	if errors.Is(err, stores.ErrNotExist) {
		in, err = s.readInputs() // a new tree: nothing to keep
	}
	if err != nil {
		return err
	}
	ops, expect, err := s.plan(changes, in)
	if err != nil {
		return err
	}
	if len(ops) == 0 {
		return nil
	}
	undo, err := s.write(ops)
	if err != nil {
		undo.run()
		if isPermission(err, nil) {
			return s.privilegeError(ops, err)
		}
		return err
	}
	fresh := false
	for _, op := range ops {
		fresh = fresh || op.remove
	}
	out, err := s.regenerate(ctx, fresh)
	if err == nil {
		err = s.verify(expect)
	}
	if err == nil {
		return nil
	}
	// Put the input folders back and rebuild the outputs from them.
	undo.run()
	out2, err2 := s.regenerate(context.WithoutCancel(ctx), fresh)
	msg := strings.TrimSpace(string(out))
	if msg == "" {
		msg = "(no output)"
	}
	err = fmt.Errorf("%w; input folders restored; %s said: %s", err, s.commandLine(), msg)
	if err2 != nil {
		err = fmt.Errorf("%w; running it again after restoring failed too: %w: %s", err, err2, strings.TrimSpace(string(out2)))
	}
	if isPermission(err, out) {
		return s.privilegeError(ops, err)
	}
	return &stores.Error{Path: s.Paths()[0], Err: err,
		Hint: "read the tool's output above; the input folders are as they were"}
}

// plan turns changes into file operations and the expected outcome.
func (s *Store) plan(changes []stores.Change, in *inputs) ([]fileOp, []expectation, error) {
	p := &opPlan{s: s, in: in, seen: map[string]bool{}}
	for _, ch := range changes {
		if ch.Entry == nil || ch.Entry.Cert == nil {
			return nil, nil, fmt.Errorf("system: %s change without a certificate", ch.Action)
		}
		distrust := ch.Entry.Trust.Any(stores.Distrusted) && !ch.Entry.Trust.Any(stores.Trusted)
		var err error
		switch {
		case ch.Action == stores.Remove:
			err = p.remove(ch)
		case (ch.Action == stores.Add || ch.Action == stores.SetTrust) && distrust:
			err = p.distrust(ch.Entry.Cert)
		case ch.Action == stores.Add || ch.Action == stores.SetTrust:
			err = p.trust(ch)
		default:
			err = fmt.Errorf("system: unknown action %s", ch.Action)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return p.changedOps(), p.expect, nil
}

// opPlan collects the file operations of one Apply, each path once, and
// what the regenerated outputs must show afterwards.
type opPlan struct {
	s      *Store
	in     *inputs
	ops    []fileOp
	seen   map[string]bool
	expect []expectation
}

func (p *opPlan) add(op fileOp) {
	if !p.seen[op.path] {
		p.seen[op.path] = true
		p.ops = append(p.ops, op)
	}
}

// write puts c into dir as a file of its own.
func (p *opPlan) write(dir string, c *stores.Certificate) {
	p.add(fileOp{path: filepath.Join(dir, p.s.fileName(c)), data: pemOf(c)})
}

// removeFiles removes whole files holding c; a file that holds other
// certificates too is refused.
func (p *opPlan) removeFiles(c *stores.Certificate, files []*inputFile) error {
	for _, f := range files {
		if len(f.certs) != 1 {
			return &stores.Error{Path: f.path, Entry: c.Subject,
				Err:  fmt.Errorf("%w: the file holds %d certificates and rootsync removes whole files only", stores.ErrUnsupported, len(f.certs)),
				Hint: "split the file into one certificate per file, or edit it by hand and run " + p.s.commandLine()}
		}
		p.add(fileOp{path: f.path, remove: true})
	}
	return nil
}

// remove removes the input files that hold the entry; one that is in no
// input folder (a generated folder's file put there by hand, or a packaged
// certificate) is refused with a hint.
func (p *opPlan) remove(ch stores.Change) error {
	s, c := p.s, ch.Entry.Cert
	files := p.in.byFP[c.Fingerprint]
	if len(files) == 0 && s.inCertDir(ch.Entry.Label) {
		return &stores.Error{Path: ch.Entry.Label, Entry: c.Subject,
			Err:  fmt.Errorf("%w: the file was put into a generated folder by hand, not through the tool", stores.ErrUnsupported),
			Hint: "remove " + ch.Entry.Label + " and the links to it by hand, then run " + s.commandLine()}
	}
	if len(files) == 0 {
		hint := "it comes from the distribution's package; "
		if s.layout.Blocklist != "" {
			hint += "distrust it instead (it then goes into " + s.path(s.layout.Blocklist) + ")"
		} else {
			hint += s.layout.DistrustHint
		}
		return &stores.Error{Path: s.Paths()[0], Entry: c.Subject,
			Err: fmt.Errorf("%w: not in any input folder, cannot remove", stores.ErrUnsupported), Hint: hint}
	}
	if err := p.removeFiles(c, files); err != nil {
		return err
	}
	p.expect = append(p.expect, expectation{cert: c, present: false})
	return nil
}

// distrust puts c into the blocklist folder and removes rootsync's own
// anchor file for it.
func (p *opPlan) distrust(c *stores.Certificate) error {
	s, fp := p.s, c.Fingerprint
	if s.layout.Blocklist == "" {
		return &stores.Error{Path: s.Paths()[0], Entry: c.Subject,
			Err: fmt.Errorf("%w: the %s layout cannot distrust a certificate", stores.ErrUnsupported, s.layout.Family), Hint: s.layout.DistrustHint}
	}
	if len(p.in.blocked(fp)) == 0 {
		p.write(s.path(s.layout.Blocklist), c)
	}
	// Our own anchor for it goes: keeping both only confuses p11-kit.
	var own []*inputFile
	for _, f := range p.in.anchors(fp) {
		if f.owned && len(f.certs) == 1 {
			own = append(own, f)
		}
	}
	if err := p.removeFiles(c, own); err != nil {
		return err
	}
	p.expect = append(p.expect, expectation{cert: c, present: false})
	return nil
}

// trust takes the certificate out of the blocklist folder and, for an Add
// or where no anchor holds it, writes it into the first anchors folder.
func (p *opPlan) trust(ch stores.Change) error {
	s, c := p.s, ch.Entry.Cert
	fp := c.Fingerprint
	if err := p.removeFiles(c, p.in.blocked(fp)); err != nil {
		return err
	}
	if ch.Action == stores.Add || len(p.in.anchors(fp)) == 0 {
		if ch.Action == stores.Add || len(p.in.blocked(fp)) > 0 {
			p.write(s.path(s.layout.Anchors[0]), c)
		}
	}
	p.expect = append(p.expect, expectation{cert: c, present: true})
	return nil
}

// changedOps leaves out a write of a file that already holds exactly what
// would be written.
func (p *opPlan) changedOps() []fileOp {
	var out []fileOp
	for _, op := range p.ops {
		if _, err := os.Lstat(op.path); !op.remove && err == nil {
			if old, err := os.ReadFile(op.path); err == nil && string(old) == string(op.data) {
				continue // already there
			}
		}
		out = append(out, op)
	}
	return out
}

// inCertDir reports whether p is a file of one of the layout's CertDirs.
func (s *Store) inCertDir(p string) bool {
	for _, d := range s.layout.CertDirs {
		if p != "" && filepath.Dir(p) == s.path(d) {
			return true
		}
	}
	return false
}

// undoLog restores the input folders to what they were before write.
type undoLog struct {
	files []savedFile
	dirs  []string             // folders created, to remove
	times map[string]time.Time // modification times of folders touched
}

type savedFile struct {
	path    string
	existed bool
	link    string // target, when the file was a symbolic link
	data    []byte
	meta    *atomicfile.Meta // owner, mode, ACLs, attributes
	mode    fs.FileMode
	mtime   time.Time
}

func (u *undoLog) run() {
	for i := len(u.files) - 1; i >= 0; i-- {
		f := u.files[i]
		os.Remove(f.path)
		if !f.existed {
			continue
		}
		if f.link != "" {
			os.Symlink(f.link, f.path)
			_ = atomicfile.SetLinkTime(f.path, f.mtime.UnixNano())
			continue
		}
		_ = atomicfile.WriteMeta(f.path, f.data, f.meta)
	}
	for i := len(u.dirs) - 1; i >= 0; i-- {
		os.Remove(u.dirs[i])
	}
	for d, t := range u.times {
		os.Chtimes(d, t, t)
	}
}

// write carries out ops, logging how to undo each.
func (s *Store) write(ops []fileOp) (*undoLog, error) {
	u := &undoLog{times: map[string]time.Time{}}
	for _, op := range ops {
		dir := filepath.Dir(op.path)
		if _, ok := u.times[dir]; !ok {
			if fi, err := os.Stat(dir); err == nil {
				u.times[dir] = fi.ModTime()
			} else if !op.remove {
				created, err := mkdirAll(dir)
				u.dirs = append(u.dirs, created...)
				if err != nil {
					return u, &stores.Error{Path: dir, Err: err}
				}
			}
		}
		sf := savedFile{path: op.path}
		if fi, err := os.Lstat(op.path); err == nil {
			sf.existed, sf.mode, sf.mtime = true, fi.Mode(), fi.ModTime()
			if fi.Mode()&fs.ModeSymlink != 0 {
				sf.link, _ = os.Readlink(op.path)
			} else if sf.data, sf.meta, err = atomicfile.ReadMeta(op.path); err != nil {
				return u, &stores.Error{Path: op.path, Err: err}
			}
		}
		var err error
		if op.remove {
			err = os.Remove(op.path)
		} else {
			err = atomicfile.Write(op.path, op.data, 0o644)
		}
		if err != nil {
			return u, &stores.Error{Path: op.path, Err: err}
		}
		u.files = append(u.files, sf)
	}
	return u, nil
}

// mkdirAll is os.MkdirAll returning the folders it created, outermost first.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		missing = append([]string{d}, missing...)
	}
	var created []string
	for _, d := range missing {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return created, err
		}
		created = append(created, d)
	}
	return created, nil
}

// verify reads the PEM outputs back and checks every expectation.
func (s *Store) verify(expect []expectation) error {
	trust, _, _, err := s.readOutputs(true)
	if err != nil {
		return err
	}
	var bad []string
	for _, e := range expect {
		got := trust[e.cert.Fingerprint].Any(stores.Trusted)
		if got != e.present {
			what := "is not in the generated bundles"
			if !e.present {
				what = "is still in the generated bundles"
			}
			bad = append(bad, e.cert.Subject+" "+what)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("after regeneration %s", strings.Join(bad, "; "))
	}
	return nil
}

// privilegeError explains how to make the change with root's privileges. The
// files rootsync meant to write are staged in a temporary folder so that the
// hint can name them.
func (s *Store) privilegeError(ops []fileOp, cause error) error {
	var steps []string
	var copies, dests []string
	staged := ""
	for _, op := range ops {
		if op.remove {
			steps = append(steps, "remove "+op.path)
			continue
		}
		if staged == "" {
			if d, err := os.MkdirTemp("", "rootsync-staged-"); err == nil {
				staged = d
			}
		}
		src := filepath.Base(op.path)
		if staged != "" {
			p := filepath.Join(staged, filepath.Base(op.path))
			if err := os.WriteFile(p, op.data, 0o644); err == nil {
				src = p
			}
		}
		copies = append(copies, src)
		dests = append(dests, filepath.Dir(op.path))
	}
	for i := range copies {
		steps = append(steps, "copy "+copies[i]+" to "+dests[i])
	}
	var paths []string
	seen := map[string]bool{}
	for _, op := range ops {
		if d := filepath.Dir(op.path); !seen[d] {
			seen[d] = true
			paths = append(paths, d)
		}
	}
	return &stores.Error{
		Path: strings.Join(paths, ", "),
		Err:  fmt.Errorf("cannot write: %w", cause),
		Hint: "run rootsync as root (sudo), or " + strings.Join(steps, ", ") + " and run `sudo " + s.commandLine() + "`",
	}
}

// RestoreState re-runs the distribution's tool after the input folders were
// put back from a backup (a rollback, a restore, a crash recovery), so that
// the generated bundle and folders say again what the inputs say: restoring
// the anchors folder alone would leave a rolled-back root in
// ca-certificates.crt.
func (s *Store) RestoreState(ctx context.Context) error {
	out, err := s.regenerate(ctx, true)
	if err == nil {
		return nil
	}
	if msg := strings.TrimSpace(string(out)); msg != "" {
		err = fmt.Errorf("%w: %s", err, msg)
	}
	return &stores.Error{Path: s.Paths()[0], Err: fmt.Errorf("regenerating after the restore: %w", err),
		Hint: "the input folders are restored; run " + s.commandLine() + " by hand once the cause is fixed"}
}
