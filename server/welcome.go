package server

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
)

var welcomePage = template.Must(template.New("welcome").Parse(`<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>pkgindex</title>
</head>
<body>
<h1>pkgindex</h1>
<p>A Python package index serving {{.Projects}} projects in {{.Files}} files.</p>
<h2>Install</h2>
<pre>pip install --index-url {{.URL}}/simple/ PACKAGE
uv pip install --index-url {{.URL}}/simple/ PACKAGE</pre>
<p>Poetry 1.5 and later:</p>
<pre>poetry source add --priority=primary pkgindex {{.URL}}/simple/</pre>
<p>Poetry before 1.5:</p>
<pre>poetry source add --default pkgindex {{.URL}}/simple/</pre>
<p>or in <code>pip.conf</code>:</p>
<pre>[global]
index-url = {{.URL}}/simple/</pre>
{{if .Uploads}}<h2>Upload</h2>
<pre>twine upload --repository-url {{.URL}}/legacy/ dist/*
uv publish --publish-url {{.URL}}/legacy/ dist/*
poetry config repositories.pkgindex {{.URL}}/legacy/ &amp;&amp; poetry publish -r pkgindex</pre>
{{end}}<p><a href="simple/">Simple index</a> · <a href="packages/">All files</a></p>
<p>pkgindex {{.Version}}</p>
</body>
</html>
`))

// serveWelcome renders the welcome page, or the --welcome file with
// pypiserver's placeholders ({{URL}}, {{VERSION}}, {{NUMPKGS}},
// {{PACKAGES}}, {{SIMPLE}}) filled in.
func (s *Server) serveWelcome(w http.ResponseWriter, r *http.Request) {
	snap, err := s.store.Snapshot(r.Context())
	if err != nil {
		s.fail(w, r, unavailable(r.Context(), err))
		return
	}
	base := s.baseURL(r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	if s.welcome != nil {
		esc := template.HTMLEscapeString
		rep := strings.NewReplacer(
			"{{URL}}", esc(base+"/"), "{{VERSION}}", esc(s.version),
			"{{NUMPKGS}}", strconv.Itoa(snap.FileCount()),
			"{{PACKAGES}}", esc(base+"/packages/"), "{{SIMPLE}}", esc(base+"/simple/"),
		)
		rep.WriteString(w, string(s.welcome))
		return
	}
	welcomePage.Execute(w, map[string]any{
		"Projects": len(snap.Projects()), "Files": snap.FileCount(), "URL": base, "Version": s.version,
		// Without a password file every upload is refused: showing how
		// to upload would only lead to a 403.
		"Uploads": s.cfg.Passwords != "",
	})
}
