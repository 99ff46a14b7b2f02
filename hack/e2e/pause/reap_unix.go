//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

func notifyChild(c chan<- os.Signal) { signal.Notify(c, syscall.SIGCHLD) }

func isChild(s os.Signal) bool { return s == syscall.SIGCHLD }

// reap collects every child that has exited.
func reap() {
	for {
		pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
