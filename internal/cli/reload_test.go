package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/servers"
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores/storetest"
)

// TestSyncSaysWhichServerMustReload: nginx's configuration (accepted by
// nginx -t) names the client-CA file a sync changes; the plan says nginx must
// reload, unless a hook of the job already deals with nginx.
func TestSyncSaysWhichServerMustReload(t *testing.T) {
	nginx := storetest.Tool(t, "nginx")
	dir := t.TempDir()
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("ROOTSYNC_STATE_DIR", filepath.Join(dir, "state"))
	conf := filepath.Join(dir, "nginx")
	os.MkdirAll(filepath.Join(conf, "sites"), 0o755)
	server := testpki.Root("reload test server root").Leaf("localhost")
	writeFile(t, filepath.Join(conf, "server.pem"), server.PEM())
	writeFile(t, filepath.Join(conf, "server.key"), server.KeyPEM())
	caFile := filepath.Join(dir, "client-ca.pem")
	writeFile(t, caFile, testpki.Root("reload test first root").PEM())
	writeFile(t, filepath.Join(conf, "nginx.conf"), []byte("pid nginx.pid;\nevents {}\nhttp {\n    include sites/*;\n}\n"))
	writeFile(t, filepath.Join(conf, "sites/app"), []byte("server {\n    listen 127.0.0.1:8443 ssl;\n    ssl_certificate server.pem;\n    ssl_certificate_key server.key;\n    ssl_client_certificate "+caFile+";\n    ssl_verify_client on;\n}\n"))
	if out, err := exec.Command(nginx, "-t", "-p", dir+"/", "-c", filepath.Join(conf, "nginx.conf"), "-e", "stderr").CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	saved := servers.Servers
	t.Cleanup(func() { servers.Servers = saved })
	servers.Servers = []servers.Server{saved[0]}
	servers.Servers[0].Configs = []string{filepath.Join(conf, "nginx.conf")}

	src := writeFile(t, filepath.Join(dir, "src.pem"), append(testpki.Root("reload test first root").PEM(), testpki.Root("reload test new root").PEM()...))
	code, out, errs := runMain("sync", "pem:"+src, "--to", "pem:"+caFile)
	if code != ExitOK {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errs)
	}
	want := "reload: nginx reads this store (" + filepath.Join(conf, "sites/app") + ":5) and uses the change only after a reload: systemctl reload nginx"
	if !strings.Contains(out, want) {
		t.Errorf("sync output lacks %q:\n%s", want, out)
	}
	// Nothing changed, nothing to reload.
	if _, out, _ = runMain("sync", "pem:"+src, "--to", "pem:"+caFile); strings.Contains(out, "reload:") {
		t.Errorf("an unchanged target asks for a reload:\n%s", out)
	}

	// A job whose hook deals with nginx is not told again.
	third := writeFile(t, filepath.Join(dir, "third.pem"), testpki.Root("reload test third root").PEM())
	cfg := writeFile(t, filepath.Join(dir, "config.yaml"), []byte(`jobs:
  hooked:
    sources: [pem:`+third+`]
    targets:
      - store: pem:`+caFile+`
        hooks: [["echo", "nginx", "-s", "reload"]]
`))
	code, out, errs = runMain("run", "--config", cfg)
	if code != ExitOK {
		t.Fatalf("run: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "added 1") || strings.Contains(out, "reload:") {
		t.Errorf("a job whose hook reloads nginx is told to reload it (or changed nothing):\n%s", out)
	}
	code, out, _ = runMain("sync", "pem:"+src, "--to", "pem:"+caFile, "--mode", "mirror", "--max-removals", "1", "--output", "json")
	if code != ExitOK || !strings.Contains(out, `"reload": [`) || !strings.Contains(out, `"server": "nginx"`) {
		t.Errorf("json: exit %d\n%s", code, out)
	}
}
