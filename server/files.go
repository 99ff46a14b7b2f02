package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/meta"
	"pkgindex.dev/pkgindex/server/simple"
	"pkgindex.dev/pkgindex/server/store"
	"pkgindex.dev/pkgindex/server/upstream"
)

// contentTypes by file ending; the first match wins.
var contentTypes = []struct {
	suffix string
	ctype  []string // a header value, shared by every response (see nosniff)
}{
	{".whl", []string{"application/octet-stream"}},
	{".egg", []string{"application/octet-stream"}},
	{".tar.gz", []string{"application/gzip"}},
	{".tgz", []string{"application/gzip"}},
	{".zip", []string{"application/zip"}},
	{".tar.bz2", []string{"application/x-bzip2"}},
	{".tbz", []string{"application/x-bzip2"}},
	{".tar.xz", []string{"application/x-xz"}},
	{".txz", []string{"application/x-xz"}},
	{".tar", []string{"application/x-tar"}},
	{".asc", []string{"text/plain; charset=utf-8"}},
	{".provenance", []string{"application/json"}},
}

func contentType(name string) []string {
	for _, c := range contentTypes {
		if len(name) >= len(c.suffix) && strings.EqualFold(name[len(name)-len(c.suffix):], c.suffix) {
			return c.ctype
		}
	}
	return octetStream
}

var octetStream = []string{"application/octet-stream"}

// serveFile serves a distribution file, its PEP 658 metadata, its signature
// or its provenance, straight from the directory as it is now. Range,
// conditional requests and HEAD come from http.ServeContent, which hands an
// *os.File to sendfile.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	rel := r.PathValue("path")
	if rest, ok := strings.CutPrefix(rel, upstream.LinkPrefix); ok && s.upstream != nil {
		s.serveUpstreamFile(w, r, rest)
		return
	}
	if wheel, ok := strings.CutSuffix(rel, ".metadata"); ok {
		s.serveMetadata(w, r, wheel)
		return
	}
	f, err := s.store.OpenContext(r.Context(), rel)
	if err != nil {
		if errors.Is(err, store.ErrTimeout) {
			err = unavailable(r.Context(), err)
		}
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	s.fileHeaders(w, rel, f.ETag)
	s.serveOpened(w, r, f, f.ModTime)
}

// serveOpened sends an opened file. A plain GET, which nearly every
// download is, is answered here rather than by http.ServeContent (which
// answers the rest: HEAD, ranges, conditional requests), whose copy of the
// first 512 bytes through a buffer before it turns to sendfile costs one
// more read of the file per download:
//   - a file of up to smallFile bytes is read whole and leaves with its
//     headers in one write, which on loopback and fast networks costs less
//     than sendfile's setup for so few bytes;
//   - a larger one has its headers held back by holdHeaders and sendfile
//     sends the whole file after them.
func (s *Server) serveOpened(w http.ResponseWriter, r *http.Request, f *store.Opened, modtime time.Time) {
	if r.Method != http.MethodGet || hasAny(r.Header, conditionalHeaders) {
		defer holdHeaders(r)()
		http.ServeContent(w, r, "", modtime, f)
		return
	}
	var small *[smallFile]byte
	if f.Size <= smallFile {
		small = smallBufs.Get().(*[smallFile]byte)
		defer smallBufs.Put(small)
		if n, err := f.ReadAt(small[:f.Size], 0); n < int(f.Size) {
			if err == nil || err == io.EOF {
				err = fmt.Errorf("reading %s: %w", f.Name(), io.ErrUnexpectedEOF)
			}
			s.fail(w, r, err)
			return
		}
	}
	h := w.Header()
	if !modtime.IsZero() && !modtime.Equal(time.Unix(0, 0)) { // as http.ServeContent
		h["Last-Modified"] = []string{modtime.UTC().Format(http.TimeFormat)}
	}
	h["Accept-Ranges"] = acceptRanges
	h["Content-Length"] = []string{strconv.FormatInt(f.Size, 10)}
	if small != nil {
		w.Write(small[:f.Size])
		return
	}
	defer holdHeaders(r)()
	w.WriteHeader(http.StatusOK)
	if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return // the client is gone
	}
	io.Copy(w, f.Body())
}

// smallFile is the size up to which a file leaves in the same write as its
// headers: with them, it fits the 4 KiB buffer net/http writes a
// connection through.
const smallFile = 3 << 10

var smallBufs = sync.Pool{New: func() any { return new([smallFile]byte) }}

// conditionalHeaders are the request headers that ask for part of a file
// or for an answer that depends on the client's copy.
var conditionalHeaders = []string{"Range", "If-Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"}

var acceptRanges = []string{"bytes"}

func hasAny(h http.Header, keys []string) bool {
	for _, k := range keys {
		if _, ok := h[k]; ok {
			return true
		}
	}
	return false
}

// fileHeaders sets the headers every download of a file has.
func (s *Server) fileHeaders(w http.ResponseWriter, rel, etag string) {
	h := w.Header()
	h["Content-Type"] = contentType(rel)
	h.Set("ETag", etag)
	if s.fileCache != "" {
		h.Set("Cache-Control", s.fileCache)
	}
}

// serveMetadata serves a wheel's PEP 658 core metadata, found through the
// index of wheels already scanned.
func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request, rel string) {
	df, err := dist.Parse(rel[strings.LastIndexByte(rel, '/')+1:])
	if err != nil || df.Kind != dist.Wheel {
		s.fail(w, r, store.ErrNotFound)
		return
	}
	fh, err := s.store.Open(rel)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer fh.Close()
	b, err := s.wheels.Metadata(fh, fh.Size, fh.ETag, df)
	if err != nil {
		s.fail(w, r, metadataError(err))
		return
	}
	writeBody(w, r, "text/plain; charset=utf-8", contentTag(b, 0), s.fileCache, b)
}

// servePackageList is pypiserver's /packages/: every file under every root
// with its digest, ordered by directory, project and version.
func (s *Server) servePackageList(w http.ResponseWriter, r *http.Request) {
	snap, err := s.store.Snapshot(r.Context())
	if err != nil {
		s.fail(w, r, unavailable(r.Context(), err))
		return
	}
	files := make([]*store.File, 0, snap.FileCount())
	for _, p := range snap.Projects() {
		files = append(files, p.Files...)
	}
	// pypiserver's order: by directory, then project and version.
	slices.SortStableFunc(files, func(a, b *store.File) int {
		return strings.Compare(relDir(a.Rel), relDir(b.Rel))
	})
	// Every file is checked, and a cold replica hashes what it has no
	// facts for, all at once rather than a project at a time. A file left
	// out has no facts.
	facts := s.store.FactsAll(r.Context(), files)
	if r.Context().Err() != nil {
		return
	}
	// The page lists every file, so it can be large: it is rendered twice
	// in small pieces, once to learn its tag and length and once to send
	// it, rather than held whole.
	algo := s.store.HashAlgo()
	render := func(emit func([]byte)) {
		buf := getBuf()
		defer putBuf(buf)
		b := append(*buf, "<!DOCTYPE html>\n<html>\n<head>\n<title>Index of packages</title>\n</head>\n<body>\n<h1>Index of packages</h1>\n"...)
		for i, f := range files {
			fa := facts[i]
			if fa == nil {
				continue
			}
			b = append(b, `<a href="`...)
			b = append(b, escapePath(f.Rel)...)
			if fa.Digest() != nil {
				b = append(b, '#')
				b = append(b, algo...)
				b = append(b, '=')
				b = hex.AppendEncode(b, fa.Digest())
			}
			b = append(b, `">`...)
			b = simple.AppendHTML(b, f.Rel)
			b = append(b, "</a><br>\n"...)
			if len(b) >= 32<<10 {
				emit(b)
				b = b[:0]
			}
		}
		b = append(b, "</body>\n</html>\n"...)
		emit(b)
		*buf = b
	}
	h, n := sha256.New(), 0
	render(func(b []byte) { h.Write(b); n += len(b) })
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	w.Header().Set("Vary", "Accept")
	if writeHead(w, r, simple.LegacyHTML.ContentType(), tagOf(sum, simple.LegacyHTML), "no-cache", n) {
		render(func(b []byte) { w.Write(b) })
	}
}

// relDir is the directory part of a slash-separated path, "" at the top.
func relDir(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

// metadataError says why a wheel's metadata is not served: a wheel without
// one, or beyond the limits, has none to serve (404, and its page does not
// offer it); anything else is the server's trouble.
func metadataError(err error) error {
	switch {
	case errors.Is(err, meta.ErrNoMetadata):
		return errorf(http.StatusNotFound, "The wheel holds no .dist-info/METADATA")
	case errors.Is(err, meta.ErrLimit):
		_, why, _ := strings.Cut(err.Error(), meta.ErrLimit.Error()+": ")
		return errorf(http.StatusNotFound, "Core metadata not served: the wheel is beyond the index's limits (%s)", why)
	}
	return err
}
