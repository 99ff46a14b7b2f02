//go:build !unix

package main

import "os"

// Where there are no zombies to reap (the program runs in Linux pods; it
// builds elsewhere only so the module does), it just sleeps.
func notifyChild(chan<- os.Signal) {}

func isChild(os.Signal) bool { return false }

func reap() {}
