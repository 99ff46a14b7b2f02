package process

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/test/harness"
)

// anonKiB is a process's anonymous memory (RssAnon + RssShmem) in KiB: what
// it allocated itself, as opposed to the pages of its binary and of files,
// which the kernel can drop and reread.
func anonKiB(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	harness.Must(b, err)
	var kib float64
	for _, l := range strings.Split(string(data), "\n") {
		for _, field := range []string{"RssAnon:", "RssShmem:"} {
			if v, ok := strings.CutPrefix(l, field); ok {
				n, err := strconv.Atoi(strings.Fields(v)[0])
				harness.Must(b, err)
				kib += float64(n)
			}
		}
	}
	return kib
}

// BenchmarkHeldConnections reports what a connection held open with a
// half-sent request costs the server: each round starts a server, holds a
// thousand such connections and reports the growth of its anonymous memory
// per connection (about 16 KiB is a goroutine and its read buffer; under
// the race detector each byte costs several).
//
//	go test -run '^$' -bench HeldConnections ./test/process
func BenchmarkHeldConnections(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc")
	}
	const n = 1000
	root := b.TempDir()
	pkgtest.Wheel(b, root, pkgtest.Spec{Name: "demo", Version: "1.0"})
	var total float64
	rounds := 0
	for b.Loop() {
		b.StopTimer()
		cmd, base := harness.StartProcess(b, "--root", root, "--header-timeout", "1m")
		harness.Get(b, base+"/simple/demo/", "") // the first page, and its buffers, before measuring
		before := anonKiB(b, cmd.Process.Pid)
		b.StartTimer()
		conns := holdConnections(b, base, n)
		if code, _ := harness.Get(b, base+"/simple/demo/", ""); code != 200 {
			b.Fatalf("with %d connections held: %d", n, code)
		}
		b.StopTimer()
		total += (anonKiB(b, cmd.Process.Pid) - before) / n
		rounds++
		for _, c := range conns {
			c.Close()
		}
		harness.Must(b, cmd.Process.Kill())
		cmd.Wait()
		b.StartTimer()
	}
	b.ReportMetric(total/float64(rounds), "KiB/conn")
}
