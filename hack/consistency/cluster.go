package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"pkgindex.dev/pkgindex/hack/serveproc"

	"golang.org/x/crypto/bcrypt"
)

// Build compiles the pkgindex binary of this module into out, with the
// given build tags (empty for none).
func Build(ctx context.Context, tags, out string) error {
	args := []string{"build", "-o", out}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "pkgindex.dev/pkgindex")...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -tags %q: %w\n%s", tags, err, b)
	}
	return nil
}

// The one user the clients write as.
const (
	user     = "checker"
	password = "checker-secret"
)

// writeHtpasswd writes a password file holding the checker's user.
func writeHtpasswd(path string) error {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return fmt.Errorf("hashing the password: %w", err)
	}
	return os.WriteFile(path, []byte(user+":"+string(h)+"\n"), 0o600)
}

// replica is one `pkgindex serve` process. Its address stays the same over
// restarts, so clients keep their list of replicas.
type replica struct {
	id     int
	bin    string
	args   []string
	logDir string

	mu   sync.Mutex
	cmd  *exec.Cmd
	addr string // host:port, fixed at the first start
	done chan struct{}
}

// start runs the process and waits until it prints its URL.
func (r *replica) start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	listen := "127.0.0.1:0"
	if r.addr != "" {
		listen = r.addr
	}
	logf, err := os.OpenFile(filepath.Join(r.logDir, fmt.Sprintf("replica-%d.log", r.id)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("replica %d log: %w", r.id, err)
	}
	// Not CommandContext: the process is stopped by stop or kill, and a
	// cancelled run must still stop it gracefully.
	cmd := exec.Command(r.bin, append([]string{"serve", "--listen", listen}, r.args...)...)
	cmd.Stderr = logf
	p, err := serveproc.Start(cmd, logf)
	if err != nil {
		return fmt.Errorf("replica %d: %w", r.id, err)
	}
	u, err := p.URL(ctx, 20*time.Second)
	if err != nil {
		return fmt.Errorf("replica %d: %w; see %s", r.id, err, logf.Name())
	}
	if r.addr == "" {
		r.addr = strings.TrimSuffix(strings.TrimPrefix(u, "http://"), "/")
	}
	r.cmd, r.done = cmd, p.Done
	return nil
}

// kill ends the process with SIGKILL, as a crashed node or an OOM kill
// would, and waits for it to be gone.
func (r *replica) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

// stop ends the process with SIGTERM and reports whether it exited 0
// within the grace period.
func (r *replica) stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return nil
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
		return fmt.Errorf("replica %d did not stop within 30s of SIGTERM", r.id)
	}
	st := r.cmd.ProcessState
	r.cmd = nil
	if st == nil || !st.Success() {
		return fmt.Errorf("replica %d exited with %v after SIGTERM", r.id, st)
	}
	return nil
}

// startAll starts a replica of bin for each set of arguments.
func startAll(ctx context.Context, bin string, args [][]string, logDir string) ([]*replica, error) {
	var reps []*replica
	for i, a := range args {
		r := &replica{id: i, bin: bin, args: a, logDir: logDir}
		if err := r.start(ctx); err != nil {
			for _, s := range reps {
				s.kill()
			}
			return nil, err
		}
		reps = append(reps, r)
	}
	return reps, nil
}

// stopAll stops every replica and joins their errors.
func stopAll(reps []*replica) error {
	var errs []error
	for _, r := range reps {
		errs = append(errs, r.stop())
	}
	return errors.Join(errs...)
}
