package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/simple"
	"pkgindex.dev/pkgindex/server/store"
	"pkgindex.dev/pkgindex/server/upstream"
)

// UpstreamHeader says how a page or file of an upstream project was
// answered: hit, fetched, revalidated, or stale (the upstream failed and
// the cached copy stands in).
const UpstreamHeader = "X-Pkgindex-Upstream"

// newUpstream makes the pull-through cache in the first root's state
// directory, which every replica shares.
func newUpstream(cfg Config, log logr.Logger) (*upstream.Upstream, error) {
	opts := cfg.Upstream
	opts.Dir = filepath.Join(cfg.Roots[0], store.StateDir, "cache")
	opts.Log = log.WithName("upstream")
	u, err := upstream.New(opts)
	if err != nil {
		return nil, fmt.Errorf("--upstream: %w", err)
	}
	return u, nil
}

// serveUpstreamPage answers the page of a project with no local files from
// the upstream cache; the page says it mirrors the upstream's (PEP 708
// tracks).
func (s *Server) serveUpstreamPage(w http.ResponseWriter, r *http.Request, name string, format simple.Format) {
	up, err := s.upstream.Page(r.Context(), name, s.store.HashAlgo())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := &simple.Page{Name: name, URLPrefix: "../../packages/", Versions: up.Versions, Files: up.Files}
	if up.Project != "" {
		page.Tracks = []string{up.Project}
	}
	w.Header().Set(UpstreamHeader, up.State)
	writeRendered(w, r, format, page)
}

// mergeUpstream adds to a merged local project's page the upstream's
// files, but none whose name a local file has: the local file wins. The
// page names the upstream's as an alternate location (PEP 708). An
// upstream that fails leaves the local page as it is.
func (s *Server) mergeUpstream(w http.ResponseWriter, r *http.Request, page *simple.Page) {
	up, err := s.upstream.Page(r.Context(), page.Name, s.store.HashAlgo())
	if err != nil {
		if !errors.Is(err, upstream.ErrNotFound) {
			s.log.Error(err, "merging the upstream's files; serving the local ones alone", "project", page.Name)
		}
		return
	}
	w.Header().Set(UpstreamHeader, up.State)
	local := make(map[string]bool, len(page.Files))
	for _, f := range page.Files {
		local[sameFileKey(f.Filename)] = true
	}
	for _, f := range up.Files {
		if !local[sameFileKey(f.Filename)] {
			page.Files = append(page.Files, f)
		}
	}
	for _, v := range up.Versions {
		if !slices.Contains(page.Versions, v) {
			page.Versions = append(page.Versions, v)
		}
	}
	if up.Project != "" {
		page.AlternateLocations = []string{up.Project}
	}
}

// writeRendered renders a project page in the format asked and sends it.
func writeRendered(w http.ResponseWriter, r *http.Request, format simple.Format, page *simple.Page) {
	buf := getBuf()
	defer putBuf(buf)
	if format.IsJSON() {
		*buf = simple.AppendPageJSON(*buf, page)
	} else {
		*buf = simple.AppendPageHTML(*buf, page)
	}
	writePage(w, r, format, contentTag(*buf, format), *buf)
}

// serveUpstreamFile serves a file of an upstream project: from the cache
// with sendfile and ranges, or streamed from a fetch in progress. A stream
// that fails, the digest check above all, drops the connection before its
// last bytes: the client sees a broken download, never a whole file that
// failed the check.
func (s *Server) serveUpstreamFile(w http.ResponseWriter, r *http.Request, rel string) {
	d, err := s.upstream.Open(r.Context(), rel, s.isLocal)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer d.Close()
	s.fileHeaders(w, rel, d.ETag)
	h := w.Header()
	h.Set(UpstreamHeader, "hit")
	if d.Fetched {
		h.Set(UpstreamHeader, "fetched")
	}
	if d.File != nil {
		s.serveOpened(w, r, d.File, time.Time{})
		return
	}
	if d.Size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(d.Size, 10))
	}
	if etagMatch(r.Header.Get("If-None-Match"), d.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	buf := streamBufs.Get().(*[]byte)
	defer streamBufs.Put(buf)
	b := *buf
	rc := http.NewResponseController(w)
	for {
		n, err := d.Read(b)
		if n > 0 {
			if _, werr := w.Write(b[:n]); werr != nil {
				return // the client is gone
			}
			rc.Flush()
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			s.log.Error(err, "upstream download failed mid-stream; dropping the connection", "path", r.URL.Path)
			panic(http.ErrAbortHandler)
		}
	}
}

// streamBufs are the buffers a download of a file being fetched is sent
// through: the memory of 20 clients of one big file is 20 of these.
var streamBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// isLocal reports whether a project has local files, which keep the
// upstream's files of it off its page unless it is merged, and whether one
// is named filename, which keeps the upstream's file of that name off even
// then.
func (s *Server) isLocal(ctx context.Context, name, filename string) (bool, bool, error) {
	p, err := s.store.Project(ctx, name)
	if err != nil {
		return false, false, unavailable(ctx, err)
	}
	if p == nil {
		return false, false, nil
	}
	key := sameFileKey(filename)
	return true, slices.ContainsFunc(p.Files, func(f *store.File) bool { return sameFileKey(f.Filename()) == key }), nil
}

// sameFileKey is what two distribution file names share when they name the
// same file, however the project's name is spelled (Acme_Lib-1.0.tar.gz,
// acme.lib-1.0.tar.gz) or the rest is cased: a local file of that key
// wins over an upstream one.
func sameFileKey(filename string) string {
	df, err := dist.Parse(filename)
	if err != nil {
		return strings.ToLower(filename)
	}
	return df.Normalized() + "\x00" + strings.ToLower(filename[df.VersionAt():])
}
