//go:build linux && !portable

package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"syscall"

	"golang.org/x/sys/unix"
)

// moreListener accepts TCP connections whose next write a handler can mark
// as followed by more.
type moreListener struct{ net.Listener }

func (l moreListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	mc := &moreConn{TCPConn: tc, raw: raw}
	mc.sendMoreFn, mc.settleFn = mc.sendMore, mc.settle
	return mc, nil
}

// moreConn is a TCP connection whose next write can be sent with MSG_MORE.
//
// For a download of more than a few KiB, the response headers are written
// first and sendfile then sends the file (with http.ServeContent, the
// headers come with the file's first 512 bytes). Written plainly, the
// headers leave as a packet of their own: on loopback, and on any fast
// network, that is a second trip through the TCP stack and a second wakeup
// of the client for every download. Sent with MSG_MORE, they wait in the
// socket for sendfile, whose last piece pushes everything out together.
//
// Only the goroutine serving the connection writes to it, and it is the
// one that runs the handler, so the fields need no lock.
type moreConn struct {
	*net.TCPConn
	raw   syscall.RawConn
	armed bool // the next Write is sent with MSG_MORE
	held  bool // bytes sent with MSG_MORE wait for a write that pushes them

	// The method values raw.Write and holdHeaders take, made once per
	// connection rather than once per response.
	sendMoreFn func(fd uintptr) bool
	settleFn   func()
	// What an armed Write sends, and how far it got.
	p   []byte
	n   int
	err error
}

type moreConnKey struct{}

// connContext makes a connection's moreConn reachable from its requests.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if mc, ok := c.(*moreConn); ok {
		return context.WithValue(ctx, moreConnKey{}, mc)
	}
	return ctx
}

// holdHeaders marks the next write of r's connection as followed by more,
// until the returned function runs; that function pushes out whatever is
// still held, so a response whose body never came (a HEAD, an error) is
// not delayed.
func holdHeaders(r *http.Request) func() {
	mc, _ := r.Context().Value(moreConnKey{}).(*moreConn)
	if mc == nil {
		return func() {}
	}
	mc.armed = true
	return mc.settleFn
}

func (c *moreConn) settle() {
	c.armed = false
	if c.held {
		c.push()
	}
}

// push sends what MSG_MORE held back: setting TCP_NODELAY, which Go sets on
// every connection anyway, pushes pending data out.
func (c *moreConn) push() {
	c.held = false
	_ = c.raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	})
}

func (c *moreConn) Write(p []byte) (int, error) {
	if !c.armed {
		c.held = false // a plain write pushes out what was held
		return c.TCPConn.Write(p)
	}
	c.armed = false
	c.p, c.n, c.err = p, 0, nil
	werr := c.raw.Write(c.sendMoreFn)
	n, err := c.n, c.err
	c.p, c.err = nil, nil
	if err == nil {
		err = werr
	}
	c.held = n > 0
	if err != nil {
		c.push()
		return n, &net.OpError{Op: "write", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
	}
	return n, nil
}

// sendMore sends c.p with MSG_MORE, as far as the socket takes it; false
// asks raw.Write to wait until the socket can take more.
func (c *moreConn) sendMore(fd uintptr) bool {
	for c.n < len(c.p) {
		m, e := unix.SendmsgN(int(fd), c.p[c.n:], nil, nil, unix.MSG_MORE|unix.MSG_NOSIGNAL)
		if e == unix.EAGAIN {
			return false
		}
		if e == unix.EINTR {
			continue
		}
		if e != nil {
			c.err = e
			return true
		}
		c.n += m
	}
	return true
}

func (c *moreConn) ReadFrom(r io.Reader) (int64, error) {
	c.armed = false
	n, err := c.TCPConn.ReadFrom(r)
	if c.held && (n == 0 || err != nil) {
		c.push() // nothing was sent after the held bytes
	}
	c.held = false
	return n, err
}
