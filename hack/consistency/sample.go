package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sample is one look at the replicas and at the operations that ended
// since the previous look.
type Sample struct {
	At   time.Duration // since the clients started
	RSS  []int         // KiB per replica (0: down)
	FDs  []int         // open file descriptors per replica
	Ops  int           // operations that ended in the interval
	P50  time.Duration // of the interval's list and download operations
	P99  time.Duration
	Errs int // of the interval's operations, those with no answer or a 5xx
}

// sampler prints a Sample every interval until ctx ends, and keeps them.
func (w *workload) sampler(ctx context.Context, every time.Duration, out io.Writer) []Sample {
	start := time.Now()
	seen := 0
	var samples []Sample
	fmt.Fprintf(out, "%8s %6s %8s %8s %5s  %s\n", "at", "ops", "p50", "p99", "errs", "per replica: RSS MiB / open fds")
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return samples
		case <-t.C:
		}
		s := Sample{At: time.Since(start).Round(time.Second)}
		w.h.mu.Lock()
		recent := slices.Clone(w.h.events[seen:])
		seen = len(w.h.events)
		w.h.mu.Unlock()
		var lat []time.Duration
		for _, e := range recent {
			if e.Status == 0 || e.Status >= 500 {
				s.Errs++
			}
			if e.Op == opList || e.Op == opDownload {
				lat = append(lat, e.End.Sub(e.Start))
			}
		}
		s.Ops = len(recent)
		s.P50, s.P99 = percentile(lat, 50), percentile(lat, 99)
		var reps []string
		for _, r := range w.reps {
			rss, fds := r.usage()
			s.RSS, s.FDs = append(s.RSS, rss), append(s.FDs, fds)
			reps = append(reps, fmt.Sprintf("%5.1f / %4d", float64(rss)/1024, fds))
		}
		samples = append(samples, s)
		fmt.Fprintf(out, "%8s %6d %8s %8s %5d  %s\n", s.At, s.Ops, s.P50.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), s.Errs, strings.Join(reps, "   "))
	}
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, len(d)*p/100)]
}

// usage reads the replica's resident memory (KiB) and open descriptors.
func (r *replica) usage() (rss, fds int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return 0, 0
	}
	pid := r.cmd.Process.Pid
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				if f := strings.Fields(v); len(f) > 0 {
					rss, _ = strconv.Atoi(f[0])
				}
			}
		}
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		fds = len(ents)
	}
	return rss, fds
}

// printSoak sums up the samples: growth of memory and descriptors from
// the first sample to the last, and the worst p99.
func printSoak(out io.Writer, samples []Sample) {
	if len(samples) < 2 {
		return
	}
	first, last := samples[0], samples[len(samples)-1]
	worst := time.Duration(0)
	for _, s := range samples {
		worst = max(worst, s.P99)
	}
	for i := range first.RSS {
		fmt.Fprintf(out, "replica %d: RSS %.1f → %.1f MiB, open fds %d → %d (%s → %s)\n", i,
			float64(first.RSS[i])/1024, float64(last.RSS[i])/1024, first.FDs[i], last.FDs[i], first.At, last.At)
	}
	fmt.Fprintf(out, "read p99 per interval: worst %s, last %s\n", worst.Round(10*time.Microsecond), last.P99.Round(10*time.Microsecond))
}
