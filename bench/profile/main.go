// Command profile runs one rootsync command in-process under the Go CPU
// profiler (and optionally writes a heap profile at the end), so that the
// scale benchmarks can show where time goes. It runs exactly what the
// rootsync binary runs; it adds no behaviour of its own.
//
// Usage: go run ./bench/profile -cpuprofile cpu.out [-memprofile mem.out] -- COMMAND ARGS...
// Then: go tool pprof -top cpu.out
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/rootsync/rootsync/internal/cli"
)

func main() {
	cpu := flag.String("cpuprofile", "", "write a CPU profile to this file")
	mem := flag.String("memprofile", "", "write a heap profile (after the command) to this file")
	flag.Parse()
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			os.Exit(1)
		}
	}
	code := cli.Main(flag.Args(), os.Stdout, os.Stderr)
	if *cpu != "" {
		pprof.StopCPUProfile()
	}
	if *mem != "" {
		f, err := os.Create(*mem)
		if err == nil {
			runtime.GC()
			err = pprof.WriteHeapProfile(f)
			f.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "profile:", err)
			os.Exit(1)
		}
	}
	os.Exit(code)
}
