package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgindex.dev/pkgindex/server/recorder"
	"pkgindex.dev/pkgindex/server/store"
)

func TestInstrument(t *testing.T) {
	st := &store.Stats{}
	st.DirCheckTime.Observe(3 * time.Millisecond)
	st.DirCheckTime.Observe(2 * time.Second)
	m := New(st)
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/missing", m.Instrument("missing", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusNotFound)
	})))
	mux.Handle("/file", m.Instrument("file", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, _ := os.Open(file)
		defer f.Close()
		// What downloads do: the recorder must pass ReadFrom through.
		if _, ok := w.(io.ReaderFrom); !ok {
			t.Error("the recorder hides ReadFrom")
		}
		io.Copy(w, f)
	})))
	mux.Handle("/hijacked", m.Instrument("hijacked", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		recorder.Hijacked(w, 409)
		buf.WriteString("HTTP/1.1 409 Taken\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		buf.Flush()
	})))
	mux.Handle("/metrics", m.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, p := range []string{"/missing", "/missing", "/file", "/hijacked"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	wants := []string{
		`pkgindex_http_requests_total{code="404",route="missing"} 2`,
		`pkgindex_http_requests_total{code="200",route="file"} 1`,
		`pkgindex_http_requests_total{code="409",route="hijacked"} 1`,
		`pkgindex_http_request_duration_seconds_count{route="missing"} 2`,
		`pkgindex_http_response_bytes_total 16`, // "no\n" twice and the 10-byte file
		`pkgindex_store_dir_check_seconds_bucket{le="0.0025"} 0`,
		`pkgindex_store_dir_check_seconds_bucket{le="0.005"} 1`,
		`pkgindex_store_dir_check_seconds_bucket{le="2.5"} 2`,
		`pkgindex_store_dir_check_seconds_count 2`,
		`pkgindex_store_dir_check_seconds_sum 2.003`,
	}
	// A hijacked answer reaches the client before its handler returns and
	// is counted: look a few times.
	var missing []string
	for range 100 {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		missing = missing[:0]
		for _, want := range wants {
			if !strings.Contains(string(b), want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("metrics lack %v", missing)
}
