// Package procmem reads a process's own memory from /proc (Linux), for the
// measuring programs under hack/.
package procmem

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Anon is the process's resident anonymous and shared memory in bytes
// (RssAnon + RssShmem): the part of its footprint that is its own doing,
// not the binary's pages or the page cache.
func Anon(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	var total int64
	for l := range strings.SplitSeq(string(b), "\n") {
		for _, key := range []string{"RssAnon:", "RssShmem:"} {
			if v, ok := strings.CutPrefix(l, key); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				total += kb << 10
			}
		}
	}
	return total, nil
}

// Peak samples Anon of the process every interval until the returned
// function is called, which returns the largest sample.
func Peak(pid int, every time.Duration) (stop func() int64) {
	var peak atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if m, err := Anon(pid); err == nil && m > peak.Load() {
				peak.Store(m)
			}
			select {
			case <-done:
				return
			case <-time.After(every):
			}
		}
	}()
	return func() int64 {
		close(done)
		<-sampled
		return peak.Load()
	}
}

// MiB is n bytes in mebibytes, for printing.
func MiB(n int64) float64 { return float64(n) / (1 << 20) }
