// Command consistency checks the claim pkgindex is built on: every replica
// over one shared directory answers as fresh as the directory, and nothing
// is lost. It starts N `pkgindex serve` processes on one root, drives
// concurrent clients that upload, remove, yank, unyank, list and download
// through random replicas, records every operation with its start and end,
// and then checks the history:
//
//   - a listing that starts after a write returned reflects that write (or
//     a later one), on every replica;
//   - no listing shows a file whose download fails or whose bytes differ
//     from the digest listed, or from every upload of that name;
//   - no upload that returned 2xx is missing, unless a removal followed;
//   - no two uploads of one file both succeed.
//
// It prints the counts and exits 1 on any violation. With -kill N it
// SIGKILLs a replica N times during the run and restarts it on the same
// address, so the others keep serving and the restarted one rejoins.
//
//	go run ./hack/consistency -replicas 3 -clients 16 -duration 60s
//	go run ./hack/consistency -duration 60s -kill 2
//	go run ./hack/consistency -clients 50 -duration 5m -sample 15s -versions 300   # make soak
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var cfg Config
	flag.StringVar(&cfg.Binary, "bin", "", "pkgindex binary to run (default: build one from this module)")
	flag.StringVar(&cfg.Tags, "tags", "", "build tags when building the binary (stalecache: the deliberately stale variant)")
	flag.StringVar(&cfg.Root, "root", "", "shared root directory (default: a new temporary one)")
	flag.IntVar(&cfg.Replicas, "replicas", 3, "server processes on the one root")
	flag.IntVar(&cfg.Clients, "clients", 8, "concurrent clients")
	flag.IntVar(&cfg.Projects, "projects", 3, "projects the clients share (fewer: more conflicts)")
	flag.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long the clients run")
	flag.IntVar(&cfg.Kills, "kill", 0, "SIGKILL a replica this many times during the run, restarting it each time")
	flag.IntVar(&cfg.Versions, "versions", 0, "most versions per project, then uploads reuse names (0: no limit)")
	flag.DurationVar(&cfg.Sample, "sample", 0, "print RSS, open fds and read latency of the replicas at this interval (soak)")
	flag.StringVar(&cfg.Layout, "layout", "", "the replicas' --layout: any or per-project (default: the server's)")
	flag.BoolVar(&cfg.Verbose, "v", false, "print every violation, not only the first ones")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := Run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "consistency:", err)
		os.Exit(2)
	}
	res.Print(os.Stdout, cfg.Verbose)
	if len(res.Violations) > 0 {
		os.Exit(1)
	}
}
