// Package recorder wraps an http.ResponseWriter to learn the status and the
// size of the answer a handler gives, for the metrics and the access log,
// without hiding what the writer beneath can do (sendfile, flushing,
// hijacking).
package recorder

import (
	"io"
	"net/http"
)

// Writer records the status and the body size of a response.
type Writer struct {
	http.ResponseWriter
	// Code is the status sent: 200 until a handler says otherwise.
	Code int
	// Bytes is the size of the body written so far.
	Bytes int64
	// wrote is set once the status is sent, by WriteHeader or by the first
	// byte of the body.
	wrote bool
}

// New wraps w.
func New(w http.ResponseWriter) *Writer {
	return &Writer{ResponseWriter: w, Code: http.StatusOK}
}

// WriteHeader records the first status sent and passes it on.
func (w *Writer) WriteHeader(code int) {
	if !w.wrote {
		w.Code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *Writer) Write(b []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(b)
	w.Bytes += int64(n)
	return n, err
}

// ReadFrom passes the body on as a reader, so that a file download keeps
// the sendfile path of the connection beneath.
func (w *Writer) ReadFrom(src io.Reader) (int64, error) {
	w.wrote = true
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
	}
	w.Bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the writer beneath, for
// Flush, Hijack and deadlines.
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush flushes the writer beneath, for code that asks for http.Flusher
// rather than going through http.ResponseController.
func (w *Writer) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// Hijacked records code as the status of an answer written on a hijacked
// connection, which WriteHeader never sees, in every Writer among w and the
// writers it wraps.
func Hijacked(w http.ResponseWriter, code int) {
	for w != nil {
		if rw, ok := w.(*Writer); ok {
			rw.Code, rw.wrote = code, true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}
