package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/rootsync/rootsync/stores"
)

// Jobs is what rootsync run did: one result per job of the configuration
// file, in the order they ran.
type Jobs struct {
	DryRun bool
	Jobs   []Job
}

// Job is one job's plan and, unless a dry run, what happened. Run is nil
// when the job failed before it had a plan (a source could not be read).
type Job struct {
	Name string
	Run  *Run
	Err  error
}

// Changed reports whether any job has changes.
func (j Jobs) Changed() bool {
	for _, x := range j.Jobs {
		if x.Run != nil && x.Run.Changed() {
			return true
		}
	}
	return false
}

// maxCron is how many changes a cron line names before "and N more".
const maxCron = 8

// JobsText writes each job's plan, as Text does, under a "job NAME:" line.
func JobsText(w io.Writer, j Jobs, s Style) error {
	ew := &errWriter{w: w}
	first := true
	for _, x := range j.Jobs {
		if x.Run == nil {
			continue
		}
		if !first {
			ew.printf("\n")
		}
		first = false
		ew.printf("job %s:\n", x.Name)
		if ew.err == nil {
			ew.err = Text(ew.w, x.Run, s)
		}
	}
	return ew.err
}

// JobsCron writes one line per changed (or, in a dry run, differing)
// target, naming what changed, and nothing at all when everything is in
// sync. Failed and rolled-back targets get no line: the error says what
// happened to them.
func JobsCron(w io.Writer, j Jobs) error {
	ew := &errWriter{w: w}
	for _, x := range j.Jobs {
		if x.Run == nil {
			continue
		}
		for _, t := range x.Run.Targets {
			p := t.Plan
			if p == nil || p.Empty() {
				continue
			}
			a, rm, tr := p.Count(stores.Add), p.Count(stores.Remove), p.Count(stores.SetTrust)
			var what string
			switch {
			case j.DryRun:
				what = fmt.Sprintf("would add %d, remove %d, change trust of %d", a, rm, tr)
			case t.Applied:
				what = fmt.Sprintf("added %d, removed %d, changed trust of %d", a, rm, tr)
			default:
				continue
			}
			ew.printf("job %s: %s: %s: %s\n", x.Name, p.Target, what, strings.Join(Changes(p, maxCron), ", "))
		}
	}
	return ew.err
}

type jsonJobs struct {
	Schema string    `json:"schema"`
	Jobs   []jsonJob `json:"jobs"`
}

type jsonJob struct {
	Job   string   `json:"job"`
	OK    bool     `json:"ok"`
	Error string   `json:"error,omitempty"`
	Plan  *jsonRun `json:"plan,omitempty"`
}

// JobsJSON writes the run as one JSON document (schema rootsync.run/v1):
// each job with its rootsync.plan/v1 document.
func JobsJSON(w io.Writer, j Jobs) error {
	out := jsonJobs{Schema: RunSchema, Jobs: []jsonJob{}}
	for _, x := range j.Jobs {
		jj := jsonJob{Job: x.Name, OK: x.Err == nil}
		if x.Err != nil {
			jj.Error = x.Err.Error()
		}
		if x.Run != nil {
			doc := runJSON(x.Run)
			jj.Plan = &doc
		}
		out.Jobs = append(out.Jobs, jj)
	}
	return encode(w, out)
}
