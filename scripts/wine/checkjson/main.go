// Command checkjson reads `go test -json` output on stdin and fails unless
// every test named on the command line ran and passed and no test failed, so
// that a wrong build tag cannot pass as "no tests to run".
//
// Usage: go test -json ... | go run ./scripts/wine/checkjson TestA TestB/sub ...
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	want := os.Args[1:]
	if len(want) == 0 {
		fmt.Fprintln(os.Stderr, "checkjson: name the tests that must pass")
		os.Exit(2)
	}
	result := map[string]string{}
	var failed []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// go test prints build failures as plain text.
			fmt.Fprintln(os.Stderr, sc.Text())
			continue
		}
		if e.Action == "output" {
			fmt.Print(e.Output)
			continue
		}
		if e.Action != "pass" && e.Action != "fail" && e.Action != "skip" {
			continue
		}
		name := e.Test
		if name == "" {
			name = "package " + e.Package
		}
		result[name] = e.Action
		if e.Action == "fail" {
			failed = append(failed, name)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "checkjson:", err)
		os.Exit(1)
	}
	bad := false
	for _, w := range want {
		if got := result[w]; got != "pass" {
			if got == "" {
				got = "did not run"
			}
			fmt.Fprintf(os.Stderr, "checkjson: %s: %s, want pass\n", w, got)
			bad = true
		}
	}
	sort.Strings(failed)
	for _, f := range failed {
		fmt.Fprintf(os.Stderr, "checkjson: %s failed\n", f)
		bad = true
	}
	if bad || len(result) == 0 {
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "checkjson: %d named tests passed (%d results, none failed)\n", len(want), len(result))
}
