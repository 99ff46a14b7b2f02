//go:build linux

// Command netfsbench measures pkgindex on storage that behaves like NFS or
// EFS: it generates a package tree (hack/gentree), mounts it through the
// NFS-like rig (hack/netfs) with a round-trip latency, runs `pkgindex
// serve` on the mount and prints, as Markdown:
//
//   - for /simple/, a project page, a large project's page and a download:
//     the file system requests one request costs, by type, and the p50 and
//     p99 latency of sequential requests;
//   - throughput of concurrent clients over many project pages;
//   - a cold replica: start-up, the first /packages/ (which digests every
//     file) with the files it hashed, then a second replica, a separate NFS
//     client, doing the same; and each replica's peak anonymous memory.
//
// Everything runs on 127.0.0.1 and is bounded by -timeout. It needs root
// (or fusermount) and /dev/fuse, and so Linux. Example:
//
//	go run ./hack/netfsbench -files 50000 -projects 2000 -big 500 -layout per-project -requests 20
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"pkgindex.dev/pkgindex/hack/netfs"
)

// config is the run's shape, from flags.
type config struct {
	files, projects, big int
	layout               string
	serverLayout         string
	latency              time.Duration
	samples, requests    int
	conns                int
	duration             time.Duration
	procs                int
	work                 string
	keep                 bool
	timeout              time.Duration
}

func main() {
	var cfg config
	flag.IntVar(&cfg.files, "files", 5000, "distribution files, spread evenly over -projects")
	flag.IntVar(&cfg.projects, "projects", 200, "projects (in the per-project layout, directories): e.g. 200, 2000, 20000")
	flag.IntVar(&cfg.big, "big", 500, "files of one more, large project (0: none)")
	flag.StringVar(&cfg.layout, "layout", "flat", "tree layout: flat or per-project")
	flag.StringVar(&cfg.serverLayout, "server-layout", "", "the server's --layout (default: per-project for a per-project tree, any for a flat one)")
	flag.DurationVar(&cfg.latency, "latency", time.Millisecond, "round-trip time of the simulated file server")
	flag.IntVar(&cfg.samples, "samples", 5, "single requests counted per endpoint")
	flag.IntVar(&cfg.requests, "requests", 200, "sequential requests timed per endpoint")
	flag.IntVar(&cfg.conns, "conns", 32, "concurrent connections of the throughput run")
	flag.DurationVar(&cfg.duration, "duration", 8*time.Second, "length of the throughput run")
	flag.IntVar(&cfg.procs, "server-procs", 0, "GOMAXPROCS of the server (0: Go's default, every CPU)")
	flag.StringVar(&cfg.work, "work", "", "work directory (default: a new temporary one, removed at the end)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory (tree, server logs)")
	flag.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "give up after this long")
	flag.Parse()
	if cfg.files < cfg.projects || cfg.projects < 1 || cfg.big < 0 || cfg.samples < 1 || cfg.requests < 1 || cfg.conns < 1 ||
		(cfg.layout != "flat" && cfg.layout != "per-project") {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		log.Print(err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config, out io.Writer) (err error) {
	work := cfg.work
	if work == "" {
		if work, err = os.MkdirTemp("", "netfsbench-"); err != nil {
			return err
		}
		if !cfg.keep {
			defer os.RemoveAll(work)
		}
	}
	progress := func(format string, args ...any) { log.Printf(format, args...) }

	progress("building pkgindex and gentree")
	bin, gentree := filepath.Join(work, "pkgindex"), filepath.Join(work, "gentree")
	for _, b := range [][2]string{{bin, "pkgindex.dev/pkgindex"}, {gentree, "pkgindex.dev/pkgindex/hack/gentree"}} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b[0], b[1])
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if o, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", b[1], err, o)
		}
	}
	version, _ := exec.Command(bin, "version").Output()

	tree := filepath.Join(work, "tree")
	var written time.Time // when the tree was last changed; zero if reused
	if _, err := os.Stat(tree); err != nil {
		progress("writing the tree: %d files in %d projects, %s, plus %d in %s", cfg.files, cfg.projects, cfg.layout, cfg.big, bigProject)
		cmd := exec.CommandContext(ctx, gentree, "-files", fmt.Sprint(cfg.files), "-projects", fmt.Sprint(cfg.projects),
			"-big", fmt.Sprint(cfg.big), "-layout", cfg.layout, "-out", tree)
		if o, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("gentree: %w\n%s", err, o)
		}
		written = time.Now()
	}

	// The server trusts a cached listing or digest only for what changed
	// at least --timestamp-guard (2 s) before it was read; a tree written a
	// moment ago would be read and digested anew on every request.
	select {
	case <-time.After(time.Until(written.Add(3 * time.Second))):
	case <-ctx.Done():
		return ctx.Err()
	}

	// Two clients of one server: one per replica.
	var clients [2]*netfs.Client
	for i := range clients {
		dir := filepath.Join(work, "mnt", fmt.Sprint(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := netfs.Cleanup(dir); err != nil {
			return err
		}
		c, err := netfs.Mount(tree, dir, netfs.Options{Latency: cfg.latency})
		if err != nil {
			return err
		}
		defer func() {
			if uerr := c.Unmount(); uerr != nil && err == nil {
				err = uerr
			}
		}()
		clients[i] = c
	}

	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()

	progress("replica 1: starting cold")
	r1, cold1, err := coldReplica(ctx, cfg, client, bin, clients[0], filepath.Join(work, "replica-1.log"))
	if err != nil {
		return err
	}
	defer r1.stop()

	project := "project-0007"
	if cfg.projects <= 7 {
		project = "project-0000"
	}
	endpoints := []*endpoint{
		{name: "/simple/", url: r1.url + "simple/"},
		{name: fmt.Sprintf("/simple/%s/ (%d files)", project, perProject(cfg, 7%cfg.projects)), url: r1.url + "simple/" + project + "/"},
	}
	if cfg.big > 0 {
		endpoints = append(endpoints, &endpoint{name: fmt.Sprintf("/simple/%s/ (%d files)", bigProject, cfg.big), url: r1.url + "simple/" + bigProject + "/"})
	}
	dl, err := firstFile(ctx, client, endpoints[1].url)
	if err != nil {
		return err
	}
	endpoints = append(endpoints, &endpoint{name: "download of one file of " + project, url: dl})
	for _, e := range endpoints {
		progress("replica 1: %d counted and %d timed requests of %s", cfg.samples, cfg.requests, e.name)
		if err := e.measure(ctx, client, clients[0], r1.cmd.Process.Pid, cfg.samples, cfg.requests); err != nil {
			return err
		}
	}

	var pages []string
	for i := range min(100, cfg.projects) {
		pages = append(pages, fmt.Sprintf("%ssimple/project-%04d/", r1.url, i))
	}
	progress("replica 1: %d connections over %d project pages for %v", cfg.conns, len(pages), cfg.duration)
	ld := runLoad(ctx, clients[0], pages, cfg.conns, cfg.duration, r1.cmd.Process.Pid)
	if ctx.Err() != nil {
		return ctx.Err()
	}

	progress("replica 2: starting cold on a second client")
	r2, cold2, err := coldReplica(ctx, cfg, client, bin, clients[1], filepath.Join(work, "replica-2.log"))
	if err != nil {
		return err
	}
	r2.stop()
	r1.stop()
	cold1.peakKiB, cold2.peakKiB = r1.peakBytes>>10, r2.peakBytes>>10

	report(out, cfg, strings.TrimSpace(string(version)), endpoints, ld, len(pages), []coldRun{cold1, cold2})
	if cfg.keep {
		fmt.Fprintf(out, "\nWork directory kept: %s\n", work)
	}
	return nil
}

// bigProject names the project gentree's -big adds.
const bigProject = "big-project"

// perProject is how many files gentree gave project i.
func perProject(cfg config, i int) int {
	n := cfg.files / cfg.projects
	if i < cfg.files%cfg.projects {
		n++
	}
	return n
}

// coldRun is a replica's start on a client that has not yet been used.
type coldRun struct {
	started     time.Duration // until it printed its URL
	first       time.Duration // until its first /simple/ was answered
	firstStats  netfs.Stats   // file system requests from start to that answer
	packages    time.Duration // GET /packages/: every file listed, with digests
	background  time.Duration // file system requests after it: the facts recorded
	pkgStats    netfs.Stats
	hashed      float64 // files digested (cache misses)
	recorded    float64 // of those, answered from an upload's record
	hashedBytes float64
	peakKiB     int64
	// Processor time over the first /packages/: the replica's, and the
	// rig's and client's, which share the machine's processors with it.
	serverCPU, benchCPU time.Duration
}

// coldReplica starts a server on c and times its first answers.
func coldReplica(ctx context.Context, cfg config, client *http.Client, bin string, c *netfs.Client, logPath string) (*replica, coldRun, error) {
	var run coldRun
	c.Reset()
	start := time.Now()
	layout := cfg.serverLayout
	if layout == "" {
		layout = map[bool]string{true: "per-project", false: "any"}[cfg.layout == "per-project"]
	}
	r, err := startReplica(ctx, bin, c.Dir, logPath, cfg.procs, "--layout", layout)
	if err != nil {
		return nil, run, err
	}
	run.started = r.started
	if _, err := get(ctx, client, r.url+"simple/", ""); err != nil {
		r.stop()
		return nil, run, err
	}
	run.first = time.Since(start)
	run.firstStats = settled(c)
	server := strconv.Itoa(r.cmd.Process.Pid)
	srv0, self0 := cpuTime(server), cpuTime("self")
	res, err := countOne(ctx, client, c, r.url+"packages/", "")
	run.serverCPU, run.benchCPU = cpuTime(server)-srv0, cpuTime("self")-self0
	if err != nil {
		r.stop()
		return nil, run, err
	}
	run.packages, run.pkgStats = res.took, res.stats
	m, err := metrics(ctx, client, r.url)
	if err != nil {
		r.stop()
		return nil, run, err
	}
	run.background = quiet(c, 2*time.Second, 5*time.Minute)
	run.hashed = m["pkgindex_digest_cache_misses_total"]
	run.recorded = m["pkgindex_digest_cache_recorded_total"]
	run.hashedBytes = m["pkgindex_hashed_bytes_total"]
	return r, run, nil
}

// kernelRelease names the running kernel, whose FUSE is being measured.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

func report(w io.Writer, cfg config, version string, endpoints []*endpoint, ld load, pages int, cold []coldRun) {
	procs := "Go's default (every CPU)"
	if cfg.procs > 0 {
		procs = fmt.Sprint(cfg.procs)
	}
	fmt.Fprintf(w, "## pkgindex on an NFS-like mount\n\n")
	fmt.Fprintf(w, "- tree: %d files in %d projects, %s layout", cfg.files, cfg.projects, cfg.layout)
	if cfg.big > 0 {
		fmt.Fprintf(w, ", plus %s with %d files", bigProject, cfg.big)
	}
	fmt.Fprintf(w, " (hack/gentree)\n")
	var rt netfs.Stats
	for _, e := range endpoints {
		rt = netfs.Sum(rt, e.seq)
	}
	measured := ""
	if rt.RoundTrips > 0 && cfg.latency > 0 {
		measured = fmt.Sprintf(" (%s measured: the timer's overshoot)", ms(rt.Waited/time.Duration(rt.RoundTrips)))
	}
	fmt.Fprintf(w, "- storage: hack/netfs, %v per round trip%s, attribute and name caches 30 s, no negative cache (lookupcache=positive); one client per replica\n", cfg.latency, measured)
	fmt.Fprintf(w, "- server: %s, GOMAXPROCS %s; %d CPUs shared with the rig and the clients; Linux %s\n\n", version, procs, runtime.NumCPU(), kernelRelease())

	fmt.Fprintf(w, "### One request at a time (replica warm: every file already digested)\n\n")
	fmt.Fprintf(w, "| request | file system requests per HTTP request | round trips | p50 | p99 | server CPU | rig and client CPU |\n|---|---|---:|---:|---:|---:|---:|\n")
	for _, e := range endpoints {
		m, lo, hi := median(e.samples)
		rt := fmt.Sprint(m.RoundTrips)
		if lo != hi {
			rt = fmt.Sprintf("%d (%d–%d)", m.RoundTrips, lo, hi)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", e.name, opsText(m.Ops), rt, ms(quantile(e.times, .5)), ms(quantile(e.times, .99)), ms(e.serverCPU), ms(e.benchCPU))
	}
	fmt.Fprintf(w, "\nFile system requests: what the rig received for one request on an idle server after a warm-up request (the median of %d by round trips; a range means they differed). Round trips: those requests an NFS client waits for, %v each here; FORGET, FLUSH, RELEASE and RELEASEDIR are not. p50 and p99: over %d sequential requests on one connection. CPU: processor time per sequential request; the rig runs on the same %d processors, so a request cannot take less than the sum over %d.\n\n",
		cfg.samples, cfg.latency, cfg.requests, runtime.NumCPU(), runtime.NumCPU())

	fmt.Fprintf(w, "### Concurrent clients\n\n")
	fmt.Fprintf(w, "| workload | requests/s | p50 | p99 | errors | round trips per request | most file system requests in flight | server CPU per request | rig and clients CPU per request | machine busy |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	perReq := 0.0
	if ld.requests > 0 {
		perReq = float64(ld.roundTrip) / float64(ld.requests)
	}
	perCPU := func(d time.Duration) string {
		if ld.requests == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(ld.requests))
	}
	fmt.Fprintf(w, "| %d connections, project pages of %d projects in turn, %v | %.0f | %s | %s | %d | %.1f | %d | %s | %s | %.0f%% |\n\n",
		ld.conns, pages, ld.duration, float64(ld.requests)/ld.duration.Seconds(), ms(quantile(ld.times, .5)), ms(quantile(ld.times, .99)),
		ld.errors, perReq, ld.inFlight, perCPU(ld.serverCPU), perCPU(ld.benchCPU), 100*ld.busy)

	fmt.Fprintf(w, "### Cold replicas\n\n")
	fmt.Fprintf(w, "| replica | URL printed | first /simple/ answered (round trips) | first GET /packages/ (round trips) | server CPU, rig and client CPU during it | files digested (from upload records) | bytes read to digest | peak RssAnon+RssShmem |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, c := range cold {
		name := "1: first on the tree"
		if i > 0 {
			name = fmt.Sprintf("%d: started after replica 1, on its own client", i+1)
		}
		fmt.Fprintf(w, "| %s | %s | %s (%d) | %s (%d) | %s, %s | %.0f (%.0f) | %.1f MiB | %.1f MiB |\n", name, ms(c.started), ms(c.first), c.firstStats.RoundTrips,
			ms(c.packages), c.pkgStats.RoundTrips, ms(c.serverCPU), ms(c.benchCPU), c.hashed, c.recorded, c.hashedBytes/(1<<20), float64(c.peakKiB)/1024)
	}
	fmt.Fprintln(w)
	for i, c := range cold {
		fmt.Fprintf(w, "- replica %d, first GET /packages/: %s; the server then went on writing records of the facts it computed for %s\n", i+1, opsText(c.pkgStats.Ops), c.background.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "\nTimes from the process's start. /packages/ lists every file with its digest, so a cold replica digests the whole tree; the counts are the server's (pkgindex_digest_cache_misses_total, _recorded_total, pkgindex_hashed_bytes_total). Peak memory: sampled every 50 ms over the replica's life (replica 1: through every measurement above).\n")
}

// opsText lists operation counts, largest first.
func opsText(ops map[string]uint64) string {
	type kv struct {
		k string
		v uint64
	}
	var l []kv
	for k, v := range ops {
		l = append(l, kv{k, v})
	}
	if len(l) == 0 {
		return "none"
	}
	slices.SortFunc(l, func(a, b kv) int {
		if c := cmp.Compare(b.v, a.v); c != 0 {
			return c
		}
		return strings.Compare(a.k, b.k)
	})
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %d", e.k, e.v)
	}
	return b.String()
}

// ms formats a duration in milliseconds with a precision fit for it.
func ms(d time.Duration) string {
	switch f := float64(d) / 1e6; {
	case f < 10:
		return fmt.Sprintf("%.2f ms", f)
	case f < 1000:
		return fmt.Sprintf("%.0f ms", f)
	default:
		return fmt.Sprintf("%.1f s", f/1000)
	}
}
