package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rootsync/rootsync/internal/job"
	"github.com/rootsync/rootsync/internal/report"
	"github.com/rootsync/rootsync/internal/servers"
)

// serverRoot is where the servers' configuration is read for reload notices
// ("/": the running system).
var serverRoot = "/"

// serverUses is what the servers' configuration names, read once per
// process: in the background from the moment a run is about to change a
// store (start, as job.Tx.Changing), so that reading it overlaps the writes.
type serverUses struct {
	once sync.Once
	done chan struct{}
	uses []servers.Use
}

// start begins reading the configuration, once.
func (s *serverUses) start() {
	s.once.Do(func() {
		s.done = make(chan struct{})
		go func() {
			s.uses, _ = servers.Find(serverRoot)
			close(s.done)
		}()
	})
}

// wait waits for a read that start began; after it, get finds nothing
// when none began. Commands defer it, so that no read outlives them.
func (s *serverUses) wait() {
	s.once.Do(func() {
		s.done = make(chan struct{})
		close(s.done)
	})
	<-s.done
}

// get waits for the configuration read (starting it if need be).
func (s *serverUses) get() []servers.Use {
	s.start()
	<-s.done
	return s.uses
}

// noteReloads names, on each target the run changed, the servers whose
// configuration names one of its files or folders: they use the change
// only after a reload. A server is not named when one of the target's hooks
// already mentions it (a hook that reloads or restarts it).
func noteReloads(r *report.Run, j *job.Job, su *serverUses) {
	if r == nil || j == nil {
		return
	}
	var uses []servers.Use
	found := false
	for i := range r.Targets {
		t := &r.Targets[i]
		if !t.Applied || i >= len(j.Targets) {
			continue
		}
		if !found {
			uses = su.get()
			found = true
		}
		paths := map[string]bool{}
		for _, p := range j.Targets[i].Store.Paths() {
			if abs, err := filepath.Abs(p); err == nil {
				paths[abs] = true
			}
		}
		seen := map[string]bool{}
		for _, u := range uses {
			if !paths[filepath.Clean(u.Path)] || seen[u.Server] || hooked(j.Targets[i].Hooks, u.Server) {
				continue
			}
			seen[u.Server] = true
			t.Reload = append(t.Reload, report.Reload{Server: u.Server, Config: fmt.Sprintf("%s:%d", u.Config, u.Line), Command: u.Reload})
		}
	}
}

// hooked reports whether one of hooks names the server (nginx -s reload,
// systemctl reload apache2, apachectl graceful, ...).
func hooked(hooks []job.Hook, server string) bool {
	names := []string{server}
	if server == "apache2" || server == "httpd" {
		names = append(names, "apache", "httpd")
	}
	for _, h := range hooks {
		for _, a := range h.Argv {
			for _, n := range names {
				if strings.Contains(filepath.Base(a), n) {
					return true
				}
			}
		}
	}
	return false
}
