//go:build linux

package netfs

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"pkgindex.dev/pkgindex/server"
	"pkgindex.dev/pkgindex/server/store"
)

// A server on a file system that slows down keeps answering; one on a file
// system that stops answering gives 503 with the reason after
// --storage-timeout, to pages, downloads and /readyz alike, and when the
// file system answers again the server serves as before, with no goroutine
// or descriptor left behind by the requests that gave up.
func TestSlowAndHungStorage(t *testing.T) {
	backing, clients := mountClients(t, 1, Options{})
	c := clients[0]
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(backing, "demo"), 0o755))
	must(os.WriteFile(filepath.Join(backing, "demo", "demo-1.0.tar.gz"), []byte("demo"), 0o644))
	cfg, err := server.ParseFlags([]string{"--root", c.Dir, "--layout", "per-project", "--storage-timeout", "1s"},
		func(string) string { return "" }, io.Discard)
	must(err)
	st, err := store.New(cfg.StoreOptions(logr.Discard()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(cfg, st, logr.Discard(), "test")
	must(err)
	srv := httptest.NewServer(s.Handler())
	defer s.Close()
	defer srv.Close()
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		must(err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	paths := []string{"/simple/", "/simple/demo/", "/packages/demo/demo-1.0.tar.gz", "/readyz"}
	for _, p := range paths {
		if code, body := get(p); code != 200 {
			t.Fatalf("GET %s: %d %s", p, code, body)
		}
	}

	c.SetLatency(100 * time.Millisecond)
	for _, p := range paths {
		if code, body := get(p); code != 200 {
			t.Errorf("GET %s at 100 ms per call: %d %s", p, code, body)
		}
	}
	c.SetLatency(0)

	idle, fds := runtime.NumGoroutine(), openFiles(t)
	c.Hang()
	for range 2 {
		for _, p := range paths {
			code, body := get(p)
			if code != http.StatusServiceUnavailable || !strings.Contains(body, "answer") {
				t.Errorf("GET %s with the file system hung: %d %q, want 503 saying it did not answer", p, code, body)
			}
		}
	}
	c.Release()
	for _, p := range paths {
		if code, body := get(p); code != 200 {
			t.Errorf("GET %s after the file system answers again: %d %s", p, code, body)
		}
	}
	// The calls that hung return once the file system answers; what the
	// requests left behind must then be gone.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && (runtime.NumGoroutine() > idle+2 || openFiles(t) > fds) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > idle+2 {
		t.Errorf("%d goroutines after the hang, %d before", n, idle)
	}
	if n := openFiles(t); n > fds {
		t.Errorf("%d open descriptors after the hang, %d before", n, fds)
	}
}

// openFiles counts this process's open descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
