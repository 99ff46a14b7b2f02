package server

import (
	"fmt"
	"net/http"

	"pkgindex.dev/pkgindex/server/tokens"
)

// recoverPanics turns a panic in a handler into a logged 500, so one bad
// request cannot take the process down. http.ErrAbortHandler, the
// standard way to drop a connection, passes through.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error(fmt.Errorf("panic: %v", v), "handler panicked", "method", r.Method, "path", tokens.Redact(r.URL.Path))
			s.fail(w, r, errorf(http.StatusInternalServerError, "internal error"))
		}()
		next.ServeHTTP(w, r)
	})
}
