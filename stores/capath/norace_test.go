//go:build !race

package capath

const raceEnabled = false
