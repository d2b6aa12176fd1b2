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

// The limit is the runtime's other memory, the live heap, and a quarter of
// it and the fixed headroom, or minHeadroom when that is more.
func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		live, other uint64
		want        int64
	}{
		{0, 0, minHeadroom},
		{0, 10 << 20, 10<<20 + minHeadroom},
		{100 << 20, 10 << 20, 110<<20 + minHeadroom},         // a quarter and 16 MiB is 41 MiB
		{128 << 20, 0, 128<<20 + minHeadroom},                // 48 MiB either way
		{200 << 20, 10 << 20, int64(260<<20 + heapHeadroom)}, // a quarter and 16 MiB is 66 MiB
		{1 << 30, 0, int64(1<<30 + 1<<30/4 + heapHeadroom)},
	} {
		if got := memoryLimit(c.live, c.other); got != c.want {
			t.Errorf("%d MiB live, %d MiB other: %d, want %d", c.live>>20, c.other>>20, got, c.want)
		}
	}
}
