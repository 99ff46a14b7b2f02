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
// Writers (-writers) change the root itself meanwhile, as another NFS
// client or a sync job would: they copy files in (written to a hidden name,
// renamed into place), write them in place, remove them, move them to
// other names and directories and add removed names again. Each change is
// in the history as a write, held to the same rules.
//
// It prints the counts and exits 1 on any violation. With -kill N it
// SIGKILLs a replica N times during the run and restarts it on the same
// address, so the others keep serving and the restarted one rejoins.
//
// With -netfs each replica serves its own mount of the root through the
// NFS-like FUSE rig (hack/netfs), a separate client with 30 s attribute and
// name caches and -latency per round trip, while the writers change the
// root behind the mounts. Every second restart after a kill gets a new
// mount, with cold caches.
//
//	go run ./hack/consistency -replicas 3 -clients 16 -duration 60s
//	go run ./hack/consistency -duration 60s -kill 2
//	go run ./hack/consistency -netfs -latency 1ms -duration 60s -kill 4 -layout per-project
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
	flag.IntVar(&cfg.Writers, "writers", 2, "writers that change the root itself (cp, in-place writes, rm, mv), not through a replica")
	flag.BoolVar(&cfg.NetFS, "netfs", false, "serve each replica its own NFS-like FUSE mount of the root (hack/netfs); needs /dev/fuse")
	flag.DurationVar(&cfg.Latency, "latency", time.Millisecond, "with -netfs: round-trip time charged per file system request")
	flag.BoolVar(&cfg.Verbose, "v", false, "print every violation, not only the first ones")
	flag.StringVar(&cfg.History, "history", "", "write the history to this file, one event per line as JSON")
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
