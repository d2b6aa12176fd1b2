//go:build !race

package stores_test

const raceEnabled = false
