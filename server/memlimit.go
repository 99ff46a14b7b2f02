package server

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
)

// gcPercent is the server's GOGC once the heap is past heapFloor. Nearly
// all of its heap is the listing and the facts of every file, which live
// as long as the files do; the collector's default of letting the heap
// double before a cycle would cost that much memory again for nothing: at
// 50,000 files the peak of anonymous memory is 29 MiB at +20%, against 31
// MiB at +30% and more still at the default (hack/load.sh).
const gcPercent = 20

// heapFloor is the heap the collector lets the server reach before +20%
// decides. The runtime's own floor, 4 MiB at GOGC 100, shrinks with GOGC
// to 0.8 MiB at 20, so a small index collected every few hundred requests:
// at 5,000 files, downloads ran 718 cycles in 11 s and 9% slower than with
// this floor, which ran 88 (17.7 MiB of anonymous memory against 8.4 MiB).
// It is below the heap of an index of 50,000 files, whose memory has a
// target, so it never raises the peak of an index that size or larger,
// where +20% is above it (hack/netfsbench: 30.9 MiB with it, 31.0 without).
const heapFloor = 12 << 20

// maxGCPercent keeps the runtime's own floor, 4 MiB times GOGC/100, at or
// below heapFloor.
const maxGCPercent = 100 * heapFloor / (4 << 20)

// TuneGC sets the server's collector defaults unless GOGC is set: after
// every cycle, GOGC is what lets the heap left live grow to heapFloor, or
// by 20%, whichever is more. It also sets a memory limit from the cgroup
// (see SetMemoryLimit).
func TuneGC(getenv func(string) string, cgroupRoot string) (limit int64) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercentFor(0))
		keepHeapFloor()
	}
	return SetMemoryLimit(getenv, cgroupRoot)
}

// gcPercentFor is the GOGC that lets a heap of live bytes grow to
// heapFloor, within [gcPercent, maxGCPercent].
func gcPercentFor(live uint64) int {
	if live >= heapFloor {
		return gcPercent
	}
	if live == 0 {
		return maxGCPercent
	}
	return max(gcPercent, min(maxGCPercent, int(((heapFloor-live)*100+live-1)/live)))
}

// gcTick is an object that lives until the next cycle, whose finalizer
// runs after it. It has a pointer so that it is not one of the tiny
// objects the runtime packs together, which may never be finalized.
type gcTick struct{ _ *byte }

// keepHeapFloor sets GOGC from gcPercentFor after every cycle, until stop
// is called. It changes GOGC only when the percentage moves by more than a
// few points, so a steady heap does not touch it every cycle.
func keepHeapFloor() (stop func()) {
	var stopped atomic.Bool
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/gogc:percent"}}
	metrics.Read(sample) // GOGC as it is now
	current := -1
	if sample[1].Value.Kind() == metrics.KindUint64 {
		current = int(sample[1].Value.Uint64())
	}
	var tick func(*gcTick)
	tick = func(*gcTick) {
		if stopped.Load() {
			return
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := gcPercentFor(sample[0].Value.Uint64()); p > current+2 || p < current-2 || (p == gcPercent) != (current == gcPercent) {
				debug.SetGCPercent(p)
				current = p
			}
		}
		runtime.SetFinalizer(&gcTick{}, tick)
	}
	runtime.SetFinalizer(&gcTick{}, tick)
	return func() { stopped.Store(true) }
}

// memoryLimitShare is the part of a container's memory limit the Go heap
// may grow to before the collector works harder; the rest covers the
// binary's pages, stacks and the kernel's buffers.
const memoryLimitShare = 0.8

// SetMemoryLimit tells the Go runtime about the memory limit of the cgroup
// the server runs in, so that under a tight limit (a 64 MiB pod) the
// collector runs more often instead of the kernel killing the process.
// GOMEMLIMIT, when set, wins. It returns the limit set, 0 for none.
func SetMemoryLimit(getenv func(string) string, cgroupRoot string) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0
	}
	limit := cgroupMemoryLimit(cgroupRoot)
	if limit <= 0 {
		return 0
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	return soft
}

// cgroupMemoryLimit reads the memory limit of this process's cgroup, v2 or
// v1, below root (normally /sys/fs/cgroup); 0 when there is none.
func cgroupMemoryLimit(root string) int64 {
	for _, f := range []string{"memory.max", "memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0
		}
		n, err := strconv.ParseInt(s, 10, 64)
		// cgroup v1 reports "no limit" as a huge page-aligned number.
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0
		}
		return n
	}
	return 0
}
