package server

import (
	"io"
	"net/http"
	"time"
)

// accessLog writes one debug line per request. It never logs headers, so
// credentials cannot leak into the log.
func (s *Server) accessLog(next http.Handler) http.Handler {
	log := s.log.WithName("http")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !log.V(1).Enabled() {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.V(1).Info("request", "method", r.Method, "path", r.URL.Path, "status", sw.code,
			"duration", time.Since(start).String(), "remote", r.RemoteAddr)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
	done bool
}

// NoteStatus records the status of an answer written on a hijacked
// connection.
func (w *statusWriter) NoteStatus(code int) { w.code, w.done = code, true }

func (w *statusWriter) WriteHeader(code int) {
	if !w.done {
		w.code, w.done = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController and io.Copy's sendfile path reach
// the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom keeps the sendfile path of file downloads.
func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	w.done = true
	return w.ResponseWriter.(io.ReaderFrom).ReadFrom(src)
}
