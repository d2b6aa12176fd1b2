package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/internal/storekinds"
	"github.com/rootsync/rootsync/stores"
)

// The README's store tables sit between these lines and are written by
// storeTables; TestReadmeStoreTables keeps them so.
const (
	readmeBegin = "<!-- store tables: generated from the store kinds by `go test ./internal/cli -run TestReadmeStoreTables -update`; do not edit by hand -->\n"
	readmeEnd   = "<!-- end of the generated store tables -->\n"
)

// TestReadmeStoreTables regenerates the README's store table and option
// table from the registry and fails on any difference; with -update it
// rewrites them in README.md.
func TestReadmeStoreTables(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i, j := strings.Index(readme, readmeBegin), strings.Index(readme, readmeEnd)
	if i < 0 || j < i {
		t.Fatalf("%s: the generated store tables are not between %q and %q", path, readmeBegin, readmeEnd)
	}
	got := readme[i+len(readmeBegin) : j]
	want := storeTables(storekinds.Registry())
	if got == want {
		return
	}
	if *updateScripts {
		if err := os.WriteFile(path, []byte(readme[:i+len(readmeBegin)]+want+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the store tables differ from the registry's (run go test ./internal/cli -run TestReadmeStoreTables -update)\n got:\n%s\nwant:\n%s", path, got, want)
}

// storeTables renders the README's table of store kinds and its table of
// spec options.
func storeTables(r *stores.Registry) string {
	var b strings.Builder
	b.WriteString("| spec | what | can record |\n|---|---|---|\n")
	type optionRow struct {
		opt   stores.Option
		kinds []string
	}
	var opts []*optionRow
	for _, k := range r.Kinds() {
		spec := "`" + k.Name + ":" + k.Location + "`"
		if k.LocationOptional {
			spec = "`" + k.Name + "` or " + spec
		}
		what := k.What
		if len(k.Shorthands) > 0 {
			var forms []string
			for _, sh := range k.Shorthands {
				f := "`" + k.Name + ":" + sh.Form + "`"
				if sh.Note != "" {
					f += " (" + sh.Note + ")"
				}
				forms = append(forms, f)
			}
			what += ". Shorthands: " + strings.Join(forms, ", ")
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", spec, what, k.CanRecord)
	next:
		for _, o := range k.Options {
			for _, row := range opts {
				if row.opt == o {
					row.kinds = append(row.kinds, "`"+k.Name+"`")
					continue next
				}
			}
			opts = append(opts, &optionRow{o, []string{"`" + k.Name + "`"}})
		}
	}
	b.WriteString("\nSpec options; any other option is refused:\n\n| option | kinds | meaning |\n|---|---|---|\n")
	for _, row := range opts {
		fmt.Fprintf(&b, "| `%s=%s` | %s | %s |\n", row.opt.Name, row.opt.Value, strings.Join(row.kinds, ", "), row.opt.Meaning)
	}
	return b.String()
}
