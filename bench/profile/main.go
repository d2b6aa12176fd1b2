// Command profile runs one rootsync command in-process under the Go CPU
// profiler (and optionally writes heap profiles), so that the scale
// benchmarks can show where time and memory go. It runs exactly what the
// rootsync binary runs; it adds no behaviour of its own.
//
// Usage: go run ./bench/profile [-cpuprofile cpu.out] [-memprofile mem.out] [-peakprofile peak.out] -- COMMAND ARGS...
//
// -memprofile writes the heap profile after the command: its alloc_space
// sample says what allocated the most over the run. -peakprofile watches
// the live heap every 20 ms and keeps the heap profile taken at its highest
// point: its inuse_space sample says what was held when memory peaked.
// -rssclasses prints, on standard error, how the Go runtime's memory was made
// up (runtime/metrics /memory/classes/...) when the resident set size was
// largest: live objects against free heap kept from earlier collections.
// Then: go tool pprof -top cpu.out, go tool pprof -sample_index=alloc_space
// -top mem.out, go tool pprof -sample_index=inuse_space -top peak.out.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/rootsync/rootsync/internal/cli"
)

func main() {
	cpu := flag.String("cpuprofile", "", "write a CPU profile to this file")
	mem := flag.String("memprofile", "", "write a heap profile (after the command) to this file")
	peak := flag.String("peakprofile", "", "write the heap profile taken when the live heap was largest to this file")
	classes := flag.Bool("rssclasses", false, "print the runtime's memory classes at the largest resident set size")
	flag.Parse()
	cli.TuneMemory()
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
	}
	var w *sampler[heapPeak]
	if *peak != "" {
		runtime.MemProfileRate = 64 << 10
		w = watchHeap()
	}
	var rc *sampler[string]
	if *classes {
		rc = watchRSS()
	}
	code := cli.Main(flag.Args(), os.Stdout, os.Stderr)
	if rc != nil {
		fmt.Fprint(os.Stderr, rc.stop())
	}
	if *cpu != "" {
		pprof.StopCPUProfile()
	}
	if w != nil {
		p := w.stop()
		fmt.Fprintf(os.Stderr, "profile: largest live heap seen %.1f MiB\n", float64(p.live)/(1<<20))
		if err := os.WriteFile(*peak, p.profile, 0o644); err != nil {
			fail(err)
		}
	}
	if *mem != "" {
		f, err := os.Create(*mem)
		if err == nil {
			runtime.GC()
			err = pprof.WriteHeapProfile(f)
			f.Close()
		}
		if err != nil {
			fail(err)
		}
	}
	os.Exit(code)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "profile:", err)
	os.Exit(1)
}

// sampler calls a function every period, in its own goroutine, until stop;
// the function keeps what it wants in the value stop returns.
type sampler[T any] struct {
	done chan struct{}
	out  chan T
}

func sample[T any](period time.Duration, tick func(best *T)) *sampler[T] {
	s := &sampler[T]{done: make(chan struct{}), out: make(chan T, 1)}
	go func() {
		var best T
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				s.out <- best
				return
			case <-t.C:
				tick(&best)
			}
		}
	}()
	return s
}

func (s *sampler[T]) stop() T {
	close(s.done)
	return <-s.out
}

// heapPeak is the heap profile taken at the largest live heap seen.
type heapPeak struct {
	profile []byte
	live    uint64
}

// watchHeap samples the live heap (as of the last collection) every 20 ms
// and keeps the heap profile of the highest sample.
func watchHeap() *sampler[heapPeak] {
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	return sample(20*time.Millisecond, func(best *heapPeak) {
		metrics.Read(live)
		if v := live[0].Value.Uint64(); v > best.live+best.live/20 {
			var b bytes.Buffer
			if pprof.Lookup("heap").WriteTo(&b, 0) == nil {
				*best = heapPeak{b.Bytes(), v}
			}
		}
	})
}

// watchRSS samples the resident set size every 10 ms and keeps the
// runtime's memory classes read at the largest sample, as text.
func watchRSS() *sampler[string] {
	var classes []metrics.Sample
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") || d.Name == "/gc/heap/live:bytes" {
			classes = append(classes, metrics.Sample{Name: d.Name})
		}
	}
	var most int64
	return sample(10*time.Millisecond, func(best *string) {
		r := rss()
		if r <= most {
			return
		}
		most = r
		metrics.Read(classes)
		var b strings.Builder
		fmt.Fprintf(&b, "profile: largest resident set %.1f MiB; then:\n", float64(r)/(1<<20))
		for _, c := range classes {
			if v := c.Value.Uint64(); v >= 1<<20 {
				fmt.Fprintf(&b, "  %-45s %7.1f MiB\n", c.Name, float64(v)/(1<<20))
			}
		}
		*best = b.String()
	})
}

// rss is the resident set size in bytes (Linux: /proc/self/statm).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		return 0
	}
	return resident * int64(os.Getpagesize())
}
