//go:build race

package stores_test

// raceEnabled: the race detector is on, and sync.Pool drops some of what is
// put back, so allocations are not counted.
const raceEnabled = true
