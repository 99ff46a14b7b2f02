// Command filefloor serves files the least way a Go net/http server can:
// open, fstat, a Content-Length, sendfile; no listing, no consistency
// checks, no access rules, no metrics. hack/upstreamload.sh runs it beside
// pkgindex and nginx, on the same file, to show what part of nginx's speed
// any Go HTTP server reaches on the machine at hand.
//
//	filefloor -listen 127.0.0.1:18483 -prefix /packages/.upstream/ -dir DIR
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18483", "address to listen on")
	prefix := flag.String("prefix", "/", "URL path the directory is served at")
	dir := flag.String("dir", ".", "directory to serve")
	flag.Parse()
	http.HandleFunc(*prefix, func(w http.ResponseWriter, r *http.Request) {
		rel := strings.TrimPrefix(r.URL.Path, *prefix)
		if strings.Contains(rel, "..") {
			http.NotFound(w, r)
			return
		}
		f, err := os.Open(filepath.Join(*dir, rel))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/octet-stream"}
		h["Content-Length"] = []string{strconv.FormatInt(st.Size(), 10)}
		io.Copy(w, &io.LimitedReader{R: f, N: st.Size()})
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
