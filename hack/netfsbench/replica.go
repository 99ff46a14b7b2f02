//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"pkgindex.dev/pkgindex/hack/procmem"
	"pkgindex.dev/pkgindex/hack/serveproc"
)

// replica is one `pkgindex serve` process on a mount, with its memory
// sampled while it runs.
type replica struct {
	cmd     *exec.Cmd
	url     string // http://127.0.0.1:PORT/
	started time.Duration
	done    chan struct{}
	// peak stops the sampling of RssAnon + RssShmem and returns the
	// largest sample; stop calls it and keeps the answer in peakBytes.
	peak      func() int64
	peakBytes int64
}

// startReplica runs bin serve on root and waits for the URL it prints.
func startReplica(ctx context.Context, bin, root, logPath string, procs int, extra ...string) (*replica, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"serve", "--root", root, "--listen", "127.0.0.1:0", "--log-level", "warn"}, extra...)...)
	cmd.Stderr = logf
	if procs > 0 {
		cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(procs))
	}
	start := time.Now()
	p, err := serveproc.Start(cmd, logf)
	if err != nil {
		return nil, err
	}
	// Sampled from the start, every 50 ms: the first scan counts too.
	// Shared memory counts because the Go runtime may map its heap so;
	// file-backed pages (the binary) do not.
	r := &replica{cmd: cmd, done: p.Done, peak: procmem.Peak(cmd.Process.Pid, 50*time.Millisecond)}
	r.url, err = p.URL(ctx, 2*time.Minute)
	if err != nil {
		r.stop()
		return nil, fmt.Errorf("%w; see %s", err, logPath)
	}
	r.started = time.Since(start)
	return r, nil
}

// stop ends the process with SIGTERM, then SIGKILL if it lingers, and
// ends the sampling of its memory.
func (r *replica) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
	if r.peak != nil {
		r.peakBytes, r.peak = r.peak(), nil
	}
}
