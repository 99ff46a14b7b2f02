// Package serveproc starts `pkgindex serve` processes for the programs
// under hack/ and reads the URL each prints first on its standard output.
package serveproc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"
)

// Proc is a started server process.
type Proc struct {
	Cmd *exec.Cmd
	// Done is closed once the process has exited and its output is read.
	Done  chan struct{}
	first chan string
}

// Start starts cmd, whose standard output must be unset: its first line is
// kept for URL and the rest discarded, so the process never blocks on a
// full pipe. closeOnExit, when not nil (a log file cmd writes to), is
// closed once the process has exited.
func Start(cmd *exec.Cmd, closeOnExit io.Closer) (*Proc, error) {
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		if closeOnExit != nil {
			closeOnExit.Close()
		}
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	p := &Proc{Cmd: cmd, Done: make(chan struct{}), first: make(chan string, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case p.first <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
		if closeOnExit != nil {
			closeOnExit.Close()
		}
		close(p.Done)
	}()
	return p, nil
}

// URL waits at most wait for the URL the server prints first, as printed
// (http://host:port/). When it cannot tell one (the process exited, printed
// something else, took too long, or ctx ended), it kills the process, if
// still running, and says why.
func (p *Proc) URL(ctx context.Context, wait time.Duration) (string, error) {
	select {
	case line := <-p.first:
		i := strings.Index(line, "http://")
		if i < 0 {
			p.Cmd.Process.Kill()
			return "", fmt.Errorf("unexpected first line of pkgindex serve: %q", line)
		}
		return strings.Fields(line[i:])[0], nil
	case <-p.Done:
		return "", fmt.Errorf("pkgindex serve exited at start")
	case <-time.After(wait):
		p.Cmd.Process.Kill()
		return "", fmt.Errorf("pkgindex serve printed no URL within %v", wait)
	case <-ctx.Done():
		p.Cmd.Process.Kill()
		return "", ctx.Err()
	}
}
