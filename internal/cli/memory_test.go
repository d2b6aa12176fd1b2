package cli

import (
	"runtime"
	"testing"
	"time"
)

// watchHeap calls back once the live heap passes the limit, and not before.
func TestWatchHeap(t *testing.T) {
	large := make(chan struct{}, 2)
	watchHeap(1<<40, func() { large <- struct{}{} })
	runtime.GC()
	runtime.GC()
	select {
	case <-large:
		t.Fatal("called back with a live heap far below the limit")
	case <-time.After(100 * time.Millisecond):
	}

	watchHeap(4<<20, func() { large <- struct{}{} })
	live := make([]byte, 8<<20)
	for i := range live {
		live[i] = byte(i)
	}
	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		runtime.GC()
		select {
		case <-large:
			done = true
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatal("not called back with a live heap above the limit")
		}
	}
	runtime.KeepAlive(live)
	runtime.GC()
	runtime.GC()
	select {
	case <-large:
		t.Fatal("called back twice")
	case <-time.After(100 * time.Millisecond):
	}
}
