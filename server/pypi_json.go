package server

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"pkgindex.dev/pkgindex/server/dist"
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
	redirect(w, r, s.cfg.BaseURL+"/simple/"+url.PathEscape(dist.Normalize(project))+"/")
}

// baseURL is the absolute URL the client reached the server's root at,
// honouring the X-Forwarded-Proto and X-Forwarded-Host a reverse proxy sets.
func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" && !strings.ContainsAny(h, "/\\ ") {
		host = strings.TrimSpace(strings.Split(h, ",")[0])
	}
	return scheme + "://" + host + s.cfg.BaseURL
}

// projectFor looks up a project for the JSON endpoints, redirecting
// non-normalized names.
func (s *Server) projectFor(w http.ResponseWriter, r *http.Request, name, loc string) *store.Project {
	if !dist.IsNormalized(name) {
		redirect(w, r, strings.ReplaceAll(loc, "{}", url.PathEscape(dist.Normalize(name))))
		return nil
	}
	snap, err := s.store.Snapshot(r.Context())
	if err != nil {
		s.fail(w, r, unavailable(r.Context(), err))
		return nil
	}
	p := snap.Project(name)
	if p == nil {
		s.fail(w, r, errorf(http.StatusNotFound, "package %s not found", name))
	}
	return p
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
// digests, sizes, upload times, requires-python and yank state.
func (s *Server) servePyPIJSON(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("project")
	p := s.projectFor(w, r, name, "../{}/json")
	if p == nil {
		return
	}
	base := s.baseURL(r)
	releases := map[string][]pypiFile{}
	for _, v := range p.AppendVersions(nil) {
		releases[v] = []pypiFile{}
	}
	latest := p.LatestVersion()
	var info map[string]any
	var urls []pypiFile
	for f, fa := range s.withFacts(r.Context(), p.Files) {
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
		v := f.Version()
		releases[v] = append(releases[v], pf)
		if dist.Compare(dist.ParseVersion(v), dist.ParseVersion(latest)) == 0 {
			urls = append(urls, pf)
			if info == nil || f.Kind() == dist.Wheel {
				info = map[string]any{
					"name":            p.Name,
					"version":         latest,
					"summary":         s.store.Summary(f),
					"requires_python": pf.RequiresPython,
					"package_url":     base + "/simple/" + p.Name + "/",
					"yanked":          pf.Yanked,
					"yanked_reason":   pf.YankedReason,
				}
			}
		}
	}
	if r.Context().Err() != nil {
		return
	}
	if info == nil {
		info = map[string]any{"name": p.Name, "version": latest}
	}
	writeJSON(w, r, map[string]any{"info": info, "releases": releases, "urls": urls, "vulnerabilities": []any{}})
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
