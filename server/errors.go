package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"syscall"
	"time"

	"pkgindex.dev/pkgindex/server/auth"
	"pkgindex.dev/pkgindex/server/recorder"
	"pkgindex.dev/pkgindex/server/simple"
	"pkgindex.dev/pkgindex/server/store"
	"pkgindex.dev/pkgindex/server/tokens"
	"pkgindex.dev/pkgindex/server/upstream"
)

// httpError is an error that knows the status it answers with. Its message
// is shown to the client, so it never holds a path on the server.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s", e.code, e.msg) }

func errorf(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// fail is the one place an error becomes a response.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
	case errors.Is(err, auth.ErrUnauthorized):
		auth.Challenge(w)
		he = &httpError{http.StatusUnauthorized, err.Error()}
	case errors.Is(err, auth.ErrForbidden):
		he = &httpError{http.StatusForbidden, err.Error()}
	case errors.Is(err, store.ErrExists):
		msg := "File already exists: " + strings.TrimSuffix(err.Error(), ": "+store.ErrExists.Error())
		if !s.cfg.Overwrite {
			msg += " (the server does not overwrite files)"
		}
		he = &httpError{http.StatusConflict, msg}
	case errors.Is(err, store.ErrReadOnly):
		he = &httpError{http.StatusForbidden, "the file is in a root that is not written to"}
	case errors.Is(err, store.ErrNotFound), errors.Is(err, fs.ErrNotExist), errors.Is(err, store.ErrOutsideRoot):
		he = &httpError{http.StatusNotFound, "not found"}
	case errors.Is(err, store.ErrBadPath):
		he = &httpError{http.StatusBadRequest, "invalid path"}
	case errors.Is(err, upstream.ErrNotFound):
		he = &httpError{http.StatusNotFound, "not found"}
	case errors.Is(err, upstream.ErrDigest):
		s.log.Error(err, "upstream file failed its digest check; nothing kept", "path", r.URL.Path)
		he = &httpError{http.StatusBadGateway, "the upstream's file does not match the digest its page listed"}
	case errors.Is(err, upstream.ErrUnavailable), errors.Is(err, upstream.ErrTooLarge):
		he = &httpError{http.StatusBadGateway, "the upstream index failed, try again"}
	case errors.Is(err, simple.ErrNotAcceptable):
		he = &httpError{http.StatusNotAcceptable, err.Error()}
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		// The client can do nothing but try later; 507 says so, where a
		// 500 would suggest a bug.
		s.log.Error(err, "storage full", "method", r.Method, "path", tokens.Redact(r.URL.Path))
		he = &httpError{http.StatusInsufficientStorage, "Insufficient storage: the index has no space left for this file; try again later"}
	case errors.Is(err, syscall.EROFS):
		s.log.Error(err, "storage read-only", "method", r.Method, "path", tokens.Redact(r.URL.Path))
		he = &httpError{http.StatusServiceUnavailable, "The index's storage is read-only: it serves packages but accepts no changes now"}
	case errors.Is(err, context.Canceled):
		return // the client is gone
	case errors.Is(err, fs.ErrPermission):
		s.log.Error(err, "permission denied", "path", tokens.Redact(r.URL.Path))
		he = &httpError{http.StatusForbidden, "forbidden"}
	default:
		s.log.Error(err, "request failed", "method", r.Method, "path", tokens.Redact(r.URL.Path))
		he = &httpError{http.StatusInternalServerError, "internal error"}
	}
	if r.Method == http.MethodPost && writeWithReason(w, r, he.code, he.msg) {
		return
	}
	h := w.Header()
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Del("Cache-Control")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(he.code)
	fmt.Fprintln(w, he.msg)
}

// writeWithReason answers a refused upload with its message as the status
// line's reason phrase, as PyPI does: twine and poetry show the reason
// phrase, not the body, so "409 File already exists: x.whl" tells the user
// what "409 Conflict" would not. net/http only writes standard phrases, so
// the connection is taken over for this one answer and then closed (the
// rest of an upload body is not worth reading). It reports false where
// that is not possible (HTTP/2, a test recorder).
func writeWithReason(w http.ResponseWriter, r *http.Request, code int, msg string) bool {
	if r.ProtoMajor != 1 {
		return false
	}
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	defer conn.Close()
	// Tell the middleware (metrics, access log) what the answer was.
	recorder.Hijacked(w, code)
	reason := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return ' '
		}
		return r
	}, truncate(msg, 300))
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", code, reason)
	fmt.Fprintf(buf, "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: %d\r\nConnection: close\r\n", len(msg)+1)
	if code == http.StatusUnauthorized {
		fmt.Fprintf(buf, "WWW-Authenticate: %s\r\n", auth.WWWAuthenticate)
	}
	fmt.Fprintf(buf, "\r\n%s\n", msg)
	buf.Flush()
	// A refusal may come before the client has sent its whole body.
	// Closing with unread data makes the kernel reset the connection, and
	// the client may never see the answer; so stop sending, then read and
	// drop what still comes, for a little while.
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(drainTime))
	io.Copy(io.Discard, io.LimitReader(buf, drainBytes))
	return true
}

// How long, and how much, of an unread request body is drained after a
// refusal before the connection is closed.
const (
	drainTime  = 2 * time.Second
	drainBytes = 256 << 20
)
