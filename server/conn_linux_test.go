//go:build linux && !portable

package server

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// connPair returns both ends of a loopback TCP connection, the server's
// accepted as pkgindex serve accepts them.
func connPair(t *testing.T) (*moreConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { ln.Close() })
	client, err := net.Dial("tcp", ln.Addr().String())
	must(t, err)
	t.Cleanup(func() { client.Close() })
	sc, err := moreListener{ln}.Accept()
	must(t, err)
	t.Cleanup(func() { sc.Close() })
	return sc.(*moreConn), client
}

// notSent is how many bytes c has queued but not yet sent.
func notSent(t *testing.T, c *moreConn) uint32 {
	t.Helper()
	var n uint32
	err := c.raw.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			t.Fatal(err)
		}
		n = info.Notsent_bytes
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Headers written with MSG_MORE wait in the socket (the kernel's own count
// of unsent bytes shows them), and whatever follows them, or the end of the
// handler, pushes them out: no response is left waiting for a timer.
func TestHeldHeadersArePushed(t *testing.T) {
	dir := t.TempDir()
	body := bytes.Repeat([]byte("0123456789"), 1000)
	file := filepath.Join(dir, "f")
	empty := filepath.Join(dir, "empty")
	must(t, os.WriteFile(file, body, 0o644))
	must(t, os.WriteFile(empty, nil, 0o644))
	sendFile := func(path string) func(c *moreConn) error {
		return func(c *moreConn) error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = c.ReadFrom(f)
			return err
		}
	}
	for _, tc := range []struct {
		name string
		then func(c *moreConn) error // after the held write
		want []byte                  // after the headers
	}{
		{"the file follows by sendfile", sendFile(file), body},
		{"an empty file follows", sendFile(empty), nil},
		{"a plain write follows", func(c *moreConn) error { _, err := c.Write([]byte("tail")); return err }, []byte("tail")},
		{"nothing follows, the handler ends", func(c *moreConn) error { c.settle(); return nil }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, client := connPair(t)
			headers := []byte("HTTP/1.1 200 OK\r\n\r\n")
			c.armed = true
			if _, err := c.Write(headers); err != nil {
				t.Fatal(err)
			}
			if n := notSent(t, c); n != uint32(len(headers)) {
				t.Fatalf("after the held write %d bytes are unsent, want %d", n, len(headers))
			}
			must(t, tc.then(c))
			if n := notSent(t, c); n != 0 {
				t.Fatalf("%d bytes still unsent", n)
			}
			want := append(append([]byte{}, headers...), tc.want...)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("client read %d bytes (%v), want %d", len(got), err, len(want))
			}
		})
	}
}

// A connection not armed writes as any other.
func TestUnarmedWritesAreSent(t *testing.T) {
	c, _ := connPair(t)
	if _, err := c.Write([]byte("plain")); err != nil {
		t.Fatal(err)
	}
	if n := notSent(t, c); n != 0 {
		t.Fatalf("%d bytes of a plain write unsent", n)
	}
}
