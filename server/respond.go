package server

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"pkgindex.dev/pkgindex/server/simple"
)

func itoa(n int) string { return strconv.Itoa(n) }

// bufs are the buffers pages are rendered into before they are sent.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 1<<20 {
		return // let a rare huge page go rather than pin it
	}
	*b = (*b)[:0]
	bufs.Put(b)
}

// contentTag is an ETag derived from a page's bytes, so every replica gives
// the same page the same tag.
func contentTag(b []byte, f simple.Format) string {
	return tagOf(sha256.Sum256(b), f)
}

// tagOf makes the ETag of a page from the hash of its bytes.
func tagOf(sum [sha256.Size]byte, f simple.Format) string {
	var b [28]byte
	b[0] = '"'
	hex.Encode(b[1:25], sum[:12])
	b[25], b[26], b[27] = '-', '0'+byte(f), '"'
	return string(b[:])
}

// escapePath escapes each segment of a slash-separated path for a URL.
func escapePath(rel string) string {
	if !strings.ContainsFunc(rel, needsEscape) {
		return rel
	}
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func needsEscape(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '-' || r == '_' || r == '.' || r == '/' || r == '~' || r == '+' || r == '!')
}

// writePage sends a rendered Simple API page. Pages may be cached but must
// be revalidated, which their ETag makes a cheap 304.
func writePage(w http.ResponseWriter, r *http.Request, f simple.Format, tag string, body []byte) {
	w.Header().Set("Vary", "Accept")
	writeBody(w, r, f.ContentType(), tag, "no-cache", body)
}

// writeBody sends a body with its validators, or 304 when the client
// already has it.
func writeBody(w http.ResponseWriter, r *http.Request, ctype, tag, cacheControl string, body []byte) {
	if writeHead(w, r, ctype, tag, cacheControl, len(body)) {
		w.Write(body)
	}
}

// writeHead writes the headers of a body of the given length with its
// validators, or a 304 when the client already has it; it reports whether
// the body is to be sent.
func writeHead(w http.ResponseWriter, r *http.Request, ctype, tag, cacheControl string, length int) bool {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("ETag", tag)
	if cacheControl != "" {
		h.Set("Cache-Control", cacheControl)
	}
	if etagMatch(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return false
	}
	h.Set("Content-Length", itoa(length))
	w.WriteHeader(http.StatusOK)
	return r.Method != http.MethodHead
}

// etagMatch applies If-None-Match's weak comparison.
func etagMatch(header, tag string) bool {
	if header == "" {
		return false
	}
	for c := range strings.SplitSeq(header, ",") {
		c = strings.TrimSpace(c)
		if c == "*" || strings.TrimPrefix(c, "W/") == tag {
			return true
		}
	}
	return false
}
