package store

import (
	"sync/atomic"
	"time"
)

// CheckBuckets are the upper bounds, in seconds, of the directory check
// histogram: from a local disk's tens of microseconds, through an NFS
// round trip's milliseconds, to a mount slow enough to time requests out.
var CheckBuckets = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Histogram counts durations into CheckBuckets without locks; a metrics
// exporter reads it at scrape time.
type Histogram struct {
	counts [len(CheckBuckets) + 1]atomic.Uint64 // the last: above every bound
	sumNs  atomic.Int64
}

// Observe counts one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(CheckBuckets) && s > CheckBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

// Read returns how many durations were counted, their sum in seconds, and
// for each bound in CheckBuckets how many were at most that long.
func (h *Histogram) Read() (count uint64, sum float64, cumulative map[float64]uint64) {
	cumulative = make(map[float64]uint64, len(CheckBuckets))
	for i, le := range CheckBuckets {
		count += h.counts[i].Load()
		cumulative[le] = count
	}
	count += h.counts[len(CheckBuckets)].Load()
	return count, time.Duration(h.sumNs.Load()).Seconds(), cumulative
}
