//go:build race

// Package testenv tells tests about the build they run in, and measures
// what they allocate.
package testenv

// RaceEnabled reports whether the race detector is on. It makes sync.Pool
// drop items at random, so allocation counts mean nothing under -race.
const RaceEnabled = true
