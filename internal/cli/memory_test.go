package cli

import (
	"runtime"
	"testing"
	"time"
)

// afterEachGC calls back after every collection with the live heap.
func TestAfterEachGC(t *testing.T) {
	seen := make(chan uint64, 100)
	afterEachGC(func(live, _ uint64) {
		select {
		case seen <- live:
		default:
		}
	})
	live := make([]byte, 8<<20)
	for i := range live {
		live[i] = byte(i)
	}
	deadline := time.After(10 * time.Second)
	for n := 0; n < 3; {
		runtime.GC()
		select {
		case v := <-seen:
			if v < 8<<20 {
				t.Fatalf("live heap %d with 8 MiB held", v)
			}
			n++
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("called back %d times after many collections", n)
		}
	}
	runtime.KeepAlive(live)
}

// The limit is the runtime's other memory, the live heap, a quarter of it
// and the fixed headroom.
func TestMemoryLimit(t *testing.T) {
	if got := memoryLimit(0, 0); got != heapHeadroom {
		t.Errorf("empty heap: %d", got)
	}
	if got, want := memoryLimit(100<<20, 10<<20), int64(135<<20+heapHeadroom); got != want {
		t.Errorf("100 MiB live, 10 MiB other: %d, want %d", got, want)
	}
}
