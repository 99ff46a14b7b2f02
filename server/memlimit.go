package server

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// gcPercent is the server's default GOGC. Nearly all of its heap is the
// listing and the facts of every file, which live as long as the files
// do; the collector's default of letting the heap double before a cycle
// would cost that much memory again for nothing. Requests allocate little,
// and the facts hold no pointers for the collector to follow, so
// collecting at +20% costs little CPU: at 50,000 files the peak of
// anonymous memory is 29 MiB, against 31 MiB at +30% and more still at the
// default, for the same throughput and latency (hack/load.sh).
const gcPercent = 20

// TuneGC sets the server's collector defaults: GOGC 20 unless GOGC is set,
// and a memory limit from the cgroup (see SetMemoryLimit).
func TuneGC(getenv func(string) string, cgroupRoot string) (limit int64) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	return SetMemoryLimit(getenv, cgroupRoot)
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
