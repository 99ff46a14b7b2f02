package server

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestCgroupMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		want                int64
	}{
		{"v2 limit", "memory.max", "67108864\n", 64 << 20},
		{"v2 none", "memory.max", "max\n", 0},
		{"v1 limit", "memory/memory.limit_in_bytes", "134217728\n", 128 << 20},
		{"v1 none", "memory/memory.limit_in_bytes", "9223372036854771712\n", 0},
		{"garbage", "memory.max", "lots", 0},
		{"absent", "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.file != "" {
				must(t, os.MkdirAll(filepath.Dir(filepath.Join(root, tc.file)), 0o755))
				must(t, os.WriteFile(filepath.Join(root, tc.file), []byte(tc.content), 0o644))
			}
			if got := cgroupMemoryLimit(root); got != tc.want {
				t.Errorf("limit %d, want %d", got, tc.want)
			}
		})
	}
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, "memory.max"), []byte("67108864"), 0o644))
	if got := SetMemoryLimit(func(k string) string { return map[string]string{"GOMEMLIMIT": "1GiB"}[k] }, root); got != 0 {
		t.Errorf("GOMEMLIMIT set, yet a limit was set: %d", got)
	}
}

func TestGCPercentFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, maxGCPercent},
		{1 << 20, maxGCPercent},              // the runtime's own floor, 4 MiB x GOGC/100, is heapFloor
		{heapFloor / 4, maxGCPercent},        // +300% is heapFloor
		{heapFloor / 2, 100},                 // +100% is heapFloor
		{heapFloor * 2 / 3, 50},              // +50%
		{heapFloor - heapFloor/6, gcPercent}, // +20% is heapFloor
		{heapFloor - 1, gcPercent},           // never below +20%
		{heapFloor, gcPercent},
		{100 * heapFloor, gcPercent}, // a large listing: +20%
	} {
		got := gcPercentFor(tc.live)
		if got != tc.want {
			t.Errorf("gcPercentFor(%d) = %d, want %d", tc.live, got, tc.want)
		}
		// The heap may always grow to heapFloor, and by 20% beyond it.
		if goal := tc.live + tc.live*uint64(got)/100; tc.live > heapFloor/4 && goal < min(heapFloor, tc.live) || goal < tc.live+tc.live/5 {
			t.Errorf("gcPercentFor(%d) = %d: the heap may grow only to %d", tc.live, got, goal)
		}
	}
	if floor := 4 << 20 * maxGCPercent / 100; floor > heapFloor {
		t.Errorf("at GOGC %d the runtime's own floor is %d, above %d", maxGCPercent, floor, heapFloor)
	}
}

// After a cycle, GOGC follows the heap left live: up to heapFloor over a
// small heap, +20% over a large one.
func TestKeepHeapFloor(t *testing.T) {
	old := debug.SetGCPercent(gcPercent)
	stop := keepHeapFloor()
	t.Cleanup(func() {
		stop()
		debug.SetGCPercent(old)
	})
	gogc := func() int {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return int(s[0].Value.Uint64())
	}
	waitFor := func(what string, ok func(int) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok(gogc()) {
			if time.Now().After(deadline) {
				t.Fatalf("GOGC %d, want %s", gogc(), what)
			}
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("above 20 over the test's small heap", func(p int) bool { return p > gcPercent })
	big := make([]*[1 << 20]byte, 10*heapFloor>>20) // live, in pieces the collector must mark
	for i := range big {
		big[i] = new([1 << 20]byte)
	}
	waitFor("20 over ten times heapFloor live", func(p int) bool { return p == gcPercent })
	runtime.KeepAlive(big)
	big = nil
	waitFor("above 20 again once the heap is small", func(p int) bool { return p > gcPercent })
}
