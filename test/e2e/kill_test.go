package e2e

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/backup"
	"github.com/rootsync/rootsync/internal/journal"
)

// killKind is one command the kill trials interrupt.
type killKind struct {
	name string
	// variants: trial i is of variant i%variants, each measured on its own.
	variants int
	// prepare brings a fresh fault job into the state the command starts
	// from, and returns the command's arguments and the targets it changes
	// (with their states before and after it).
	prepare func(t *testing.T, f *faultJob, trial int) (argv []string, watch []string, before, after map[string][]string)
}

var killKinds = []killKind{
	{"run", 1, func(t *testing.T, f *faultJob, _ int) ([]string, []string, map[string][]string, map[string][]string) {
		return []string{"run", "--cron", "--config", f.path("config.yaml")}, f.targets, f.before, f.after
	}},
	{"sync", 1, func(t *testing.T, f *faultJob, _ int) ([]string, []string, map[string][]string, map[string][]string) {
		return append([]string{"sync", "--state-dir", f.state, "pem:" + f.path("source.pem"), "--to"}, f.targets...), f.targets, f.before, f.after
	}},
	// restore puts the capath folder (even trials) or the NSS database (odd
	// trials) back as it was before a completed run.
	{"restore", 2, func(t *testing.T, f *faultJob, trial int) ([]string, []string, map[string][]string, map[string][]string) {
		if r := f.run("--cron"); r.code != 0 {
			t.Fatalf("run before the restore: %v", r)
		}
		target := f.targets[1+trial%2]
		all, err := backup.List(f.state)
		if err != nil {
			t.Fatal(err)
		}
		var id string
		for _, b := range all {
			if b.Store == target {
				id = b.ID
			}
		}
		if id == "" {
			t.Fatalf("no backup of %s", target)
		}
		return []string{"restore", "--state-dir", f.state, id}, []string{target},
			map[string][]string{target: f.after[target]}, map[string][]string{target: f.before[target]}
	}},
}

// TestKillTrials kills `rootsync run`, `sync` and `restore` with SIGKILL at
// random moments while they change stores (E2E_KILL_TRIALS trials in all,
// 40% run, 30% sync, 30% restore). Half the kills fall anywhere in the
// command's life, half in the part of it after its journal was written (as
// long as that part took in an undisturbed command, and a little more).
// While no trial of a kind has ended wholly new, later trials of that kind
// kill later (the measured times can be too short on a busy machine).
// Right after a kill a
// pem file and an NSS database are each whole (a capath folder may be
// part-written); after the next rootsync process (a sync of an empty source
// into an unrelated target, which rolls back an interrupted transaction
// first) every store the command was changing is wholly as before it or
// wholly as after it, and they agree.
func TestKillTrials(t *testing.T) {
	need(t, "certutil")
	trials := 30
	if testing.Short() {
		trials = 6
	}
	if n, err := strconv.Atoi(os.Getenv("E2E_KILL_TRIALS")); err == nil {
		trials = n
	}
	share := []int{trials * 4 / 10, trials * 3 / 10}
	share = append(share, trials-share[0]-share[1])
	var all killStats
	for i, k := range killKinds {
		k, n := k, share[i]
		t.Run(k.name, func(t *testing.T) {
			st := killTrials(t, k, n)
			t.Logf("%s: %s", k.name, st)
			all.add(st)
		})
	}
	t.Logf("all: %s", all)
	if trials >= 20 {
		if all.afterJournal*10 < all.trials*3 {
			t.Errorf("only %d of %d kills landed after the journal was written, want at least 30%%", all.afterJournal, all.trials)
		}
		if all.old == 0 || all.new == 0 {
			t.Errorf("outcomes: %d whole-old, %d whole-new; want both", all.old, all.new)
		}
	}
}

type killStats struct {
	trials       int
	afterJournal int // the journal had been written when the kill landed
	pending      int // the kill left a journal for the next process
	old, new     int // outcome after the next process
	mixedAtKill  int // a capath folder part-written right after the kill
}

func (s *killStats) add(o killStats) {
	s.trials += o.trials
	s.afterJournal += o.afterJournal
	s.pending += o.pending
	s.old += o.old
	s.new += o.new
	s.mixedAtKill += o.mixedAtKill
}

func (s killStats) String() string {
	return fmt.Sprintf("%d trials; %d kills after the journal was written (%d left it pending); after the next process %d whole-old, %d whole-new; %d capath folders part-written right after the kill",
		s.trials, s.afterJournal, s.pending, s.old, s.new, s.mixedAtKill)
}

// judge says whether each watched store is wholly as before ("old"), wholly
// as after ("new") or neither ("mixed").
func judge(t *testing.T, watch []string, before, after map[string][]string) []string {
	t.Helper()
	var out []string
	for _, tg := range watch {
		got := fingerprints(t, tg)
		switch {
		case equal(got, before[tg]):
			out = append(out, "old")
		case equal(got, after[tg]):
			out = append(out, "new")
		default:
			t.Logf("%s is neither wholly old nor wholly new: %d certificates (old %d, new %d)", tg, len(got), len(before[tg]), len(after[tg]))
			out = append(out, "mixed")
		}
	}
	return out
}

func killTrials(t *testing.T, k killKind, trials int) killStats {
	rng := rand.New(rand.NewSource(int64(len(k.name))))
	var st killStats
	fulls := map[int]time.Duration{}
	windows := map[int]time.Duration{}
	stretch := 1.0
	for i := 0; i < trials; i++ {
		f := newFaultJob(t, "", "[]")
		argv, watch, before, after := k.prepare(t, f, i)
		journalPath := filepath.Join(f.state, journal.FileName)
		variant := i % k.variants
		if fulls[variant] == 0 {
			// The first trial of each variant measures an undisturbed
			// command, to spread the kills over its life and over the part
			// of it after the journal was written.
			fulls[variant], windows[variant] = measure(t, f, argv, journalPath)
			t.Logf("an undisturbed %v takes %s, %s of it after the journal was written", argv[:1], fulls[variant], windows[variant])
			f = newFaultJob(t, "", "[]")
			argv, watch, before, after = k.prepare(t, f, i)
		}
		// A busy machine makes the measured times too short, and every kill
		// then lands early: while no trial of this kind has ended wholly
		// new, each trial after the second kills a little later.
		full := time.Duration(float64(fulls[variant]) * stretch)
		window := time.Duration(float64(windows[variant]) * stretch)

		cmd := exec.Command(bin, argv...)
		cmd.Env = f.env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		delay := time.Duration(rng.Int63n(int64(full)))
		waitJournal := (i/k.variants)%2 == 1
		sawJournal := false
		for {
			if _, err := os.Stat(journalPath); err == nil && !sawJournal {
				sawJournal = true
				if waitJournal {
					// From the journal on, kill within the part of the
					// command after it.
					delay = time.Since(start) + time.Duration(rng.Int63n(int64(window)*5/4+1))
				}
			}
			if time.Since(start) >= delay {
				break
			}
			time.Sleep(500 * time.Microsecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()

		killed := judge(t, watch, before, after)
		f.checkNSS(t)
		for n, tg := range watch {
			if killed[n] != "mixed" {
				continue
			}
			if strings.HasPrefix(tg, "capath:") {
				st.mixedAtKill++
			} else {
				t.Errorf("trial %d: right after the kill %s is neither wholly old nor wholly new", i, tg)
			}
		}
		pending, err := journal.Pending(f.state)
		if err != nil {
			t.Fatal(err)
		}

		// The next process rolls back what the killed one left.
		empty := writeFile(t, f.path("empty.pem"), "")
		r := rootsync(t, f.env, "sync", "--state-dir", f.state, "pem:"+empty, "--to", "pem:"+f.path("unrelated.pem"))
		if r.code != 0 {
			t.Fatalf("trial %d: the next process: %v", i, r)
		}
		if pending != nil && !strings.Contains(r.stderr, "left half-done by an interrupted run") {
			t.Errorf("trial %d: the next process does not say it rolled back: %v", i, r)
		}
		outcome := judge(t, watch, before, after)
		f.checkNSS(t)
		t.Logf("trial %d: kill after %s (journal seen %v): %v, journal pending %v, after the next process %v",
			i, delay.Round(time.Millisecond), sawJournal, killed, pending != nil, outcome)
		if !uniform(outcome) || outcome[0] == "mixed" {
			t.Errorf("trial %d: after the next process the stores are %v, want all wholly old or all wholly new", i, outcome)
		}
		if pending != nil && outcome[0] != "old" {
			t.Errorf("trial %d: rolling back an interrupted %s left %v, want all old", i, k.name, outcome)
		}
		if p, _ := journal.Pending(f.state); p != nil {
			t.Errorf("trial %d: the journal is still there after the next process", i)
		}
		st.trials++
		if sawJournal || pending != nil {
			st.afterJournal++
		}
		if pending != nil {
			st.pending++
		}
		switch outcome[0] {
		case "old":
			st.old++
		case "new":
			st.new++
		}
		if st.new == 0 && i >= 1 && stretch < 8 {
			stretch *= 1.4
		}
	}
	return st
}

// measure runs the command undisturbed and returns how long it took and how
// long it ran after its journal appeared.
func measure(t *testing.T, f *faultJob, argv []string, journalPath string) (full, window time.Duration) {
	t.Helper()
	cmd := exec.Command(bin, argv...)
	cmd.Env = f.env
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var seen time.Time
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("undisturbed %v: %v\n%s", argv, err, out.String())
			}
			full = time.Since(start)
			if seen.IsZero() {
				return full, full / 2
			}
			return full, time.Since(seen)
		default:
		}
		if seen.IsZero() {
			if _, err := os.Stat(journalPath); err == nil {
				seen = time.Now()
			}
		}
		time.Sleep(500 * time.Microsecond)
	}
}
