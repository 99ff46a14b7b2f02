package server

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"

	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/meta"
	"pkgindex.dev/pkgindex/server/store"
)

// serveOther matches pypiserver's single-segment routes by hand:
// /<project>/json is its minimal JSON, and /<project> or /<project>/
// redirects to the project's Simple page.
func (s *Server) serveOther(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, s.cfg.BaseURL+"/")
	if !ok || r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.fail(w, r, errorf(http.StatusNotFound, "not found"))
		return
	}
	if project, ok := strings.CutSuffix(rest, "/json"); ok && project != "" && !strings.Contains(project, "/") {
		s.servePypiserverJSON(w, r, project)
		return
	}
	project := strings.TrimSuffix(rest, "/")
	if project == "" || strings.Contains(project, "/") || !dist.ValidProject(project) || project == "favicon.ico" {
		s.fail(w, r, errorf(http.StatusNotFound, "not found"))
		return
	}
	redirect(w, r, s.pathPrefix(r)+"/simple/"+url.PathEscape(dist.Normalize(project))+"/")
}

// baseURL is the absolute URL the client reached the server's root at.
// Behind a proxy trusted with --trust-proxy (and no --server-base-url), it
// is what X-Forwarded-Proto, X-Forwarded-Host (which may carry a path, as
// pypiserver's nginx example sets it) and X-Forwarded-Prefix say; otherwise
// those headers are ignored, so no client chooses the URLs others are given.
func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host, prefix := r.Host, s.cfg.BaseURL
	if s.forwarded() {
		if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
			scheme = p
		}
		if h, path, _ := strings.Cut(firstValue(r.Header.Get("X-Forwarded-Host")), "/"); h != "" && validHost(h) && validPrefix(path) {
			host, prefix = h, cleanPrefix(path)
		}
		if p := firstValue(r.Header.Get("X-Forwarded-Prefix")); p != "" && validPrefix(p) {
			prefix = cleanPrefix(p)
		}
	}
	return scheme + "://" + host + prefix
}

// forwarded reports whether a proxy's X-Forwarded-* headers are followed.
func (s *Server) forwarded() bool { return s.cfg.TrustProxy && s.cfg.BaseURL == "" }

// pathPrefix is the path the client reached the server's root at: the
// base URL's path, or a trusted proxy's prefix.
func (s *Server) pathPrefix(r *http.Request) string {
	if !s.forwarded() {
		return s.cfg.BaseURL
	}
	u, err := url.Parse(s.baseURL(r))
	if err != nil {
		return ""
	}
	return u.Path
}

// firstValue is the first of a header's comma-separated values, as the
// proxy nearest the client set it.
func firstValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

func validHost(h string) bool {
	return !strings.ContainsFunc(h, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-:[]", r))
	})
}

func validPrefix(p string) bool {
	for seg := range strings.SplitSeq(strings.Trim(p, "/"), "/") {
		if seg == "." || seg == ".." || strings.ContainsFunc(seg, needsEscape) {
			return false
		}
	}
	return true
}

func cleanPrefix(p string) string {
	if p = strings.Trim(p, "/"); p == "" {
		return ""
	}
	return "/" + p
}

// projectFor looks up a project for the JSON endpoints, redirecting
// non-normalized names; nil when it answered.
func (s *Server) projectFor(w http.ResponseWriter, r *http.Request, name, loc string) *store.Project {
	p, answered := s.localProject(w, r, name, loc)
	if p == nil && !answered {
		s.fail(w, r, errProjectNotFound(name))
	}
	return p
}

// localProject is projectFor with the project's absence left to the
// caller: nil and false when no local file has the name.
func (s *Server) localProject(w http.ResponseWriter, r *http.Request, name, loc string) (*store.Project, bool) {
	if !dist.IsNormalized(name) {
		redirect(w, r, strings.ReplaceAll(loc, "{}", url.PathEscape(dist.Normalize(name))))
		return nil, true
	}
	p, err := s.store.Project(r.Context(), name)
	if err != nil {
		s.fail(w, r, unavailable(r.Context(), err))
		return nil, true
	}
	return p, false
}

func errProjectNotFound(name string) error {
	return errorf(http.StatusNotFound, "package %s not found", name)
}

// servePypiserverJSON is pypiserver's /<project>/json: the newest version
// and the download URLs of every release, newest first.
func (s *Server) servePypiserverJSON(w http.ResponseWriter, r *http.Request, name string) {
	p := s.projectFor(w, r, name, "../{}/json")
	if p == nil {
		return
	}
	base := s.baseURL(r) + "/packages/"
	type link struct {
		URL string `json:"url"`
	}
	releases := map[string][]link{}
	for _, f := range p.Files {
		v := f.Version()
		releases[v] = append(releases[v], link{URL: base + escapePath(f.Rel)})
	}
	writeJSON(w, r, map[string]any{
		"info":     map[string]string{"version": p.LatestVersion()},
		"releases": releases,
	})
}

// pypiFile is one file in PyPI's JSON API.
type pypiFile struct {
	Filename          string            `json:"filename"`
	URL               string            `json:"url"`
	Digests           map[string]string `json:"digests"`
	MD5Digest         string            `json:"md5_digest,omitempty"`
	Size              int64             `json:"size"`
	UploadTime        string            `json:"upload_time"`
	UploadTimeISO8601 string            `json:"upload_time_iso_8601"`
	PackageType       string            `json:"packagetype"`
	PythonVersion     string            `json:"python_version"`
	RequiresPython    *string           `json:"requires_python"`
	HasSig            bool              `json:"has_sig"`
	Yanked            bool              `json:"yanked"`
	YankedReason      *string           `json:"yanked_reason"`
}

// servePyPIJSON is PyPI's /pypi/<project>/json with what the index knows:
// the newest release's core metadata, and every file's digest, size,
// upload time, requires-python and yank state.
func (s *Server) servePyPIJSON(w http.ResponseWriter, r *http.Request) {
	s.pypiJSON(w, r, "")
}

// servePyPIReleaseJSON is PyPI's /pypi/<project>/<version>/json: one
// release's metadata and files.
func (s *Server) servePyPIReleaseJSON(w http.ResponseWriter, r *http.Request) {
	s.pypiJSON(w, r, r.PathValue("version"))
}

// pypiJSON answers for the release version, or the newest one and every
// release when version is "".
func (s *Server) pypiJSON(w http.ResponseWriter, r *http.Request, version string) {
	loc := "../{}/json"
	if version != "" {
		loc = "../../{}/" + url.PathEscape(version) + "/json"
	}
	name := r.PathValue("project")
	p, answered := s.localProject(w, r, name, loc)
	switch {
	case answered:
		return
	case p == nil && s.upstream != nil:
		s.upstreamPyPIJSON(w, r, name, version)
		return
	case p == nil:
		s.fail(w, r, errProjectNotFound(name))
		return
	}
	base := s.baseURL(r)
	releases := map[string][]pypiFile{}
	for _, v := range p.AppendVersions(nil) {
		releases[v] = []pypiFile{}
	}
	want := version
	if want == "" {
		want = p.LatestVersion()
	}
	var source *store.File // whose metadata is the info: a wheel if there is one
	var spelled string
	urls := []pypiFile{}
	for f, fa := range s.withFacts(r.Context(), p.Files) {
		pf := s.pypiFile(f, fa, base)
		v := f.Version()
		releases[v] = append(releases[v], pf)
		if meta.SameVersion(v, want) {
			urls = append(urls, pf)
			if source == nil || f.Kind() == dist.Wheel && source.Kind() != dist.Wheel {
				source, spelled = f, v
			}
		}
	}
	if r.Context().Err() != nil {
		return
	}
	if source == nil {
		if version != "" {
			s.fail(w, r, errorf(http.StatusNotFound, "release %s %s not found", p.Name, html.EscapeString(truncate(version, 40))))
			return
		}
		writeJSON(w, r, map[string]any{"info": map[string]any{"name": p.Name, "version": want}, "releases": releases, "urls": urls, "vulnerabilities": []any{}})
		return
	}
	out := map[string]any{"info": s.pypiInfo(p, source, spelled, base, urls), "urls": urls, "vulnerabilities": []any{}}
	if version == "" {
		out["releases"] = releases
	}
	writeJSON(w, r, out)
}

func (s *Server) pypiFile(f *store.File, fa *store.Facts, base string) pypiFile {
	pf := pypiFile{
		Filename:          f.Filename(),
		URL:               base + "/packages/" + escapePath(f.Rel),
		Digests:           map[string]string{},
		Size:              fa.Size(),
		UploadTime:        fa.ModTime().Format("2006-01-02T15:04:05"),
		UploadTimeISO8601: fa.ModTime().Format("2006-01-02T15:04:05.000000Z"),
		PackageType:       f.Kind().PackageType(),
		PythonVersion:     f.Dist().PyVersion(),
		HasSig:            f.HasSignature(),
		Yanked:            f.Yanked(),
	}
	if fa.Digest() != nil {
		d := hex.EncodeToString(fa.Digest())
		pf.Digests[s.store.HashAlgo()] = d
		if s.store.HashAlgo() == "md5" {
			pf.MD5Digest = d
		}
	}
	if fa.RequiresPython() != "" {
		rp := fa.RequiresPython()
		pf.RequiresPython = &rp
	}
	if pf.Yanked {
		reason := s.store.YankReason(f)
		pf.YankedReason = &reason
	}
	return pf
}

// pypiInfo is the info object of PyPI's JSON for one release, from the
// core metadata of source; a release is yanked when all its files are.
func (s *Server) pypiInfo(p *store.Project, source *store.File, version, base string, files []pypiFile) map[string]any {
	fields, _ := s.metadataFields(source)
	info := map[string]any{
		"name":            cmp.Or(fields.Name, p.Name),
		"version":         version,
		"summary":         fields.Summary,
		"requires_python": nil,
		"requires_dist":   nil,
		"license":         fields.License,
		"author":          fields.Author,
		"author_email":    fields.AuthorEmail,
		"home_page":       fields.HomePage,
		"project_urls":    nil,
		"classifiers":     append([]string{}, fields.Classifiers...),
		"package_url":     base + "/simple/" + p.Name + "/",
		"project_url":     base + "/simple/" + p.Name + "/",
		"release_url":     base + "/pypi/" + p.Name + "/" + url.PathEscape(version) + "/json",
		"yanked":          true,
		"yanked_reason":   nil,
	}
	if fields.RequiresPython != "" {
		info["requires_python"] = fields.RequiresPython
	}
	if len(fields.RequiresDist) > 0 {
		info["requires_dist"] = fields.RequiresDist
	}
	if len(fields.ProjectURLs) > 0 {
		info["project_urls"] = fields.ProjectURLs
	}
	for _, f := range files {
		if !f.Yanked {
			info["yanked"] = false
			break
		}
		if info["yanked_reason"] == nil && f.YankedReason != nil && *f.YankedReason != "" {
			info["yanked_reason"] = *f.YankedReason
		}
	}
	if info["yanked"] == false {
		info["yanked_reason"] = nil
	}
	return info
}

// metadataFields reads f's core metadata as its file is now: a wheel's
// through the index of wheels, an sdist's PKG-INFO.
func (s *Server) metadataFields(f *store.File) (meta.Fields, error) {
	fh, err := s.store.Open(f.Rel)
	if err != nil {
		return meta.Fields{}, err
	}
	defer fh.Close()
	var md []byte
	switch df := f.Dist(); df.Kind {
	case dist.Wheel:
		md, err = s.wheels.Metadata(fh, fh.Size, fh.ETag, df)
	case dist.Sdist:
		md, err = meta.Sdist(fh, fh.Size, df)
	default:
		return meta.Fields{}, meta.ErrNoMetadata
	}
	if err != nil {
		return meta.Fields{}, err
	}
	return meta.Parse(md)
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	writeBody(w, r, "application/json", contentTag(b, 0), "no-cache", b)
}
