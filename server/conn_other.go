//go:build !linux || portable

package server

import (
	"context"
	"net"
	"net/http"
)

// moreListener accepts connections as they are: without Linux's MSG_MORE,
// a download's headers leave as a packet of their own ahead of the file
// (one more trip through the TCP stack and one more wakeup of the client
// per download; the bytes are the same).
type moreListener struct{ net.Listener }

// connContext leaves a connection's context as it is.
func connContext(ctx context.Context, _ net.Conn) context.Context { return ctx }

// holdHeaders holds nothing; it returns a function that does nothing.
func holdHeaders(*http.Request) func() { return settled }

func settled() {}
