package servers

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores/storetest"
)

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func specs(uses []Use) string {
	var out []string
	for _, u := range uses {
		out = append(out, u.Server+" "+u.Directive+" "+u.Spec)
	}
	return strings.Join(out, "\n")
}

// TestNginx reads a configuration nginx -t accepts, with an include glob
// relative to the configuration folder, quotes and comments, and finds the
// files nginx reads: removing one makes nginx -t fail naming the same path.
func TestNginx(t *testing.T) {
	nginx := storetest.Tool(t, "nginx")
	root := t.TempDir()
	conf := filepath.Join(root, "etc/nginx")
	server := testpki.Root("servers test server root").Leaf("localhost")
	ca := testpki.Root("servers test client root")
	write(t, filepath.Join(conf, "server.pem"), string(server.PEM()))
	write(t, filepath.Join(conf, "server.key"), string(server.KeyPEM()))
	write(t, filepath.Join(conf, "ca/client-ca.pem"), string(ca.PEM()))
	write(t, filepath.Join(root, "srv/trusted ca.pem"), string(ca.PEM()))
	write(t, filepath.Join(conf, "nginx.conf"), `# main file
pid nginx.pid;
events {}
http {
    include conf.d/*.conf;
}
`)
	write(t, filepath.Join(conf, "conf.d/site.conf"), `server {
    listen 127.0.0.1:8443 ssl;
    ssl_certificate server.pem;
    ssl_certificate_key server.key;
    ssl_client_certificate ca/client-ca.pem; # the clients' roots
    ssl_verify_client on;
    ssl_trusted_certificate "`+filepath.Join(root, "srv/trusted ca.pem")+`";
}
`)
	write(t, filepath.Join(conf, "conf.d/unused.conf.off"), "server { ssl_client_certificate /nowhere.pem; }\n")
	test := func() (bool, string) {
		out, err := exec.Command(nginx, "-t", "-p", root+"/", "-c", filepath.Join(conf, "nginx.conf"), "-e", "stderr").CombinedOutput()
		return err == nil, string(out)
	}
	if ok, out := test(); !ok {
		t.Fatalf("nginx -t refuses the test configuration:\n%s", out)
	}
	uses, problems := Find(root)
	if len(problems) > 0 {
		t.Errorf("problems: %v", problems)
	}
	// The absolute path in the file is taken as it is on the host (here it
	// already points into the test tree).
	want := "nginx ssl_client_certificate pem:/etc/nginx/ca/client-ca.pem\n" +
		"nginx ssl_trusted_certificate pem:" + filepath.Join(root, "srv/trusted ca.pem")
	if got := specs(uses); got != want {
		t.Fatalf("found:\n%s\nwant:\n%s", got, want)
	}
	if uses[0].Config != filepath.Join(conf, "conf.d/site.conf") || uses[0].Line != 5 {
		t.Errorf("place = %s:%d", uses[0].Config, uses[0].Line)
	}
	// nginx reads the file Find names.
	if err := os.Remove(uses[0].Path); err != nil {
		t.Fatal(err)
	}
	if ok, out := test(); ok || !strings.Contains(out, uses[0].Path) {
		t.Errorf("without %s nginx -t still passes or names another file:\n%s", uses[0].Path, out)
	}
}

func TestApache(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "etc/apache2/apache2.conf"), `# Debian's main file
Include ports.conf
IncludeOptional sites-enabled/*.conf
IncludeOptional conf-enabled/
`)
	write(t, filepath.Join(root, "etc/apache2/ports.conf"), "Listen 443\n")
	write(t, filepath.Join(root, "etc/apache2/sites-enabled/ssl.conf"), `<VirtualHost *:443>
    SSLEngine on
    sslcacertificatefile "/etc/apache2/ssl/client ca.pem"
    SSLCACertificatePath \
        ssl.crt
</VirtualHost>
`)
	write(t, filepath.Join(root, "etc/apache2/conf-enabled/proxy"), "SSLProxyCACertificateFile /etc/ssl/certs/ca-certificates.crt\n")
	uses, problems := Find(root)
	if len(problems) > 0 {
		t.Errorf("problems: %v", problems)
	}
	want := "apache2 SSLCACertificatePath capath:/etc/apache2/ssl.crt\n" +
		"apache2 SSLCACertificateFile pem:/etc/apache2/ssl/client ca.pem\n" +
		"apache2 SSLProxyCACertificateFile pem:/etc/ssl/certs/ca-certificates.crt"
	if got := specs(uses); got != want {
		t.Errorf("found:\n%s\nwant:\n%s", got, want)
	}
}

func TestHAProxy(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "etc/haproxy/haproxy.cfg"), `global
    ca-base /etc/ssl/certs
frontend web
    bind :443 ssl crt /etc/haproxy/site.pem verify required ca-file clients.pem # relative to ca-base
backend app
    server a 10.0.0.1:443 ssl ca-file /etc/haproxy/backend-ca.pem verify required
`)
	uses, _ := Find(root)
	want := "haproxy ca-file pem:/etc/haproxy/backend-ca.pem\nhaproxy ca-file pem:/etc/ssl/certs/clients.pem"
	if got := specs(uses); got != want {
		t.Errorf("found:\n%s\nwant:\n%s", got, want)
	}
}

// TestTable: the table can be swapped, and a server without configuration
// is no problem.
func TestTable(t *testing.T) {
	saved := Servers
	t.Cleanup(func() { Servers = saved })
	root := t.TempDir()
	write(t, filepath.Join(root, "opt/web/web.conf"), "ssl_client_certificate /x.pem;\ninclude web.conf;\n")
	Servers = []Server{{Name: "web", Configs: []string{"/opt/web/web.conf", "/opt/none.conf"}, Syntax: Nginx,
		Directives: []Directive{{Name: "ssl_client_certificate", Kind: "pem"}}}}
	uses, problems := Find(root)
	if specs(uses) != "web ssl_client_certificate pem:/x.pem" || len(problems) > 0 {
		t.Errorf("found %q, problems %v", specs(uses), problems)
	}
}

// TestApacheReadsWhatFindNames: Apache (apache2 -t) accepts a configuration
// whose client CA file Find names, and refuses it, naming that file, once it
// is gone.
func TestApacheReadsWhatFindNames(t *testing.T) {
	apache := storetest.Tool(t, "apache2")
	root := t.TempDir()
	conf := filepath.Join(root, "etc/apache2")
	server := testpki.Root("servers test apache server root").Leaf("localhost")
	ca := testpki.Root("servers test apache client root")
	write(t, filepath.Join(conf, "server.pem"), string(server.PEM()))
	write(t, filepath.Join(conf, "server.key"), string(server.KeyPEM()))
	write(t, filepath.Join(conf, "ca/client ca.pem"), string(ca.PEM()))
	// No ServerRoot line, as in Debian's file: apache2 -d gives the test
	// tree's, and Find takes Debian's /etc/apache2 under the root prefix.
	write(t, filepath.Join(conf, "apache2.conf"), `# a Debian-style main file
PidFile "`+filepath.Join(root, "apache2.pid")+`"
ErrorLog "`+filepath.Join(root, "error.log")+`"
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so
Include ports.conf
IncludeOptional sites-enabled/*.conf
`)
	write(t, filepath.Join(conf, "ports.conf"), "Listen 127.0.0.1:8444\n")
	write(t, filepath.Join(conf, "sites-enabled/ssl.conf"), `<VirtualHost 127.0.0.1:8444>
    SSLEngine on
    SSLCertificateFile server.pem
    SSLCertificateKeyFile server.key
    SSLCACertificateFile "ca/client ca.pem"
    SSLVerifyClient require
</VirtualHost>
`)
	test := func() (bool, string) {
		out, err := exec.Command(apache, "-t", "-d", conf, "-f", filepath.Join(conf, "apache2.conf")).CombinedOutput()
		return err == nil, string(out)
	}
	if ok, out := test(); !ok {
		t.Fatalf("apache2 -t refuses the test configuration:\n%s", out)
	}
	uses, problems := Find(root)
	if len(problems) > 0 {
		t.Errorf("problems: %v", problems)
	}
	if len(uses) != 1 || uses[0].Directive != "SSLCACertificateFile" {
		t.Fatalf("found:\n%s\nwant the one SSLCACertificateFile", specs(uses))
	}
	if _, err := os.Stat(uses[0].Path); err != nil {
		t.Fatalf("Find named %s, which is not the file: %v", uses[0].Path, err)
	}
	// Apache reads the file Find names.
	if err := os.Remove(uses[0].Path); err != nil {
		t.Fatal(err)
	}
	if ok, out := test(); ok || !strings.Contains(out, "client ca.pem") {
		t.Errorf("without %s apache2 -t still passes or names another file:\n%s", uses[0].Path, out)
	}
}
