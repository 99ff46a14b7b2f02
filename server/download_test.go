package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// Downloads of every size around the ways a file is sent (read whole with
// its headers up to smallFile, sendfile after held headers above it,
// http.ServeContent for HEAD, ranges and conditional requests) carry the
// same headers and exactly the file's bytes. They go through the listener
// pkgindex serve uses, one after another on one connection, so a response
// whose headers were held back and never pushed out stalls the next.
func TestDownloadSizes(t *testing.T) {
	root := t.TempDir()
	sizes := []int{0, 1, 511, 512, 513, smallFile - 1, smallFile, smallFile + 1, 64<<10 + 7}
	files := map[string][]byte{}
	for i, n := range sizes {
		b := make([]byte, n)
		rand.Read(b)
		name := fmt.Sprintf("demo-1.%d.tar.gz", i)
		must(t, os.WriteFile(filepath.Join(root, name), b, 0o644))
		files[name] = b
	}
	cfg, err := ParseFlags([]string{"--root", root, "--listen", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	must(t, err)
	s, err := New(cfg, testStore(t, cfg), logr.Discard(), "test")
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(a net.Addr) { addr <- a }) }()
	t.Cleanup(func() { cancel(); <-done })
	base := "http://" + (<-addr).String() + "/packages/"
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1}}

	do := func(method, name string, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+name, nil)
		must(t, err)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, name, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: reading the body: %v", method, name, err)
		}
		return resp, b
	}
	for i, n := range sizes {
		name := fmt.Sprintf("demo-1.%d.tar.gz", i)
		want := files[name]
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			resp, body := do("GET", name, nil)
			if resp.StatusCode != 200 || !bytes.Equal(body, want) {
				t.Fatalf("GET: %d, %d bytes, want 200 and the file's %d", resp.StatusCode, len(body), n)
			}
			h := resp.Header
			if h.Get("Content-Length") != strconv.Itoa(n) || h.Get("Accept-Ranges") != "bytes" ||
				h.Get("ETag") == "" || h.Get("Last-Modified") == "" || h.Get("Content-Type") != "application/gzip" {
				t.Errorf("GET headers: %v", h)
			}
			head, hb := do("HEAD", name, nil)
			if head.StatusCode != 200 || len(hb) != 0 || head.Header.Get("Content-Length") != strconv.Itoa(n) ||
				head.Header.Get("ETag") != h.Get("ETag") {
				t.Errorf("HEAD: %d, %d bytes, headers %v", head.StatusCode, len(hb), head.Header)
			}
			if cond, cb := do("GET", name, map[string]string{"If-None-Match": h.Get("ETag")}); cond.StatusCode != 304 || len(cb) != 0 {
				t.Errorf("If-None-Match: %d, %d bytes", cond.StatusCode, len(cb))
			}
			if n >= 4 {
				part, pb := do("GET", name, map[string]string{"Range": "bytes=1-3"})
				if part.StatusCode != 206 || !bytes.Equal(pb, want[1:4]) {
					t.Errorf("Range: %d %x, want 206 %x", part.StatusCode, pb, want[1:4])
				}
			}
		})
	}
}
