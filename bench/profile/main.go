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
	var w *watcher
	if *peak != "" {
		runtime.MemProfileRate = 64 << 10
		w = watch()
	}
	var rc *rssWatcher
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
		p, live := w.stop()
		fmt.Fprintf(os.Stderr, "profile: largest live heap seen %.1f MiB\n", float64(live)/(1<<20))
		if err := os.WriteFile(*peak, p, 0o644); err != nil {
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

// watcher samples the live heap (as of the last collection) and keeps the
// heap profile of the highest sample.
type watcher struct {
	done chan struct{}
	out  chan result
}

type result struct {
	profile []byte
	live    uint64
}

func watch() *watcher {
	w := &watcher{done: make(chan struct{}), out: make(chan result, 1)}
	go func() {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var best result
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				w.out <- best
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > best.live+best.live/20 {
				var b bytes.Buffer
				if pprof.Lookup("heap").WriteTo(&b, 0) == nil {
					best = result{b.Bytes(), v}
				}
			}
		}
	}()
	return w
}

func (w *watcher) stop() ([]byte, uint64) {
	close(w.done)
	r := <-w.out
	return r.profile, r.live
}

// rssWatcher samples the resident set size every 10 ms and keeps the
// runtime's memory classes read at the largest sample.
type rssWatcher struct {
	done chan struct{}
	out  chan string
}

func watchRSS() *rssWatcher {
	w := &rssWatcher{done: make(chan struct{}), out: make(chan string, 1)}
	var samples []metrics.Sample
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") || d.Name == "/gc/heap/live:bytes" {
			samples = append(samples, metrics.Sample{Name: d.Name})
		}
	}
	go func() {
		var best string
		var most int64
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				w.out <- best
				return
			case <-t.C:
			}
			if r := rss(); r > most {
				most = r
				metrics.Read(samples)
				var b strings.Builder
				fmt.Fprintf(&b, "profile: largest resident set %.1f MiB; then:\n", float64(r)/(1<<20))
				for _, s := range samples {
					if v := s.Value.Uint64(); v >= 1<<20 {
						fmt.Fprintf(&b, "  %-45s %7.1f MiB\n", s.Name, float64(v)/(1<<20))
					}
				}
				best = b.String()
			}
		}
	}()
	return w
}

func (w *rssWatcher) stop() string {
	close(w.done)
	return <-w.out
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
