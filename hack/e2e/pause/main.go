// Command pause is the process that holds a pod sandbox's namespaces open:
// it sleeps until it is told to stop. The e2e cluster cannot pull
// registry.k8s.io/pause, so it builds this into an image of its own
// (go run ./hack/image -pause).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	// As PID 1 of a sandbox it also inherits orphans; with a shared process
	// namespace they must not linger as zombies.
	notifyChild(sig)
	for s := range sig {
		if !isChild(s) {
			return
		}
		reap()
	}
}
