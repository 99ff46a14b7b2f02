package server

import (
	"net/http"
	"time"

	"pkgindex.dev/pkgindex/server/recorder"
	"pkgindex.dev/pkgindex/server/tokens"
)

// accessLog writes one debug line per request. It never logs headers, so
// credentials cannot leak into the log, and a scoped token a client put in
// a URL is logged without its secret.
func (s *Server) accessLog(next http.Handler) http.Handler {
	log := s.log.WithName("http")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !log.V(1).Enabled() {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rw := recorder.New(w)
		next.ServeHTTP(rw, r)
		log.V(1).Info("request", "method", r.Method, "path", tokens.Redact(r.URL.Path), "status", rw.Code,
			"bytes", rw.Bytes, "duration", time.Since(start).String(), "remote", r.RemoteAddr)
	})
}
