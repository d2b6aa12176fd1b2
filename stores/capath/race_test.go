//go:build race

package capath

// raceEnabled: the race detector runs, and sync.Pool drops some of what
// is put in it, so that allocation counts are not what they are in a build.
const raceEnabled = true
