package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"

	"pkgindex.dev/pkgindex/server/simple"
	"pkgindex.dev/pkgindex/server/store"
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
	case errors.Is(err, store.ErrNotFound), errors.Is(err, fs.ErrNotExist), errors.Is(err, store.ErrOutsideRoot):
		he = &httpError{http.StatusNotFound, "not found"}
	case errors.Is(err, store.ErrBadPath):
		he = &httpError{http.StatusBadRequest, "invalid path"}
	case errors.Is(err, simple.ErrNotAcceptable):
		he = &httpError{http.StatusNotAcceptable, err.Error()}
	case errors.Is(err, context.Canceled):
		return // the client is gone
	case errors.Is(err, fs.ErrPermission):
		s.log.Error(err, "permission denied", "path", r.URL.Path)
		he = &httpError{http.StatusForbidden, "forbidden"}
	default:
		s.log.Error(err, "request failed", "method", r.Method, "path", r.URL.Path)
		he = &httpError{http.StatusInternalServerError, "internal error"}
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
