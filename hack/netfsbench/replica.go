//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// replica is one `pkgindex serve` process on a mount, with its memory
// sampled while it runs.
type replica struct {
	cmd     *exec.Cmd
	url     string // http://127.0.0.1:PORT/
	started time.Duration
	done    chan struct{}
	peakKiB atomic.Int64 // RssAnon + RssShmem, the largest sample
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
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	r := &replica{cmd: cmd, done: make(chan struct{})}
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case first <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
		logf.Close()
		close(r.done)
	}()
	go r.sample()
	select {
	case line := <-first:
		i := strings.Index(line, "http://")
		if i < 0 {
			r.stop()
			return nil, fmt.Errorf("unexpected first line of pkgindex serve: %q", line)
		}
		r.url = strings.TrimSpace(line[i:])
		r.started = time.Since(start)
		return r, nil
	case <-r.done:
		return nil, fmt.Errorf("pkgindex serve exited at start; see %s", logPath)
	case <-time.After(2 * time.Minute):
		r.stop()
		return nil, fmt.Errorf("pkgindex serve printed no URL within 2 minutes; see %s", logPath)
	case <-ctx.Done():
		r.stop()
		return nil, ctx.Err()
	}
}

// sample reads the process's anonymous and shared memory every 50 ms
// until it exits. Shared memory counts because the Go runtime may map
// its heap so; file-backed pages (the binary) do not.
func (r *replica) sample() {
	path := fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if kib, ok := anonKiB(path); ok && kib > r.peakKiB.Load() {
			r.peakKiB.Store(kib)
		}
		select {
		case <-r.done:
			return
		case <-t.C:
		}
	}
}

// anonKiB reads RssAnon + RssShmem from a /proc/PID/status file.
func anonKiB(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	var sum int64
	found := 0
	for line := range bytes.Lines(b) {
		for _, key := range []string{"RssAnon:", "RssShmem:"} {
			if rest, ok := bytes.CutPrefix(line, []byte(key)); ok {
				f := strings.Fields(string(rest))
				if len(f) > 0 {
					if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
						sum += n
						found++
					}
				}
			}
		}
	}
	return sum, found == 2
}

// stop ends the process with SIGTERM, then SIGKILL if it lingers.
func (r *replica) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
}
