package admin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the side a program reads as its
// terminal, and the side that types into it.
func openPTY(t *testing.T) (tty, typist *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	// Through the raw descriptor: Fd would make reads blocking, and the
	// test reads the typing side with a deadline.
	rc, err := ptmx.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	rc.Control(func(fd uintptr) {
		if err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); err == nil {
			n, err = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty, ptmx
}

// syncBuffer is written by the command while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPasswordAskedOnTerminal runs yank with no PKGINDEX_PASSWORD on a
// pseudo-terminal: the password is asked for, typed, not echoed, and used.
func TestPasswordAskedOnTerminal(t *testing.T) {
	index := newIndex(t)
	tty, typist := openPTY(t)
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(context.Background(), "yank", []string{"--index", index, "--user", "alice", "demo", "1.0", "--reason", "bad"},
			envOf(), Streams{Stdin: tty, Stdout: &out, Stderr: &errOut})
	}()
	// The line is typed once the terminal stops echoing, as a person
	// types after the prompt.
	for {
		tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("exit %d before asking: %q", code, errOut.String())
		case <-time.After(time.Millisecond):
		}
	}
	if !strings.Contains(errOut.String(), "Password for alice: ") {
		t.Errorf("no prompt: %q", errOut.String())
	}
	if _, err := typist.WriteString("s3cret\n"); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 0 || !strings.Contains(out.String(), "yanked demo-1.0-py3-none-any.whl") {
		t.Fatalf("exit %d, %q %q", code, out.String(), errOut.String())
	}
	// Whatever the terminal echoed is readable on the typing side.
	typist.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	echo := make([]byte, 256)
	n, _ := typist.Read(echo)
	if strings.Contains(string(echo[:n]), "s3cret") {
		t.Errorf("the password was echoed: %q", echo[:n])
	}
}
