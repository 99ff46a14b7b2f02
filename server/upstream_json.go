package server

import (
	"encoding/hex"
	"html"
	"net/http"
	"net/url"

	"pkgindex.dev/pkgindex/server/dist"
	"pkgindex.dev/pkgindex/server/simple"
)

// upstreamPyPIJSON answers PyPI's JSON API for a project with no local
// files from its cached upstream page, as the Simple page of it is
// answered. The page carries no core metadata, so info holds only what it
// says: name, version, requires_python and yank state of the release.
func (s *Server) upstreamPyPIJSON(w http.ResponseWriter, r *http.Request, name, version string) {
	up, err := s.upstream.Page(r.Context(), name, s.store.HashAlgo())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set(UpstreamHeader, up.State)
	base := s.baseURL(r)
	releases := map[string][]pypiFile{}
	for _, v := range up.Versions {
		releases[v] = []pypiFile{}
	}
	want, latest := version, dist.Version{}
	versions := make([]string, len(up.Files))
	for i, f := range up.Files {
		df, err := dist.Parse(f.Filename)
		if err != nil {
			continue
		}
		versions[i] = df.Version
		if v := dist.ParseVersion(df.Version); version == "" && (want == "" || dist.Compare(v, latest) > 0) {
			want, latest = df.Version, v
		}
	}
	var urls []pypiFile
	var spelled string
	wantV := dist.ParseVersion(want)
	for i, f := range up.Files {
		if versions[i] == "" {
			continue
		}
		pf := upstreamPyPIFile(f, base)
		releases[versions[i]] = append(releases[versions[i]], pf)
		if want != "" && dist.Compare(dist.ParseVersion(versions[i]), wantV) == 0 {
			urls = append(urls, pf)
			spelled = versions[i]
		}
	}
	if urls == nil {
		if version != "" {
			s.fail(w, r, errorf(http.StatusNotFound, "release %s %s not found", name, html.EscapeString(truncate(version, 40))))
			return
		}
		urls = []pypiFile{}
	}
	info := map[string]any{
		"name":            name,
		"version":         spelled,
		"requires_python": nil,
		"package_url":     base + "/simple/" + name + "/",
		"project_url":     base + "/simple/" + name + "/",
		"release_url":     base + "/pypi/" + name + "/" + url.PathEscape(spelled) + "/json",
		"yanked":          len(urls) > 0,
		"yanked_reason":   nil,
	}
	for _, f := range urls {
		if f.RequiresPython != nil && info["requires_python"] == nil {
			info["requires_python"] = *f.RequiresPython
		}
		if !f.Yanked {
			info["yanked"] = false
		}
	}
	if info["yanked"] == true && urls[0].YankedReason != nil && *urls[0].YankedReason != "" {
		info["yanked_reason"] = *urls[0].YankedReason
	}
	out := map[string]any{"info": info, "urls": urls, "vulnerabilities": []any{}}
	if version == "" {
		out["releases"] = releases
	}
	writeJSON(w, r, out)
}

// upstreamPyPIFile is one file of an upstream page in PyPI's JSON, linked
// where this index serves it.
func upstreamPyPIFile(f simple.File, base string) pypiFile {
	pf := pypiFile{
		Filename: f.Filename,
		URL:      base + "/packages/" + f.URL,
		Digests:  map[string]string{},
		Size:     f.Size,
		Yanked:   f.Yanked,
	}
	if df, err := dist.Parse(f.Filename); err == nil {
		pf.PackageType, pf.PythonVersion = df.Kind.PackageType(), df.PyVersion()
	}
	if f.HashName != "" {
		pf.Digests[f.HashName] = hex.EncodeToString(f.Hash)
		if f.HashName == "md5" {
			pf.MD5Digest = pf.Digests["md5"]
		}
	}
	if !f.UploadTime.IsZero() {
		pf.UploadTime = f.UploadTime.UTC().Format("2006-01-02T15:04:05")
		pf.UploadTimeISO8601 = f.UploadTime.UTC().Format("2006-01-02T15:04:05.000000Z")
	}
	if f.RequiresPython != "" {
		rp := f.RequiresPython
		pf.RequiresPython = &rp
	}
	if f.Yanked {
		reason := f.YankReason
		pf.YankedReason = &reason
	}
	return pf
}
