package recorder

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each way a handler answers is recorded by every Writer between it and
// the connection, as the metrics and the access log wrap it twice.
func TestWriter(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		handler   http.HandlerFunc
		code      int
		bytes     int64
		wantReply string // the start of what the client reads
	}{
		{"body only", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }, 200, 5, "HTTP/1.1 200 OK"},
		{"error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusNotFound) }, 404, 3, "HTTP/1.1 404 Not Found"},
		{"status twice", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusConflict)
			w.WriteHeader(http.StatusOK)
		}, 409, 0, "HTTP/1.1 409 Conflict"},
		{"file by ReadFrom", func(w http.ResponseWriter, r *http.Request) {
			if _, ok := w.(io.ReaderFrom); !ok {
				t.Error("the writer hides ReadFrom")
			}
			f, err := os.Open(file)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			io.Copy(w, f)
		}, 200, 10, "HTTP/1.1 200 OK"},
		{"flushed", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
		}, 200, 1, "HTTP/1.1 200 OK"},
		{"hijacked", func(w http.ResponseWriter, r *http.Request) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			Hijacked(w, 409)
			buf.WriteString("HTTP/1.1 409 Taken\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			buf.Flush()
		}, 409, 0, "HTTP/1.1 409 Taken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var outer, inner *Writer
			recorded := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(recorded)
				outer = New(w)
				inner = New(outer)
				tc.handler(inner, r)
			}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			<-recorded
			if got := resp.Proto + " " + resp.Status; !strings.HasPrefix(got, tc.wantReply) {
				t.Errorf("client read %q, want %q", got, tc.wantReply)
			}
			for _, w := range []*Writer{inner, outer} {
				if w.Code != tc.code || w.Bytes != tc.bytes {
					t.Errorf("recorded %d and %d bytes, want %d and %d", w.Code, w.Bytes, tc.code, tc.bytes)
				}
			}
		})
	}
}
