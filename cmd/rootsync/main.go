// Command rootsync keeps a machine's trust stores in agreement.
package main

import (
	"os"

	"github.com/rootsync/rootsync/internal/cli"
)

func main() {
	cli.TuneMemory()
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
