//go:build race

package main

// raceEnabled: the race detector's shadow memory multiplies what a
// process's RSS says about its own allocations.
const raceEnabled = true
