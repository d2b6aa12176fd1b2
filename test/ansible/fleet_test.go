// Package ansible tests the Ansible collection in ansible/ for real: ansible-core
// drives four hosts, each a Debian root file system of its own (made with
// debootstrap, reached with the chroot connection), through the install role,
// a check-mode run with diffs, an apply, a second apply and the fleet report.
package ansible

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores/storetest"
	"github.com/rootsync/rootsync/test/debroot"
)

// The roots of the story: the corporate root every host must trust for
// client certificates, and a foreign root someone put into host B's nginx
// file.
var (
	corp    = testpki.Root("Fleet Corporate Root")
	foreign = testpki.Root("Fleet Foreign Root")
)

// canary is a store password; it must never appear in Ansible's output.
const canary = "canary-5d1e0c7a-store-password"

// The hosts, the state each starts in, the job it gets and the state it must
// end in:
//
//	A  lacks the corporate root            add     → in its nginx file and NSS database
//	B  a foreign root in its nginx file    mirror  → foreign removed, corporate present (max_removals 1)
//	C  corporate root distrusted in NSS    add     → distrust kept and warned about; nothing changes
//	D  its source file is missing          add     → fails alone, with rootsync's hint
type host struct {
	name, root string
	mode       string
	targets    []string
	maxRemoval int
}

type fleet struct {
	t        *testing.T
	dir      string // inventory, playbooks, collections
	env      []string
	hosts    []*host
	repoRoot string
}

func TestFleet(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("chroot hosts need Linux")
	}
	playbook := storetest.Tool(t, "ansible-playbook")
	galaxy := storetest.Tool(t, "ansible-galaxy")
	certutil := storetest.Tool(t, "certutil")
	f := newFleet(t, galaxy)

	// The role, twice: the second run changes nothing.
	rec := f.play(playbook, "install.yml")
	for _, h := range f.hosts {
		if rec.stats[h.name].Failures+rec.stats[h.name].Unreachable > 0 {
			t.Fatalf("install on %s failed:\n%s", h.name, rec.output)
		}
	}
	rec = f.play(playbook, "install.yml")
	for _, h := range f.hosts {
		if rec.stats[h.name].Changed != 0 {
			t.Errorf("second install run changed %d tasks on %s, want 0", rec.stats[h.name].Changed, h.name)
		}
	}
	f.prepareStores(certutil)

	// Check mode with diffs: the plan per host, and no byte changes anywhere.
	before := map[string][]string{}
	for _, h := range f.hosts {
		before[h.name] = treeLines(t, h.root)
	}
	rec = f.play(playbook, "site.yml", "--check", "--diff")
	for _, h := range f.hosts {
		if d := diffLines(before[h.name], treeLines(t, h.root)); len(d) > 0 {
			t.Errorf("check mode changed host %s:\n%s", h.name, strings.Join(d, "\n"))
		}
	}
	checkPlan(t, "A", rec.result("A"), true, map[string][]string{
		"pem:/etc/nginx/client-ca.pem": {"add " + fp(corp)},
		"nss:/root/.pki/nssdb":         {"add " + fp(corp)},
	})
	checkPlan(t, "B", rec.result("B"), true, map[string][]string{
		"pem:/etc/nginx/client-ca.pem": {"add " + fp(corp), "remove " + fp(foreign)},
	})
	checkPlan(t, "C", rec.result("C"), false, nil)
	if !hasWarning(rec.result("C"), "kept-distrust") {
		t.Errorf("host C: no kept-distrust warning in %v", rec.result("C")["warnings_rootsync"])
	}
	for _, name := range []string{"A", "B"} {
		diff, _ := rec.result(name)["diff"].([]any)
		if len(diff) == 0 || !strings.Contains(fmt.Sprint(diff), "Fleet Corporate Root") {
			t.Errorf("host %s: diff mode shows no before/after with the corporate root: %v", name, diff)
		}
	}
	checkFailedAlone(t, rec.result("D"))

	// The apply, then the end states, checked inside each host.
	rec = f.play(playbook, "site.yml", "-vvv")
	if strings.Contains(rec.output, canary) {
		t.Errorf("the store password appears in ansible-playbook -vvv output")
	}
	checkFailedAlone(t, rec.result("D"))
	f.checkEndStates(certutil)

	// A second apply changes nothing anywhere.
	rec = f.play(playbook, "site.yml")
	for _, h := range f.hosts {
		if n := rec.stats[h.name].Changed; n != 0 {
			t.Errorf("second apply: %d tasks changed on host %s, want 0", n, h.name)
		}
	}

	// A no-op check-mode run, for the time per host (docs/ansible.md).
	start := time.Now()
	f.play(playbook, "site.yml", "--check", "--limit", "A,B,C")
	t.Logf("no-op check-mode run over 3 hosts (3 tasks on A, 1 on B and C, forks 4): %.1f s", time.Since(start).Seconds())

	// The fleet report: one check-mode run, one JSON and one Markdown file,
	// agreeing with each host's own rootsync list.
	reportDir := filepath.Join(f.dir, "report")
	f.play(playbook, filepath.Join(f.repoRoot, "ansible", "playbooks", "fleet_report.yml"),
		"--check", "-e", "rootsync_report_dir="+reportDir)
	f.checkReport(reportDir)

	// Scheduling without systemd: the cron file's command runs in the host;
	// the timer can be enabled in the root file system and verifies.
	f.checkSchedule()

	// The compromised-CA morning on host A: distrust the corporate root in
	// every store there (check mode first), and a prefix that matches
	// nothing fails with rootsync's hint.
	f.checkCompromised(playbook, certutil)
}

func (f *fleet) checkCompromised(playbook, certutil string) {
	t := f.t
	a := f.hosts[0]
	write := func(name, fingerprint string) {
		play := fmt.Sprintf(`- name: compromised
  hosts: A
  gather_facts: false
  tasks:
    - name: distrust the root in every store of the host
      rootsync.trust.remove:
        fingerprints: ["%s"]
        action: distrust
        stores: ["nss:/root/.pki/nssdb", "pem:/etc/nginx/client-ca.pem"]
`, fingerprint)
		if err := os.WriteFile(filepath.Join(f.dir, name), []byte(play), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("compromised.yml", fp(corp)[:16])
	before := treeLines(t, a.root)
	rec := f.play(playbook, "compromised.yml", "--check", "--diff")
	if d := diffLines(before, treeLines(t, a.root)); len(d) > 0 {
		t.Errorf("remove in check mode changed host A:\n%s", strings.Join(d, "\n"))
	}
	if changed, _ := rec.result("A")["changed"].(bool); !changed {
		t.Errorf("remove in check mode: changed = false, want true: %v", rec.result("A"))
	}
	rec = f.play(playbook, "compromised.yml")
	if failed, _ := rec.result("A")["failed"].(bool); failed {
		t.Fatalf("distrust on host A failed: %v", rec.result("A"))
	}
	if !hasWarning(rec.result("A"), "lossy-distrust") {
		t.Errorf("distrust into a PEM bundle: no lossy-distrust warning in %v", rec.result("A")["warnings_rootsync"])
	}
	out := run(t, certutil, "-L", "-d", "sql:"+filepath.Join(a.root, "root/.pki/nssdb"))
	if !strings.Contains(out, "p,p,p") {
		t.Errorf("host A: certutil -L after distrust:\n%s", out)
	}
	nginx, err := debroot.ChrootErr(a.root, "rootsync", "list", "--output", "json", "pem:/etc/nginx/client-ca.pem")
	if err != nil || listed(t, nginx)[fp(corp)] != nil {
		t.Errorf("host A: the distrusted root is still in the nginx file (%v)", err)
	}

	write("compromised-typo.yml", "deadbeefdeadbeef")
	rec = f.play(playbook, "compromised-typo.yml")
	res := rec.result("A")
	msg, _ := res["msg"].(string)
	if failed, _ := res["failed"].(bool); !failed || !strings.Contains(msg, "deadbeef") {
		t.Errorf("a prefix that matches nothing: %v, want a failure naming it", res)
	}
}

func newFleet(t *testing.T, galaxy string) *fleet {
	_, file, _, _ := runtime.Caller(0)
	f := &fleet{t: t, dir: t.TempDir(), repoRoot: filepath.Join(filepath.Dir(file), "..", "..")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// The .deb the role installs.
	build := exec.Command(filepath.Join(f.repoRoot, "packaging", "build-deb.sh"), filepath.Join(f.dir, "dist"))
	build.Dir = f.repoRoot
	out, err := build.Output()
	if err != nil {
		t.Fatalf("build-deb.sh: %v", err)
	}
	deb := strings.TrimSpace(string(out))

	// The collection, built and installed as a user would.
	run(t, galaxy, "collection", "build", filepath.Join(f.repoRoot, "ansible"), "--output-path", filepath.Join(f.dir, "build"), "--force")
	tars, _ := filepath.Glob(filepath.Join(f.dir, "build", "rootsync-trust-*.tar.gz"))
	if len(tars) != 1 {
		t.Fatalf("ansible-galaxy collection build made %v", tars)
	}
	run(t, galaxy, "collection", "install", tars[0], "-p", filepath.Join(f.dir, "collections"))

	// ansible-core has neither a chroot connection nor a JSON callback;
	// community.general's and ansible.posix's are taken from Debian's
	// ansible package at test time.
	must(os.MkdirAll(filepath.Join(f.dir, "connection_plugins"), 0o755))
	must(os.MkdirAll(filepath.Join(f.dir, "callback_plugins"), 0o755))
	fromAnsiblePackage(t, map[string]string{
		"community/general/plugins/connection/chroot.py": filepath.Join(f.dir, "connection_plugins", "chroot.py"),
		"ansible/posix/plugins/callback/json.py":         filepath.Join(f.dir, "callback_plugins", "json.py"),
	})

	for _, name := range []string{"A", "B", "C", "D"} {
		f.hosts = append(f.hosts, &host{name: name, root: debroot.Copy(t), mode: "add",
			targets: []string{"pem:/etc/nginx/client-ca.pem", "nss:/root/.pki/nssdb"}})
	}
	f.hosts[1].mode, f.hosts[1].targets, f.hosts[1].maxRemoval = "mirror", []string{"pem:/etc/nginx/client-ca.pem"}, 1
	f.hosts[3].targets = []string{"pem:/etc/nginx/client-ca.pem"}

	var inv strings.Builder
	inv.WriteString("[fleet]\n")
	for _, h := range f.hosts {
		fmt.Fprintf(&inv, "%s ansible_host=%s rootsync_mode=%s rootsync_targets='%s'", h.name, h.root, h.mode, mustJSON(h.targets))
		inv.WriteString(` rootsync_sources='["pem:/srv/pki/corp-root.pem"]' rootsync_purposes='["client-auth"]'`)
		if h.maxRemoval > 0 {
			fmt.Fprintf(&inv, " rootsync_max_removals=%d", h.maxRemoval)
		}
		inv.WriteString("\n")
	}
	inv.WriteString("\n[fleet:vars]\nansible_connection=chroot\nansible_python_interpreter=/usr/bin/python3\n")
	must(os.WriteFile(filepath.Join(f.dir, "hosts"), []byte(inv.String()), 0o644))
	cfg := "[defaults]\ninventory = " + filepath.Join(f.dir, "hosts") + "\nconnection_plugins = " + filepath.Join(f.dir, "connection_plugins") +
		"\ncallback_plugins = " + filepath.Join(f.dir, "callback_plugins") + "\ncollections_path = " + filepath.Join(f.dir, "collections") + "\npipelining = true\nhost_key_checking = false\nretry_files_enabled = false\nforks = 4\n"
	must(os.WriteFile(filepath.Join(f.dir, "ansible.cfg"), []byte(cfg), 0o644))
	must(os.WriteFile(filepath.Join(f.dir, "install.yml"), []byte(fmt.Sprintf(installPlay, deb)), 0o644))
	must(os.WriteFile(filepath.Join(f.dir, "site.yml"), []byte(sitePlay), 0o644))
	f.env = append(os.Environ(), "ANSIBLE_CONFIG="+filepath.Join(f.dir, "ansible.cfg"), "LC_ALL=C.UTF-8",
		"ANSIBLE_STDOUT_CALLBACK=json", "ANSIBLE_NOCOLOR=1", "ANSIBLE_LOCAL_TEMP="+filepath.Join(f.dir, "tmp"))
	return f
}

const installPlay = `- name: install
  hosts: fleet
  gather_facts: false
  roles:
    - role: rootsync.trust.install
      rootsync_deb: %s
      rootsync_config:
        jobs:
          corporate-root:
            sources: ["pem:/srv/pki/corp-root.pem"]
            targets: ["pem:/etc/nginx/client-ca.pem"]
            purposes: [client-auth]
`

const sitePlay = `- name: site
  hosts: fleet
  gather_facts: false
  tasks:
    - name: corporate root wherever client certificates are checked
      rootsync.trust.sync:
        sources: "{{ rootsync_sources }}"
        targets: "{{ rootsync_targets }}"
        mode: "{{ rootsync_mode }}"
        purposes: "{{ rootsync_purposes }}"
        max_removals: "{{ rootsync_max_removals | default(omit) }}"
    - name: application truststore with a password from a file on the host
      rootsync.trust.sync:
        sources: ["pem:/srv/pki/corp-root.pem"]
        targets: ["p12:/srv/app/trust.p12"]
        password_file: /srv/app/trust.password
      when: inventory_hostname == 'A'
    - name: another truststore with the password given to the module
      rootsync.trust.sync:
        sources: ["pem:/srv/pki/corp-root.pem"]
        targets: ["p12:/srv/app/trust2.p12"]
        password: "` + canary + `"
      when: inventory_hostname == 'A'
`

// prepareStores puts each host in its starting state.
func (f *fleet) prepareStores(certutil string) {
	t := f.t
	for _, h := range f.hosts {
		mk := func(rel string, data []byte, mode os.FileMode) {
			p := filepath.Join(h.root, rel)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, mode); err != nil {
				t.Fatal(err)
			}
		}
		if h.name != "D" {
			mk("srv/pki/corp-root.pem", corp.PEM(), 0o644)
		}
		switch h.name {
		case "A":
			if err := os.MkdirAll(filepath.Join(h.root, "root/.pki/nssdb"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(h.root, "etc/nginx"), 0o755); err != nil {
				t.Fatal(err)
			}
			mk("srv/app/trust.password", []byte(canary+"\n"), 0o600)
		case "B":
			mk("etc/nginx/client-ca.pem", foreign.PEM(), 0o644)
		case "C":
			mk("etc/nginx/client-ca.pem", corp.PEM(), 0o644)
			db := filepath.Join(h.root, "root/.pki/nssdb")
			if err := os.MkdirAll(db, 0o700); err != nil {
				t.Fatal(err)
			}
			run(t, certutil, "-N", "--empty-password", "-d", "sql:"+db)
			certFile := filepath.Join(f.dir, "corp.pem")
			if err := os.WriteFile(certFile, corp.PEM(), 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, certutil, "-A", "-d", "sql:"+db, "-n", "Corporate (distrusted)", "-t", "p,p,p", "-a", "-i", certFile)
		case "D":
			mk("etc/nginx/client-ca.pem", corp.PEM(), 0o644)
		}
	}
}

func (f *fleet) checkEndStates(certutil string) {
	t := f.t
	for _, h := range f.hosts {
		list := func(spec string) map[string]map[string]any {
			out, err := debroot.ChrootErr(h.root, "rootsync", "list", "--output", "json", spec)
			if err != nil {
				t.Errorf("host %s: rootsync list %s: %v\n%s", h.name, spec, err, out)
				return nil
			}
			return listed(t, out)
		}
		nginx := list("pem:/etc/nginx/client-ca.pem")
		switch h.name {
		case "A":
			if nginx[fp(corp)] == nil {
				t.Errorf("host A: the corporate root is not in the nginx file")
			}
			if nss := list("nss:/root/.pki/nssdb"); nss[fp(corp)] == nil {
				t.Errorf("host A: the corporate root is not in the NSS database")
			}
			out := run(t, certutil, "-L", "-d", "sql:"+filepath.Join(h.root, "root/.pki/nssdb"))
			if !strings.Contains(out, "Fleet Corporate Root") {
				t.Errorf("host A: certutil -L does not show the corporate root:\n%s", out)
			}
			p12 := list("p12:/srv/app/trust.p12?password-file=/srv/app/trust.password")
			if p12[fp(corp)] == nil {
				t.Errorf("host A: the corporate root is not in the password-protected truststore")
			}
		case "B":
			if nginx[fp(corp)] == nil || nginx[fp(foreign)] != nil || len(nginx) != 1 {
				t.Errorf("host B: nginx file holds %v, want only the corporate root", keys(nginx))
			}
			out := run(t, "openssl", "x509", "-noout", "-subject", "-in", filepath.Join(h.root, "etc/nginx/client-ca.pem"))
			if !strings.Contains(out, "Fleet Corporate Root") {
				t.Errorf("host B: openssl reads %q from the nginx file", out)
			}
		case "C":
			out := run(t, certutil, "-L", "-d", "sql:"+filepath.Join(h.root, "root/.pki/nssdb"))
			if !strings.Contains(out, "p,p,p") {
				t.Errorf("host C: the distrust was not kept:\n%s", out)
			}
			if len(nginx) != 1 || nginx[fp(corp)] == nil {
				t.Errorf("host C: nginx file holds %v, want the corporate root only", keys(nginx))
			}
		case "D":
			if len(nginx) != 1 || nginx[fp(corp)] == nil {
				t.Errorf("host D: nginx file changed: %v", keys(nginx))
			}
		}
	}
}

func (f *fleet) checkReport(dir string) {
	t := f.t
	b, err := os.ReadFile(filepath.Join(dir, "fleet-report.json"))
	if err != nil {
		t.Fatalf("fleet report: %v", err)
	}
	var rep struct {
		Hosts map[string]struct {
			Failed bool                        `json:"failed"`
			Stores map[string][]map[string]any `json:"stores"`
			Plan   map[string]any              `json:"plan"`
			Roots  map[string]struct {
				State  string            `json:"state"`
				Stores map[string]string `json:"stores"`
			} `json:"roots"`
		} `json:"hosts"`
		Roots []map[string]string `json:"roots"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("fleet report: %v\n%s", err, b)
	}
	for _, h := range f.hosts {
		hr, ok := rep.Hosts[h.name]
		if !ok {
			t.Errorf("fleet report lacks host %s", h.name)
			continue
		}
		if h.name == "D" {
			if !hr.Failed {
				t.Errorf("fleet report: host D is not marked failed")
			}
			continue
		}
		for spec, entries := range hr.Stores {
			out, err := debroot.ChrootErr(h.root, "rootsync", "list", "--output", "json", spec)
			if err != nil {
				t.Errorf("host %s: rootsync list %s: %v", h.name, spec, err)
				continue
			}
			own := listed(t, out)
			var got []string
			for _, e := range entries {
				got = append(got, fmt.Sprint(e["fingerprint"]))
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(keys(own), " ") {
				t.Errorf("fleet report, host %s, %s: %v; rootsync list there: %v", h.name, spec, got, keys(own))
			}
		}
	}
	if got := rep.Hosts["C"].Roots[fp(corp)].State; got != "distrusted" {
		t.Errorf("fleet report: the corporate root on host C is %q, want distrusted", got)
	}
	if got := rep.Hosts["A"].Roots[fp(corp)].State; got != "trusted" {
		t.Errorf("fleet report: the corporate root on host A is %q, want trusted", got)
	}
	md, err := os.ReadFile(filepath.Join(dir, "fleet-report.md"))
	if err != nil {
		t.Fatalf("fleet report: %v", err)
	}
	if !bytes.Contains(md, []byte("| Fleet Corporate Root")) || !bytes.Contains(md, []byte("distrusted")) {
		t.Errorf("fleet-report.md lacks the corporate root row:\n%s", md)
	}
}

func (f *fleet) checkSchedule() {
	t := f.t
	a := f.hosts[0]
	cron, err := os.ReadFile(filepath.Join(a.root, "etc/cron.d/rootsync"))
	if err != nil {
		t.Fatal(err)
	}
	var cmd string
	for _, line := range strings.Split(string(cron), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 6 && fields[5] == "root" && !strings.HasPrefix(line, "#") {
			cmd = strings.Join(fields[6:], " ")
		}
	}
	if cmd == "" {
		t.Fatalf("no job in the installed cron file:\n%s", cron)
	}
	if out, err := debroot.ChrootErr(a.root, "sh", "-c", cmd); err != nil {
		t.Errorf("the cron command %q in host A: %v\n%s", cmd, err, out)
	}
	if _, err := exec.LookPath("systemctl"); err == nil {
		if out, err := exec.Command("systemctl", "--root="+a.root, "enable", "rootsync.timer").CombinedOutput(); err != nil {
			t.Errorf("systemctl --root enable rootsync.timer: %v\n%s", err, out)
		}
		if out, _ := exec.Command("systemctl", "--root="+a.root, "is-enabled", "rootsync.timer").CombinedOutput(); strings.TrimSpace(string(out)) != "enabled" {
			t.Errorf("systemctl --root is-enabled rootsync.timer: %s", out)
		}
	}
	analyze := storetest.Tool(t, "systemd-analyze")
	units := t.TempDir()
	for _, u := range []string{"rootsync.service", "rootsync.timer"} {
		b, err := os.ReadFile(filepath.Join(a.root, "lib/systemd/system", u))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.ReplaceAll(b, []byte("/usr/bin/rootsync"), []byte(filepath.Join(a.root, "usr/bin/rootsync")))
		if err := os.WriteFile(filepath.Join(units, u), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(analyze, "verify", "--man=no", filepath.Join(units, "rootsync.service"), filepath.Join(units, "rootsync.timer")).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify of the installed units: %v\n%s", err, out)
	}
}

// recap is what the json callback printed.
type recap struct {
	output string
	doc    struct {
		Plays []struct {
			Play  struct{ Name string } `json:"play"`
			Tasks []struct {
				Task  struct{ Name string }     `json:"task"`
				Hosts map[string]map[string]any `json:"hosts"`
			} `json:"tasks"`
		} `json:"plays"`
		Stats map[string]struct {
			Changed, Failures, Unreachable, Ok int
		} `json:"stats"`
	}
	stats map[string]struct{ Changed, Failures, Unreachable, Ok int }
}

// result is host's result of the first task of the last play.
func (r *recap) result(host string) map[string]any {
	for _, p := range r.doc.Plays {
		if len(p.Tasks) > 0 {
			return p.Tasks[0].Hosts[host]
		}
	}
	return nil
}

func (f *fleet) play(playbook, file string, args ...string) *recap {
	f.t.Helper()
	if !filepath.IsAbs(file) {
		file = filepath.Join(f.dir, file)
	}
	cmd := exec.Command(playbook, append([]string{file}, args...)...)
	cmd.Dir = f.dir
	cmd.Env = f.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	f.t.Logf("ansible-playbook %s %s: %.1f s", filepath.Base(file), strings.Join(args, " "), time.Since(start).Seconds())
	r := &recap{output: stdout.String() + stderr.String()}
	// -vvv puts lines before the JSON document.
	js := stdout.Bytes()
	if i := bytes.Index(js, []byte("{\n")); i > 0 {
		js = js[i:]
	}
	if jerr := json.Unmarshal(js, &r.doc); jerr != nil {
		f.t.Fatalf("ansible-playbook %s: %v (exit: %v)\n%s", file, jerr, err, r.output)
	}
	r.stats = map[string]struct{ Changed, Failures, Unreachable, Ok int }{}
	for h, s := range r.doc.Stats {
		r.stats[h] = s
	}
	return r
}

func checkPlan(t *testing.T, host string, res map[string]any, wantChanged bool, want map[string][]string) {
	t.Helper()
	if res == nil {
		t.Errorf("host %s: no result", host)
		return
	}
	if failed, _ := res["failed"].(bool); failed {
		t.Errorf("host %s failed: %v", host, res["msg"])
		return
	}
	if changed, _ := res["changed"].(bool); changed != wantChanged {
		t.Errorf("host %s: changed = %v, want %v", host, changed, wantChanged)
	}
	plan, _ := res["plan"].(map[string]any)
	if plan["schema"] != "rootsync.plan/v1" {
		t.Errorf("host %s: plan schema %v, want rootsync.plan/v1", host, plan["schema"])
	}
	targets, _ := plan["targets"].([]any)
	got := map[string][]string{}
	for _, tg := range targets {
		tm, _ := tg.(map[string]any)
		changes, _ := tm["changes"].([]any)
		for _, c := range changes {
			cm, _ := c.(map[string]any)
			got[fmt.Sprint(tm["store"])] = append(got[fmt.Sprint(tm["store"])], fmt.Sprintf("%v %v", cm["action"], cm["fingerprint"]))
		}
	}
	for spec := range got {
		sort.Strings(got[spec])
	}
	if want == nil {
		want = map[string][]string{}
	}
	if mustJSON(got) != mustJSON(want) {
		t.Errorf("host %s: plan %v, want %v", host, got, want)
	}
}

func checkFailedAlone(t *testing.T, res map[string]any) {
	t.Helper()
	if failed, _ := res["failed"].(bool); !failed {
		t.Errorf("host D (source missing) did not fail: %v", res)
		return
	}
	msg, _ := res["msg"].(string)
	hint, _ := res["hint"].(string)
	if !strings.Contains(msg, "/srv/pki/corp-root.pem") || hint == "" {
		t.Errorf("host D: msg %q, hint %q; want the missing source named and rootsync's hint", msg, hint)
	}
}

func hasWarning(res map[string]any, code string) bool {
	ws, _ := res["warnings_rootsync"].([]any)
	for _, w := range ws {
		if wm, _ := w.(map[string]any); wm["code"] == code {
			return true
		}
	}
	return false
}

// listed reads `rootsync list -o json` of one store: fingerprint → entry.
func listed(t *testing.T, out string) map[string]map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("rootsync list: %v\n%s", err, out)
	}
	var certs []any
	if ss, ok := doc["stores"].([]any); ok {
		for _, s := range ss {
			sm, _ := s.(map[string]any)
			cs, _ := sm["certificates"].([]any)
			certs = append(certs, cs...)
		}
	} else {
		certs, _ = doc["certificates"].([]any)
	}
	m := map[string]map[string]any{}
	for _, c := range certs {
		cm, _ := c.(map[string]any)
		m[fmt.Sprint(cm["fingerprint"])] = cm
	}
	return m
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func fp(c *testpki.Cert) string {
	s := sha256.Sum256(c.DER)
	return hex.EncodeToString(s[:])
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// fromAnsiblePackage copies plugins (paths below ansible_collections/) out
// of Debian's ansible package, downloaded once per machine, to their
// destinations.
func fromAnsiblePackage(t *testing.T, files map[string]string) {
	t.Helper()
	cache := filepath.Join(debroot.CacheDir(), "ansible")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	debs, _ := filepath.Glob(filepath.Join(cache, "ansible_*.deb"))
	if len(debs) == 0 {
		cmd := exec.Command("apt-get", "download", "ansible")
		cmd.Dir = cache
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get download ansible: %v\n%s", err, out)
		}
		debs, _ = filepath.Glob(filepath.Join(cache, "ansible_*.deb"))
	}
	if len(debs) == 0 {
		t.Fatal("apt-get download ansible left no package")
	}
	for src, dst := range files {
		tarCmd := exec.Command("dpkg-deb", "--fsys-tarfile", debs[0])
		tarOut, err := tarCmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := tarCmd.Start(); err != nil {
			t.Fatal(err)
		}
		x := exec.Command("tar", "-xO", "./usr/lib/python3/dist-packages/ansible_collections/"+src)
		x.Stdin = tarOut
		py, err := x.Output()
		tarCmd.Wait()
		if err != nil || len(py) == 0 {
			t.Fatalf("taking %s out of %s: %v", src, debs[0], err)
		}
		if err := os.WriteFile(dst, py, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// treeLines lists every path, mode, link target and content hash below
// root.
func treeLines(t *testing.T, root string) []string {
	t.Helper()
	var lines []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s := sha256.Sum256(b)
			line += " " + hex.EncodeToString(s[:8])
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// diffLines lists the lines only one of a and b has, marked - and +.
func diffLines(a, b []string) []string {
	in := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, x := range l {
			m[x] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out []string
	for _, x := range a {
		if !mb[x] {
			out = append(out, "- "+x)
		}
	}
	for _, x := range b {
		if !ma[x] {
			out = append(out, "+ "+x)
		}
	}
	return out
}
