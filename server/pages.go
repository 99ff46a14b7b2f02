package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/simple"
	"pkgindex.dev/pkgindex/server/store"
)

// rootPage is /simple/ rendered for one snapshot generation.
type rootPage struct {
	gen              uint64
	html, json       []byte
	htmlTag, jsonTag string
}

// negotiate picks the response format; on failure it has answered already.
func (s *Server) negotiate(w http.ResponseWriter, r *http.Request) (simple.Format, bool) {
	format, err := simple.Negotiate(r.Header.Get("Accept"), r.URL.Query().Get("format"))
	if err != nil {
		s.fail(w, r, err)
		return 0, false
	}
	return format, true
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	format, ok := s.negotiate(w, r)
	if !ok {
		return
	}
	names, err := s.store.Index(r.Context())
	if err != nil {
		s.fail(w, r, unavailable(r.Context(), err))
		return
	}
	page := s.rootPage.Load()
	if page == nil || page.gen != names.Gen {
		page = renderRoot(names)
		s.rootPage.Store(page)
	}
	body, tag := page.html, page.htmlTag
	if format.IsJSON() {
		body, tag = page.json, page.jsonTag
	}
	writePage(w, r, format, tag, body)
}

func renderRoot(names *store.Names) *rootPage {
	p := &rootPage{gen: names.Gen}
	p.html = simple.AppendIndexHTML(nil, names.Names)
	p.json = simple.AppendIndexJSON(nil, names.Names)
	p.htmlTag = contentTag(p.html, simple.LegacyHTML)
	p.jsonTag = contentTag(p.json, simple.JSON)
	return p
}

// unavailable reports a failed directory check: the client's own
// cancellation passes through, anything else is a 503 (the roots are
// unreachable or too slow), never a stale answer.
func unavailable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, store.ErrTimeout) {
		return &httpError{http.StatusServiceUnavailable, "package directory did not answer in time, try again"}
	}
	return &httpError{http.StatusServiceUnavailable, "package directory unavailable, try again"}
}

func (s *Server) serveProject(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("project")
	if !dist.IsNormalized(name) {
		redirect(w, r, "../"+url.PathEscape(dist.Normalize(name))+"/")
		return
	}
	format, ok := s.negotiate(w, r)
	if !ok {
		return
	}
	p, err := s.store.Project(r.Context(), name)
	if err != nil {
		s.fail(w, r, unavailable(r.Context(), err))
		return
	}
	if p == nil && s.upstream != nil {
		s.serveUpstreamPage(w, r, name, format)
		return
	}
	if p == nil {
		s.unknownProject(w, r, name)
		return
	}
	page, err := s.projectPage(r.Context(), p, "../../packages/")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer putPage(page)
	if s.upstream != nil && s.upstream.Merges(name) {
		s.mergeUpstream(w, r, page)
	}
	writeRendered(w, r, format, page)
}

// unknownProject answers for a project no root holds: 404, or a redirect
// to the fallback index when one is configured, as pypiserver does.
func (s *Server) unknownProject(w http.ResponseWriter, r *http.Request, name string) {
	if s.cfg.FallbackURL == "" {
		s.fail(w, r, errorf(http.StatusNotFound, "project %s not found", name))
		return
	}
	loc := strings.TrimSuffix(s.cfg.FallbackURL, "/") + "/" + url.PathEscape(name) + "/"
	http.Redirect(w, r, loc, http.StatusFound)
}

// projectPage gathers what a project page shows, checking every file as it
// is now. Files that vanished or cannot be read since the listing are left
// out with a log line rather than failing the page.
func (s *Server) projectPage(ctx context.Context, p *store.Project, prefix string) (*simple.Page, error) {
	status, err := s.store.ProjectStatus(p)
	if err != nil {
		s.log.Error(err, "bad project status marker; treating the project as quarantined", "project", p.Name)
	}
	page := pages.Get().(*simple.Page)
	*page = simple.Page{Name: p.Name, Status: status.Status, StatusReason: status.Reason,
		Versions: p.AppendVersions(page.Versions[:0]), URLPrefix: prefix, Files: page.Files[:0]}
	if status.Status == store.StatusQuarantined {
		return page, nil
	}
	algo := s.store.HashAlgo()
	for f, fa := range s.withFacts(ctx, p.Files) {
		sf := simple.File{
			Filename:       f.Filename(),
			URL:            escapePath(f.Rel),
			RequiresPython: fa.RequiresPython(),
			CoreMetadata:   fa.Metadata(),
			MetadataHash:   fa.MetadataDigest(),
			Size:           fa.Size(),
			UploadTime:     fa.ModTime(),
			GPGSig:         f.HasSignature(),
		}
		if d := fa.Digest(); d != nil {
			sf.HashName, sf.Hash = algo, d
		}
		if f.Yanked() {
			sf.Yanked, sf.YankReason = true, s.store.YankReason(f)
		}
		sf.Provenance = f.HasProvenance()
		page.Files = append(page.Files, sf)
	}
	if err := ctx.Err(); err != nil {
		putPage(page)
		return nil, err
	}
	return page, nil
}

// pages are reused between requests: a project page's file list is the
// largest thing a request would otherwise allocate.
var pages = sync.Pool{New: func() any { return new(simple.Page) }}

func putPage(p *simple.Page) {
	if cap(p.Files) > 4096 {
		return
	}
	clear(p.Files[:cap(p.Files)]) // drop references to strings and digests
	p.Files = p.Files[:0]
	pages.Put(p)
}
