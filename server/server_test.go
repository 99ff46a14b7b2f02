package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/server/store"
)

// fixture is a served directory with a few projects in both layouts.
type fixture struct {
	root, root2 string
	srv         *httptest.Server
	wheelSum    string
	metaSum     string
}

func newFixture(t *testing.T, mutate ...func(*Config)) *fixture {
	t.Helper()
	root, root2 := t.TempDir(), t.TempDir()
	demo := pkgtest.Spec{Name: "Demo.Pkg", Version: "1.0", RequiresPython: ">=3.8,<4", Summary: "demo"}
	pkgtest.Wheel(t, root, demo)
	pkgtest.Sdist(t, root, demo)
	pkgtest.Wheel(t, root, pkgtest.Spec{Name: "demo_pkg", Version: "2.0rc1", Summary: "demo two"})
	// per-project layout, with a yank marker and a status marker
	must(t, os.MkdirAll(filepath.Join(root, "other"), 0o755))
	pkgtest.Wheel(t, filepath.Join(root, "other"), pkgtest.Spec{Name: "other", Version: "0.1"})
	pkgtest.Wheel(t, filepath.Join(root, "other"), pkgtest.Spec{Name: "other", Version: "0.2"})
	must(t, os.WriteFile(filepath.Join(root, "other", "other-0.2-py3-none-any.whl.yanked"), []byte("broken <build>\n"), 0o644))
	must(t, os.MkdirAll(filepath.Join(root, "gone"), 0o755))
	pkgtest.Wheel(t, filepath.Join(root, "gone"), pkgtest.Spec{Name: "gone", Version: "1.0"})
	must(t, os.WriteFile(filepath.Join(root, "gone", ".project-status"), []byte(`{"status":"quarantined","reason":"malware"}`), 0o644))
	// nested, hidden and junk entries
	must(t, os.MkdirAll(filepath.Join(root, "team", "deep"), 0o755))
	pkgtest.Sdist(t, filepath.Join(root, "team", "deep"), pkgtest.Spec{Name: "nested-thing", Version: "3.0"})
	must(t, os.MkdirAll(filepath.Join(root, ".hidden"), 0o755))
	pkgtest.Wheel(t, filepath.Join(root, ".hidden"), pkgtest.Spec{Name: "secret", Version: "1.0"})
	must(t, os.WriteFile(filepath.Join(root, ".secret-1.0.tar.gz"), []byte("x"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "README.txt"), []byte("not a package"), 0o644))
	// second root: its own project, and a file the first root shadows
	pkgtest.Wheel(t, root2, pkgtest.Spec{Name: "second", Version: "1.0"})
	must(t, os.WriteFile(filepath.Join(root2, demo.WheelName()), []byte("shadowed"), 0o644))

	cfg, err := ParseFlags([]string{"--root", root, "--root", root2}, func(string) string { return "" }, io.Discard)
	must(t, err)
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := New(cfg, testStore(t, cfg), logr.Discard(), "test")
	must(t, err)
	f := &fixture{root: root, root2: root2, srv: httptest.NewServer(s.Handler())}
	t.Cleanup(f.srv.Close)
	wb, _ := os.ReadFile(filepath.Join(root, demo.WheelName()))
	sum := sha256.Sum256(wb)
	f.wheelSum = hex.EncodeToString(sum[:])
	msum := sha256.Sum256(demo.Metadata())
	f.metaSum = hex.EncodeToString(msum[:])
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type call struct {
	name     string
	method   string
	path     string
	header   map[string]string
	code     int
	ctype    string
	location string
	contains []string
	excludes []string
	match    string // regexp the body must match
}

func (f *fixture) do(t *testing.T, c call) (*http.Response, string) {
	t.Helper()
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, f.srv.URL+c.path, nil)
	must(t, err)
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp, string(body)
}

func TestCalls(t *testing.T) {
	f := newFixture(t)
	jsonAccept := map[string]string{"Accept": "application/vnd.pypi.simple.v1+json"}
	for _, c := range []call{
		{name: "root index html", path: "/simple/", code: 200, ctype: "text/html",
			contains: []string{`<meta name="pypi:repository-version" content="1.4">`, `<a href="demo-pkg/">demo-pkg</a>`,
				`<a href="other/">other</a>`, `<a href="nested-thing/">`, `<a href="second/">`},
			excludes: []string{"secret", "README"}},
		{name: "root index json", path: "/simple/", header: jsonAccept, code: 200, ctype: "application/vnd.pypi.simple.v1+json",
			contains: []string{`"api-version":"1.4"`, `{"name":"demo-pkg"}`, `{"name":"second"}`}},
		{name: "root index format param", path: "/simple/?format=application/vnd.pypi.simple.v1+json", code: 200,
			ctype: "application/vnd.pypi.simple.v1+json"},
		{name: "pip's accept header picks json", path: "/simple/", code: 200, ctype: "application/vnd.pypi.simple.v1+json",
			header: map[string]string{"Accept": "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"}},
		{name: "v1 html", path: "/simple/", header: map[string]string{"Accept": "application/vnd.pypi.simple.v1+html"},
			code: 200, ctype: "application/vnd.pypi.simple.v1+html"},
		{name: "not acceptable", path: "/simple/", header: map[string]string{"Accept": "image/png"}, code: 406},
		{name: "q=0 refuses", path: "/simple/", header: map[string]string{"Accept": "application/vnd.pypi.simple.v1+json;q=0"}, code: 406},
		{name: "huge accept header", path: "/simple/", header: map[string]string{"Accept": strings.Repeat("a/b;q=0.5, ", 3000)}, code: 406},
		{name: "project html", path: "/simple/demo-pkg/", code: 200, ctype: "text/html",
			contains: []string{
				`href="../../packages/demo_pkg-1.0-py3-none-any.whl#sha256=` + f.wheelSum + `"`,
				`data-requires-python="&gt;=3.8,&lt;4"`,
				`data-core-metadata="sha256=` + f.metaSum + `" data-dist-info-metadata="sha256=` + f.metaSum + `"`,
				`>demo_pkg-1.0.tar.gz</a>`, `>demo_pkg-2.0rc1-py3-none-any.whl</a>`,
			}},
		{name: "project json", path: "/simple/demo-pkg/", header: jsonAccept, code: 200,
			contains: []string{`"name":"demo-pkg"`, `"versions":["1.0","2.0rc1"]`, `"hashes":{"sha256":"` + f.wheelSum + `"}`,
				`"requires-python":">=3.8,<4"`, `"core-metadata":{"sha256":"` + f.metaSum + `"}`, `"yanked":false`,
				`"project-status":{"status":"active"}`},
			match: `"size":\d+,"upload-time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"`},
		{name: "yanked html", path: "/simple/other/", code: 200,
			contains: []string{`href="../../packages/other/other-0.2-py3-none-any.whl#sha256=`, `data-yanked="broken &lt;build&gt;"`}},
		{name: "yanked json", path: "/simple/other/", header: jsonAccept, code: 200,
			contains: []string{`"yanked":"broken <build>"`, `"yanked":false`}},
		{name: "quarantined lists nothing", path: "/simple/gone/", header: jsonAccept, code: 200,
			contains: []string{`"project-status":{"status":"quarantined","reason":"malware"}`, `"files":[]`}},
		{name: "quarantined html meta", path: "/simple/gone/", code: 200,
			contains: []string{`<meta name="pypi:project-status" content="quarantined">`, `<meta name="pypi:project-status-reason" content="malware">`},
			excludes: []string{"gone-1.0"}},
		{name: "nested layout", path: "/simple/nested-thing/", code: 200, contains: []string{`href="../../packages/team/deep/nested_thing-3.0.tar.gz#sha256=`}},
		{name: "second root", path: "/simple/second/", code: 200, contains: []string{`../../packages/second-1.0-py3-none-any.whl`}},
		{name: "non-normalized redirects", path: "/simple/Demo_Pkg/", code: 301, location: "../demo-pkg/"},
		{name: "missing slash redirects and normalizes", path: "/simple/Demo.Pkg", code: 301, location: "./demo-pkg/"},
		{name: "missing slash keeps query", path: "/simple/demo-pkg?format=json", code: 301, location: "./demo-pkg/?format=json"},
		{name: "simple without slash", path: "/simple", code: 301, location: "./simple/"},
		{name: "unknown project", path: "/simple/nope/", code: 404},
		{name: "download wheel", path: "/packages/demo_pkg-1.0-py3-none-any.whl", code: 200, ctype: "application/octet-stream"},
		{name: "download sdist", path: "/packages/demo_pkg-1.0.tar.gz", code: 200, ctype: "application/gzip"},
		{name: "download nested", path: "/packages/team/deep/nested_thing-3.0.tar.gz", code: 200},
		{name: "download from second root", path: "/packages/second-1.0-py3-none-any.whl", code: 200},
		{name: "head", method: "HEAD", path: "/packages/demo_pkg-1.0.tar.gz", code: 200},
		{name: "metadata", path: "/packages/demo_pkg-1.0-py3-none-any.whl.metadata", code: 200,
			contains: []string{"Name: Demo.Pkg", "Requires-Python: >=3.8,<4"}},
		{name: "no metadata for sdist", path: "/packages/demo_pkg-1.0.tar.gz.metadata", code: 404},
		{name: "hidden file", path: "/packages/.secret-1.0.tar.gz", code: 400},
		{name: "hidden dir", path: "/packages/.hidden/secret-1.0-py3-none-any.whl", code: 400},
		{name: "not a distribution", path: "/packages/README.txt", code: 404},
		{name: "yank marker is not served", path: "/packages/other/other-0.2-py3-none-any.whl.yanked", code: 404},
		{name: "dotdot is cleaned away by a redirect", path: "/packages/../../etc/passwd", code: 307, location: "/etc/passwd"},
		{name: "cleaned dotdot leads nowhere", path: "/etc/passwd", code: 404},
		{name: "encoded dotdot", path: "/packages/%2e%2e/%2e%2e/etc/passwd", code: 400},
		{name: "encoded slash dotdot", path: "/packages/team%2f..%2f..%2fdemo_pkg-1.0.tar.gz", code: 400},
		{name: "double slash is cleaned", path: "/packages//etc/passwd", code: 307, location: "/packages/etc/passwd"},
		{name: "cleaned path is not a package", path: "/packages/etc/passwd", code: 404},
		{name: "missing file", path: "/packages/demo_pkg-9.9.tar.gz", code: 404},
		{name: "packages list", path: "/packages/", code: 200,
			contains: []string{`<a href="demo_pkg-1.0-py3-none-any.whl#sha256=` + f.wheelSum + `">demo_pkg-1.0-py3-none-any.whl</a>`,
				`<a href="team/deep/nested_thing-3.0.tar.gz#sha256=`}},
		{name: "pypiserver json", path: "/demo-pkg/json", code: 200, ctype: "application/json",
			contains: []string{`"info":{"version":"2.0rc1"}`, `/packages/demo_pkg-1.0.tar.gz"`}},
		{name: "pypiserver json redirect", path: "/Demo_Pkg/json", code: 301, location: "../demo-pkg/json"},
		{name: "pypiserver project redirect", path: "/Demo_Pkg/", code: 301, location: "/simple/demo-pkg/"},
		{name: "pypi json", path: "/pypi/demo-pkg/json", code: 200, ctype: "application/json",
			contains: []string{`"sha256":"` + f.wheelSum + `"`, `"packagetype":"bdist_wheel"`, `"packagetype":"sdist"`,
				`"requires_python":"\u003e=3.8,\u003c4"`, `"version":"2.0rc1"`, `"summary":"demo two"`}},
		{name: "pypi json unknown", path: "/pypi/nope/json", code: 404},
		{name: "welcome", path: "/", code: 200, contains: []string{"pip install --index-url http://", "5 projects"}},
		{name: "healthz", path: "/healthz", code: 200},
		{name: "health alias", path: "/health", code: 200, contains: []string{"Ok"}},
		{name: "readyz", path: "/readyz", code: 200},
		{name: "metrics", path: "/metrics", code: 200, contains: []string{"pkgindex_http_requests_total", "pkgindex_store_checks_total",
			"pkgindex_digest_cache_hits_total", "pkgindex_http_request_duration_seconds_bucket"}},
		{name: "favicon", path: "/favicon.ico", code: 404},
		{name: "post without a password file", method: "POST", path: "/", code: 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := f.do(t, c)
			if resp.StatusCode != c.code {
				t.Fatalf("%s %s: status %d, want %d; body:\n%s", c.method, c.path, resp.StatusCode, c.code, body)
			}
			if c.ctype != "" && !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), c.ctype)
			}
			if c.location != "" && resp.Header.Get("Location") != c.location {
				t.Errorf("Location %q, want %q", resp.Header.Get("Location"), c.location)
			}
			for _, s := range c.contains {
				if !strings.Contains(body, s) {
					t.Errorf("body lacks %s\n%s", s, body)
				}
			}
			for _, s := range c.excludes {
				if strings.Contains(body, s) {
					t.Errorf("body has %s\n%s", s, body)
				}
			}
			if c.match != "" && !regexp.MustCompile(c.match).MatchString(body) {
				t.Errorf("body does not match %s\n%s", c.match, body)
			}
		})
	}
}

func TestJSONIsValid(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/simple/", "/simple/demo-pkg/", "/simple/other/", "/simple/gone/"} {
		_, body := f.do(t, call{path: p, header: map[string]string{"Accept": "application/vnd.pypi.simple.v1+json"}})
		var v map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Errorf("%s: %v\n%s", p, err, body)
		}
	}
}

func TestConditionalAndRange(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.CacheControl = 3600 })
	resp, _ := f.do(t, call{path: "/simple/demo-pkg/"})
	tag := resp.Header.Get("ETag")
	if tag == "" || resp.Header.Get("Vary") != "Accept" {
		t.Fatalf("project page: ETag %q, Vary %q", tag, resp.Header.Get("Vary"))
	}
	if resp, _ := f.do(t, call{path: "/simple/demo-pkg/", header: map[string]string{"If-None-Match": tag}}); resp.StatusCode != 304 {
		t.Errorf("revalidation: %d, want 304", resp.StatusCode)
	}
	jresp, _ := f.do(t, call{path: "/simple/demo-pkg/", header: map[string]string{"Accept": "application/vnd.pypi.simple.v1+json"}})
	if jresp.Header.Get("ETag") == tag {
		t.Error("HTML and JSON pages share an ETag")
	}

	file := "/packages/demo_pkg-1.0.tar.gz"
	resp, full := f.do(t, call{path: file})
	if resp.Header.Get("Cache-Control") != "public, max-age=3600" || resp.Header.Get("ETag") == "" ||
		resp.Header.Get("Last-Modified") == "" || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("download headers: %v", resp.Header)
	}
	if resp.ContentLength != int64(len(full)) {
		t.Errorf("Content-Length %d, body %d", resp.ContentLength, len(full))
	}
	r304, _ := f.do(t, call{path: file, header: map[string]string{"If-None-Match": resp.Header.Get("ETag")}})
	if r304.StatusCode != 304 {
		t.Errorf("If-None-Match: %d", r304.StatusCode)
	}
	rims, _ := f.do(t, call{path: file, header: map[string]string{"If-Modified-Since": time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}})
	if rims.StatusCode != 304 {
		t.Errorf("If-Modified-Since: %d", rims.StatusCode)
	}
	rr, part := f.do(t, call{path: file, header: map[string]string{"Range": "bytes=2-9"}})
	if rr.StatusCode != 206 || part != full[2:10] {
		t.Errorf("Range: %d %q", rr.StatusCode, part)
	}
	bad, _ := f.do(t, call{path: file, header: map[string]string{"Range": "bytes=100000-"}})
	if bad.StatusCode != 416 {
		t.Errorf("unsatisfiable Range: %d", bad.StatusCode)
	}

	// pypiserver's /packages/ is rendered in pieces: its length and tag
	// must still describe the whole body.
	lresp, list := f.do(t, call{path: "/packages/"})
	if lresp.ContentLength != int64(len(list)) || !strings.HasSuffix(list, "</html>\n") {
		t.Errorf("/packages/: Content-Length %d, body %d", lresp.ContentLength, len(list))
	}
	if r, _ := f.do(t, call{path: "/packages/", header: map[string]string{"If-None-Match": lresp.Header.Get("ETag")}}); r.StatusCode != 304 {
		t.Errorf("/packages/ revalidation: %d, want 304", r.StatusCode)
	}
}

func TestFallbackAndPrefix(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.FallbackURL = "https://pypi.example/simple/"; c.BaseURL = "/pypi" })
	resp, _ := f.do(t, call{path: "/pypi/simple/requests/"})
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://pypi.example/simple/requests/" {
		t.Errorf("fallback: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := f.do(t, call{path: "/pypi/simple/demo-pkg/"})
	if resp.StatusCode != 200 || !strings.Contains(body, "../../packages/demo_pkg-1.0.tar.gz") {
		t.Errorf("prefixed project page: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := f.do(t, call{path: "/pypi/packages/demo_pkg-1.0.tar.gz"}); resp.StatusCode != 200 {
		t.Errorf("prefixed download: %d", resp.StatusCode)
	}
	if resp, _ := f.do(t, call{path: "/simple/"}); resp.StatusCode != 404 {
		t.Errorf("unprefixed path: %d, want 404", resp.StatusCode)
	}
	_, body = f.do(t, call{path: "/pypi/demo-pkg/json"})
	if !strings.Contains(body, f.srv.URL+"/pypi/packages/demo_pkg-1.0.tar.gz") {
		t.Errorf("prefixed pypiserver json lacks absolute prefixed URL:\n%s", body)
	}
}

func TestWelcomeTemplate(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "welcome.html")
	must(t, os.WriteFile(tmpl, []byte("<p>{{NUMPKGS}} files at {{URL}} see {{SIMPLE}}</p>"), 0o644))
	f := newFixture(t, func(c *Config) { c.Welcome = tmpl })
	_, body := f.do(t, call{path: "/"})
	want := "<p>8 files at " + f.srv.URL + "/ see " + f.srv.URL + "/simple/</p>"
	if body != want {
		t.Errorf("welcome = %q, want %q", body, want)
	}
}

// testStore makes the store a server with cfg serves.
func testStore(t testing.TB, cfg Config) *store.Store {
	t.Helper()
	st, err := store.New(cfg.StoreOptions(logr.Discard()))
	if err != nil {
		t.Fatal(err)
	}
	// Before the roots' temporary directories go: the store may still be
	// writing a facts record into them.
	t.Cleanup(func() { st.Close() })
	return st
}
