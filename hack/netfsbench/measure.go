//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"pkgindex.dev/pkgindex/hack/netfs"
)

const jsonAccept = "application/vnd.pypi.simple.v1+json"

// get fetches u, reads the whole body and fails on any status but 200.
func get(ctx context.Context, client *http.Client, u, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return b, nil
}

// firstFile returns the URL of the first file a project page lists.
func firstFile(ctx context.Context, client *http.Client, page string) (string, error) {
	b, err := get(ctx, client, page, jsonAccept)
	if err != nil {
		return "", err
	}
	var p struct {
		Files []struct {
			URL string `json:"url"`
		} `json:"files"`
	}
	if err := json.Unmarshal(b, &p); err != nil || len(p.Files) == 0 {
		return "", fmt.Errorf("%s lists no files (%v)", page, err)
	}
	base, err := url.Parse(page)
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(p.Files[0].URL)
	if err != nil {
		return "", err
	}
	return base.ResolveReference(ref).String(), nil
}

// settled waits until the mount's counters stop moving (the kernel sends
// RELEASE after close returns) and returns them.
func settled(c *netfs.Client) netfs.Stats {
	prev := c.Stats()
	for range 100 {
		time.Sleep(10 * time.Millisecond)
		s := c.Stats()
		if maps.Equal(s.Ops, prev.Ops) {
			return s
		}
		prev = s
	}
	return prev
}

// quiet waits until c has received no request for the length of still, at
// most limit, and returns how long it waited: what a server does behind
// its answers (writing the records of facts it computed) must end before
// single requests are counted.
func quiet(c *netfs.Client, still, limit time.Duration) time.Duration {
	start := time.Now()
	prev, since := c.Stats(), time.Now()
	for time.Since(start) < limit {
		time.Sleep(50 * time.Millisecond)
		s := c.Stats()
		if !maps.Equal(s.Ops, prev.Ops) {
			prev, since = s, time.Now()
			continue
		}
		if time.Since(since) >= still {
			return since.Sub(start)
		}
	}
	return time.Since(start)
}

// counted is one request's cost on the file server.
type counted struct {
	stats netfs.Stats
	took  time.Duration
}

// countOne resets the counters, makes one request and returns what it
// cost once the file system is quiet again.
func countOne(ctx context.Context, client *http.Client, c *netfs.Client, u, accept string) (counted, error) {
	settled(c)
	c.Reset()
	start := time.Now()
	if _, err := get(ctx, client, u, accept); err != nil {
		return counted{}, err
	}
	took := time.Since(start)
	return counted{settled(c), took}, nil
}

// endpoint is one request measured alone.
type endpoint struct {
	name, url, accept string

	samples []netfs.Stats   // single requests on an idle server
	times   []time.Duration // sequential requests, sorted
	seq     netfs.Stats     // the file system's counts over the sequential run
	// Processor time per sequential request: the server's, and this
	// process's (the rig's daemon and the client). With both on the same
	// processors, their sum over the processors is the floor of the
	// request's time here, whatever the round trips.
	serverCPU, benchCPU time.Duration
}

// measure counts samples single requests after a warm-up, then times n
// sequential ones.
func (e *endpoint) measure(ctx context.Context, client *http.Client, c *netfs.Client, serverPID, samples, n int) error {
	if _, err := get(ctx, client, e.url, e.accept); err != nil {
		return err
	}
	for range samples {
		r, err := countOne(ctx, client, c, e.url, e.accept)
		if err != nil {
			return err
		}
		e.samples = append(e.samples, r.stats)
	}
	settled(c)
	c.Reset()
	server := strconv.Itoa(serverPID)
	srv0, self0 := cpuTime(server), cpuTime("self")
	for range n {
		start := time.Now()
		if _, err := get(ctx, client, e.url, e.accept); err != nil {
			return err
		}
		e.times = append(e.times, time.Since(start))
	}
	e.serverCPU = (cpuTime(server) - srv0) / time.Duration(n)
	e.benchCPU = (cpuTime("self") - self0) / time.Duration(n)
	e.seq = settled(c)
	slices.Sort(e.times)
	return nil
}

// median returns the sample with the median number of round trips, and
// the smallest and largest number.
func median(samples []netfs.Stats) (netfs.Stats, uint64, uint64) {
	s := slices.Clone(samples)
	slices.SortFunc(s, func(a, b netfs.Stats) int { return int(a.RoundTrips) - int(b.RoundTrips) })
	return s[len(s)/2], s[0].RoundTrips, s[len(s)-1].RoundTrips
}

// quantile of sorted durations.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(q*float64(len(d))+0.999999) - 1
	return d[max(0, min(i, len(d)-1))]
}

// load is a run of concurrent clients.
type load struct {
	conns     int
	duration  time.Duration
	requests  int
	errors    int
	times     []time.Duration
	roundTrip uint64
	inFlight  int64
	// Processor time over the run: the server's, and this process's (the
	// rig's daemon and the clients), to tell what bounds the throughput.
	serverCPU, benchCPU time.Duration
	// busy is the share of the machine's processors in use over the run.
	busy float64
}

// cpuTime is the processor time (user and system) process pid has used.
func cpuTime(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// machineBusy reads the processors' busy and total jiffies.
func machineBusy() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// runLoad has conns clients request urls in turn, each on its own
// connection, for d; requests still running at the end are not counted.
func runLoad(ctx context.Context, c *netfs.Client, urls []string, conns int, d time.Duration, serverPID int) load {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, DisableCompression: true}}
	defer client.CloseIdleConnections()
	settled(c)
	c.Reset()
	var mu sync.Mutex
	l := load{conns: conns, duration: d}
	server := strconv.Itoa(serverPID)
	srv0, self0 := cpuTime(server), cpuTime("self")
	busy0, total0 := machineBusy()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			var times []time.Duration
			errs := 0
			for i := w; ctx.Err() == nil; i += conns {
				start := time.Now()
				_, err := get(ctx, client, urls[i%len(urls)], "")
				if ctx.Err() != nil {
					break
				}
				if err != nil {
					errs++
					continue
				}
				times = append(times, time.Since(start))
			}
			mu.Lock()
			l.times = append(l.times, times...)
			l.errors += errs
			mu.Unlock()
		})
	}
	wg.Wait()
	l.serverCPU, l.benchCPU = cpuTime(server)-srv0, cpuTime("self")-self0
	if busy1, total1 := machineBusy(); total1 > total0 {
		l.busy = float64(busy1-busy0) / float64(total1-total0)
	}
	s := c.Stats()
	l.requests = len(l.times)
	l.roundTrip = s.RoundTrips
	l.inFlight = s.MaxInFlight
	slices.Sort(l.times)
	return l
}

// metrics reads the counters without labels from a server's /metrics.
func metrics(ctx context.Context, client *http.Client, base string) (map[string]float64, error) {
	b, err := get(ctx, client, base+"metrics", "")
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || strings.HasPrefix(f[0], "#") || strings.Contains(f[0], "{") {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			m[f[0]] = v
		}
	}
	return m, nil
}
