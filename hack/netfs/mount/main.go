//go:build linux

// Command mount mounts a directory through the NFS-like rig several times,
// one mount per simulated NFS client, and serves their request counters:
//
//	go run ./hack/netfs/mount -latency 1ms -mounts 3 -stats 127.0.0.1:18490 BACKING MNTBASE
//
// mounts BACKING at MNTBASE/0, MNTBASE/1 and MNTBASE/2 and prints them, one
// a line. GET /counts on the stats address answers the counters as JSON,
// per mount and in total; POST /reset zeroes them. SIGINT or SIGTERM
// unmounts everything and exits.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"pkgindex.dev/pkgindex/hack/netfs"
)

func main() {
	var opts netfs.Options
	flag.DurationVar(&opts.Latency, "latency", time.Millisecond, "round-trip time charged per metadata request")
	flag.DurationVar(&opts.AttrTimeout, "attr-timeout", 0, "attribute cache lifetime (0: 30s, negative: none)")
	flag.DurationVar(&opts.EntryTimeout, "entry-timeout", 0, "name cache lifetime (0: 30s, negative: none)")
	flag.DurationVar(&opts.NegativeTimeout, "negative-timeout", 0, "lifetime of a cached missing name (0: none, as lookupcache=positive)")
	flag.BoolVar(&opts.Debug, "debug", false, "log every FUSE request")
	mounts := flag.Int("mounts", 1, "number of mounts (NFS clients)")
	stats := flag.String("stats", "", "loopback address to serve the counters on, e.g. 127.0.0.1:18490 (empty: none)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [flags] BACKING MNTBASE\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 || *mounts < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Arg(1), *mounts, *stats, opts); err != nil {
		log.Fatal(err)
	}
}

func run(backing, base string, n int, statsAddr string, opts netfs.Options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var ln net.Listener
	if statsAddr != "" {
		host, _, err := net.SplitHostPort(statsAddr)
		if err != nil {
			return fmt.Errorf("-stats %s: %w", statsAddr, err)
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("-stats %s: not a loopback address", statsAddr)
		}
		if ln, err = net.Listen("tcp", statsAddr); err != nil {
			return fmt.Errorf("-stats: %w", err)
		}
		defer ln.Close()
	}

	var clients []*netfs.Client
	// Whatever happens from here on, nothing stays mounted.
	defer func() {
		for _, c := range clients {
			if err := c.Unmount(); err != nil {
				log.Print(err)
			}
		}
	}()
	for i := range n {
		dir := filepath.Join(base, strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		// A mount left by a run that was killed would make this one fail.
		if err := netfs.Cleanup(dir); err != nil {
			return err
		}
		c, err := netfs.Mount(backing, dir, opts)
		if err != nil {
			return err
		}
		clients = append(clients, c)
		fmt.Println(c.Dir)
	}

	if ln != nil {
		srv := &http.Server{Handler: handler(clients), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		fmt.Fprintf(os.Stderr, "counters at http://%s/counts\n", ln.Addr())
	}
	<-ctx.Done()
	return nil
}

// report is the answer of GET /counts.
type report struct {
	Mounts []mountStats `json:"mounts"`
	// Total adds up every mount's counts; its MaxInFlight is the largest
	// of any one mount.
	Total netfs.Stats `json:"total"`
}

type mountStats struct {
	Dir string `json:"dir"`
	netfs.Stats
}

func handler(clients []*netfs.Client) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /counts", func(w http.ResponseWriter, r *http.Request) {
		var rep report
		var all []netfs.Stats
		for _, c := range clients {
			s := c.Stats()
			all = append(all, s)
			rep.Mounts = append(rep.Mounts, mountStats{Dir: c.Dir, Stats: s})
		}
		rep.Total = netfs.Sum(all...)
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil && !errors.Is(err, net.ErrClosed) {
			log.Print(err)
		}
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		for _, c := range clients {
			c.Reset()
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}
