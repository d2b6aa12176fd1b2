package cli

import (
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/storekinds"
	"github.com/rootsync/rootsync/stores"
)

// TestSecretEnv: hooks lose every variable a password may come from: the
// flag, a spec's ?password-env= and a configuration store's password-env.
func TestSecretEnv(t *testing.T) {
	o := commonOptions{passwordEnv: "FLAG_PW"}
	sp, err := storekinds.Registry().ParseSpec("nss:/tmp/db?password-env=SPEC_PW")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := storekinds.Registry().ParseSpec("pem:/tmp/a.pem")
	if err != nil {
		t.Fatal(err)
	}
	got := o.secretEnv([]stores.Spec{sp, plain}, stores.Secret{Env: "CONFIG_PW"}, stores.Secret{File: "/etc/pw"}, stores.Secret{Env: "FLAG_PW"})
	if want := "CONFIG_PW FLAG_PW SPEC_PW"; strings.Join(got, " ") != want {
		t.Errorf("secretEnv = %v, want %s", got, want)
	}
	cred, err := storekinds.Registry().ParseSpec("p12:/tmp/t.p12?password-credential=ts")
	if err != nil {
		t.Fatal(err)
	}
	if got := (&commonOptions{}).secretEnv([]stores.Spec{cred}); strings.Join(got, " ") != "CREDENTIALS_DIRECTORY" {
		t.Errorf("secretEnv with a spec's credential = %v, want CREDENTIALS_DIRECTORY", got)
	}
	if got := (&commonOptions{}).secretEnv(nil, stores.Secret{Credential: "ts"}); strings.Join(got, " ") != "CREDENTIALS_DIRECTORY" {
		t.Errorf("secretEnv with a configuration's credential = %v, want CREDENTIALS_DIRECTORY", got)
	}
	if got := (&commonOptions{}).secretEnv(nil); len(got) != 0 {
		t.Errorf("secretEnv with no password variables = %v", got)
	}
}
