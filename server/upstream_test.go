package server

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/server/store"
)

// upstreamFixture is an index with an upstream: a second pkgindex server
// behind a proxy the test controls, and after it a static PEP 503 tree, the
// kind of upstream that speaks HTML alone.
type upstreamFixture struct {
	root   string // the local root
	srv    *httptest.Server
	up     *httptest.Server // the proxy in front of the upstream pkgindex
	static *httptest.Server
	// fault, when set, answers an upstream request instead of the
	// upstream; it returns false to let the request through.
	fault atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]
	mu    sync.Mutex
	asked map[string]int // upstream requests by path
	// upHandler is the upstream pkgindex itself, behind the proxy.
	upHandler http.Handler
	big       []byte // the upstream's big wheel
}

// provenance is the PEP 740 provenance object of the upstream's lib wheel.
const provenance = `{"version":1,"attestation_bundles":[]}`

func (f *upstreamFixture) setFault(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.fault.Store(&fn)
}

func (f *upstreamFixture) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked[path]
}

func newUpstreamFixture(t testing.TB, extra ...string) *upstreamFixture {
	t.Helper()
	f := &upstreamFixture{asked: map[string]int{}}
	upRoot := t.TempDir()
	for _, s := range []pkgtest.Spec{
		{Name: "lib", Version: "1.0", RequiresPython: ">=3.8"},
		{Name: "private", Version: "9.0"},
		{Name: "merged", Version: "1.0", Summary: "the upstream's"},
		{Name: "merged", Version: "2.0"},
		{Name: "denied", Version: "1.0"},
	} {
		must(t, os.MkdirAll(filepath.Join(upRoot, s.Name), 0o755))
		pkgtest.Wheel(t, filepath.Join(upRoot, s.Name), s)
	}
	must(t, os.WriteFile(filepath.Join(upRoot, "lib", "lib-1.0-py3-none-any.whl.yanked"), []byte("use 1.1"), 0o644))
	must(t, os.WriteFile(filepath.Join(upRoot, "lib", "lib-1.0-py3-none-any.whl.provenance"), []byte(provenance), 0o644))
	bigSpec := pkgtest.Spec{Name: "big", Version: "1.0", Data: noise(320 << 10)}
	must(t, os.MkdirAll(filepath.Join(upRoot, "big"), 0o755))
	f.big, _ = os.ReadFile(pkgtest.Wheel(t, filepath.Join(upRoot, "big"), bigSpec))
	upCfg, err := ParseFlags([]string{"--root", upRoot}, func(string) string { return "" }, io.Discard)
	must(t, err)
	upSrv, err := New(upCfg, testStore(t, upCfg), logr.Discard(), "test")
	must(t, err)
	f.upHandler = upSrv.Handler()
	f.up = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.asked[r.URL.Path]++
		f.mu.Unlock()
		if fn := f.fault.Load(); fn != nil && (*fn)(w, r) {
			return
		}
		upSrv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(f.up.Close)

	// The static tree: one project, its page plain PEP 503 HTML with
	// entities, a relative link, a digest and data- attributes.
	staticRoot := t.TempDir()
	html := pkgtest.Spec{Name: "htmlonly", Version: "1.0"}
	must(t, os.MkdirAll(filepath.Join(staticRoot, "simple", "htmlonly"), 0o755))
	must(t, os.MkdirAll(filepath.Join(staticRoot, "files"), 0o755))
	wb := html.WheelBytes()
	must(t, os.WriteFile(filepath.Join(staticRoot, "files", html.WheelName()), wb, 0o644))
	sum := sha256.Sum256(wb)
	page := fmt.Sprintf("<!DOCTYPE html><html><body><!-- <a href=\"x-1.0.tar.gz\"> -->\n"+
		"<a href=\"../../files/%s#sha256=%x\" data-requires-python=\"&gt;=3.7\">%s</a>\n"+
		"<a href='../../files/htmlonly-0.1.tar.gz' data-yanked=''>htmlonly-0.1.tar.gz</a>\n"+
		"<a href='../../files/other-1.0.tar.gz'>another project's file</a></body></html>\n", html.WheelName(), sum, html.WheelName())
	must(t, os.WriteFile(filepath.Join(staticRoot, "simple", "htmlonly", "index.html"), []byte(page), 0o644))
	f.static = httptest.NewServer(http.FileServer(http.Dir(staticRoot)))
	t.Cleanup(f.static.Close)

	f.root = t.TempDir()
	must(t, os.MkdirAll(filepath.Join(f.root, "private"), 0o755))
	pkgtest.Wheel(t, filepath.Join(f.root, "private"), pkgtest.Spec{Name: "private", Version: "1.0"})
	must(t, os.MkdirAll(filepath.Join(f.root, "merged"), 0o755))
	pkgtest.Wheel(t, filepath.Join(f.root, "merged"), pkgtest.Spec{Name: "merged", Version: "1.0", Summary: "the local one"})
	f.srv = f.serve(t, extra...)
	return f
}

// serve starts a replica of the index under test on the fixture's root.
func (f *upstreamFixture) serve(t testing.TB, extra ...string) *httptest.Server {
	args := append([]string{"--root", f.root, "--upstream", f.up.URL + "/simple/", "--upstream", f.static.URL + "/simple",
		"--upstream-merge", "merged", "--upstream-deny", "denied", "--upstream-timeout", "5s"}, extra...)
	cfg, err := ParseFlags(args, func(string) string { return "" }, io.Discard)
	must(t, err)
	s, err := New(cfg, testStore(t, cfg), logr.Discard(), "test")
	must(t, err)
	t.Cleanup(func() { s.upstream.Close() })
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	code int
	body string
	hdr  http.Header
	err  error
}

func fetch(t testing.TB, u, accept string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header, err}
}

func TestUpstreamPages(t *testing.T) {
	f := newUpstreamFixture(t)
	const json = "application/vnd.pypi.simple.v1+json"
	for _, tc := range []struct {
		name, path, accept string
		code               int
		state              string
		want, not          []string
	}{
		{name: "an upstream project, JSON", path: "/simple/lib/", accept: json, code: 200, state: "fetched",
			want: []string{`"url":"../../packages/.upstream/lib/lib-1.0-py3-none-any.whl"`, `"yanked":"use 1.1"`,
				`"requires-python":">=3.8"`, `"core-metadata":{"sha256":`, `"tracks":["` + f.up.URL + `/simple/lib/"]`, `"versions":["1.0"]`,
				`"provenance":"../../packages/.upstream/lib/lib-1.0-py3-none-any.whl.provenance"`}},
		{name: "cached, as HTML", path: "/simple/lib/", code: 200, state: "hit",
			want: []string{`href="../../packages/.upstream/lib/lib-1.0-py3-none-any.whl#sha256=`, `data-yanked="use 1.1"`,
				`data-requires-python="&gt;=3.8"`, `<meta name="pypi:tracks" content="` + f.up.URL + `/simple/lib/">`}},
		{name: "an HTML-only upstream after a 404", path: "/simple/htmlonly/", accept: json, code: 200, state: "fetched",
			want: []string{`"filename":"htmlonly-1.0-py3-none-any.whl"`, `"requires-python":">=3.7"`, `"yanked":true`, `"sha256":"`},
			not:  []string{"x-1.0.tar.gz", "other-1.0"}},
		{name: "a local project keeps the upstream's out", path: "/simple/private/", accept: json, code: 200,
			want: []string{"private-1.0-py3-none-any.whl"}, not: []string{"9.0", ".upstream", "tracks"}},
		{name: "a merged project: the local file wins", path: "/simple/merged/", accept: json, code: 200, state: "fetched",
			want: []string{`"url":"../../packages/merged/merged-1.0-py3-none-any.whl"`, `"url":"../../packages/.upstream/merged/merged-2.0-py3-none-any.whl"`,
				`"alternate-locations":["` + f.up.URL + `/simple/merged/"]`},
			not: []string{".upstream/merged/merged-1.0"}},
		{name: "a denied name", path: "/simple/denied/", code: 404},
		{name: "a name that exists nowhere", path: "/simple/nowhere/", code: 404},
		{name: "PyPI's JSON of an upstream project", path: "/pypi/lib/json", code: 200, state: "hit",
			want: []string{`"name":"lib"`, `"version":"1.0"`, `"releases":{"1.0":[`, `"requires_python":"\u003e=3.8"`,
				`"url":"` + f.srv.URL + `/packages/.upstream/lib/lib-1.0-py3-none-any.whl"`, `"yanked":true`,
				`"yanked_reason":"use 1.1"`, `"digests":{"sha256":"`, `"packagetype":"bdist_wheel"`}},
		{name: "PyPI's JSON of an upstream release", path: "/pypi/lib/1.0/json", code: 200, state: "hit",
			want: []string{`"version":"1.0"`, `"filename":"lib-1.0-py3-none-any.whl"`}, not: []string{`"releases"`}},
		{name: "PyPI's JSON of an upstream release that does not exist", path: "/pypi/lib/2.0/json", code: 404, state: "hit"},
		{name: "PyPI's JSON of a local project keeps the upstream's out", path: "/pypi/private/json", code: 200,
			want: []string{`"version":"1.0"`}, not: []string{"9.0", ".upstream"}},
		{name: "PyPI's JSON of a denied name", path: "/pypi/denied/json", code: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := fetch(t, f.srv.URL+tc.path, tc.accept)
			if a.err != nil || a.code != tc.code {
				t.Fatalf("GET %s: %d %v\n%s", tc.path, a.code, a.err, a.body)
			}
			if got := a.hdr.Get(UpstreamHeader); got != tc.state {
				t.Errorf("%s = %q, want %q", UpstreamHeader, got, tc.state)
			}
			for _, w := range tc.want {
				if !strings.Contains(a.body, w) {
					t.Errorf("page lacks %s:\n%s", w, a.body)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(a.body, w) {
					t.Errorf("page has %s:\n%s", w, a.body)
				}
			}
		})
	}
	if n := f.count("/simple/denied/"); n != 0 {
		t.Errorf("the denied name was asked upstream %d times", n)
	}
	before := f.count("/simple/nowhere/")
	fetch(t, f.srv.URL+"/simple/nowhere/", "")
	if n := f.count("/simple/nowhere/"); n != before {
		t.Errorf("a cached not-found asked the upstream again")
	}
	if a := fetch(t, f.srv.URL+"/simple/", ""); strings.Contains(a.body, "lib") {
		t.Errorf("/simple/ lists upstream projects:\n%s", a.body)
	}
}

func TestUpstreamFiles(t *testing.T) {
	f := newUpstreamFixture(t)
	const wheel = "/packages/.upstream/lib/lib-1.0-py3-none-any.whl"
	a := fetch(t, f.srv.URL+"/simple/lib/", "")
	if a.code != 200 {
		t.Fatalf("page: %d", a.code)
	}
	first := fetch(t, f.srv.URL+wheel, "")
	if first.err != nil || first.code != 200 || first.hdr.Get(UpstreamHeader) != "fetched" {
		t.Fatalf("first download: %d %v %v", first.code, first.err, first.hdr)
	}
	lib := pkgtest.Spec{Name: "lib", Version: "1.0", RequiresPython: ">=3.8"}
	if first.body != string(lib.WheelBytes()) {
		t.Fatalf("first download: wrong bytes")
	}
	cached := filepath.Join(f.root, store.StateDir, "cache", "files", "lib", lib.WheelName())
	if b, err := os.ReadFile(cached); err != nil || string(b) != first.body {
		t.Fatalf("not cached whole: %v", err)
	}
	// Kept as an upload is, readable by whatever else reads the volume.
	if fi, err := os.Stat(cached); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("cached file's mode: %v %v", fi.Mode(), err)
	}
	// The upstream gone, the page and the file are served from the cache.
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return true
	})
	again := fetch(t, f.srv.URL+wheel, "")
	if again.code != 200 || again.body != first.body || again.hdr.Get(UpstreamHeader) != "hit" {
		t.Fatalf("cached download: %d %v", again.code, again.hdr)
	}
	meta := fetch(t, f.srv.URL+wheel+".metadata", "")
	if meta.code != 502 {
		t.Errorf("metadata of a down upstream, never fetched: %d", meta.code)
	}
	f.fault.Store(nil)
	meta = fetch(t, f.srv.URL+wheel+".metadata", "")
	if meta.code != 200 || meta.body != string(lib.Metadata()) {
		t.Errorf("core metadata: %d %q", meta.code, meta.body)
	}
	for _, tc := range []struct{ path string }{
		{"/packages/.upstream/lib/lib-9.9-py3-none-any.whl"},                  // not on the page
		{"/packages/.upstream/private/private-9.0-py3-none-any.whl"},          // a local name
		{"/packages/.upstream/denied/denied-1.0-py3-none-any.whl"},            // denied
		{"/packages/.upstream/Lib/lib-1.0-py3-none-any.whl"},                  // not normalized
		{"/packages/.upstream/lib/.lib-1.0-py3-none-any.whl.lock"},            // hidden
		{"/packages/.upstream/merged/merged-2.0-py3-none-any.whl.provenance"}, // none upstream
		{"/packages/.upstream/merged/merged-1.0-py3-none-any.whl"},            // merged, but a local file has the name
	} {
		if a := fetch(t, f.srv.URL+tc.path, ""); a.code != 404 {
			t.Errorf("GET %s: %d, want 404", tc.path, a.code)
		}
	}
	if a := fetch(t, f.srv.URL+wheel+".provenance", ""); a.code != 200 || a.body != provenance {
		t.Errorf("provenance: %d %q", a.code, a.body)
	}
	if a := fetch(t, f.srv.URL+"/packages/.upstream/merged/merged-2.0-py3-none-any.whl", ""); a.code != 200 {
		t.Errorf("a merged project's upstream file: %d", a.code)
	}
	if n := f.count("/packages/private/private-1.0-py3-none-any.whl") + f.count("/packages/merged/merged-1.0-py3-none-any.whl"); n != 0 {
		t.Errorf("the upstream's file of a local name was fetched")
	}
}

// TestUpstreamBrokenFiles: whatever goes wrong with a file upstream, no
// client gets the whole of it and nothing is kept; the next download,
// with the upstream well again, fetches it. A file longer than what is
// withheld is streamed: the upstream sends the first part, the client
// gets the headers and what arrived, and only then the upstream breaks
// the rest; the client's connection must then be cut.
func TestUpstreamBrokenFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		// fault answers the file's request; gate closes once the client
		// has the headers of a streamed answer.
		fault func(f *upstreamFixture, w http.ResponseWriter, gate <-chan struct{})
		code  int // 0: streamed, then cut
	}{
		{name: "wrong bytes, small file", file: "lib/lib-1.0-py3-none-any.whl", code: 502,
			fault: func(_ *upstreamFixture, w http.ResponseWriter, _ <-chan struct{}) {
				b := pkgtest.Spec{Name: "lib", Version: "1.0", RequiresPython: ">=3.8"}.WheelBytes()
				b[len(b)/2] ^= 1
				w.Write(b)
			}},
		{name: "wrong bytes, big file", file: "big/big-1.0-py3-none-any.whl",
			fault: func(f *upstreamFixture, w http.ResponseWriter, gate <-chan struct{}) {
				b := bytes.Clone(f.big)
				b[len(b)-10] ^= 1
				w.Write(b[:200<<10])
				w.(http.Flusher).Flush()
				<-gate
				w.Write(b[200<<10:])
			}},
		{name: "truncated", file: "big/big-1.0-py3-none-any.whl",
			fault: func(f *upstreamFixture, w http.ResponseWriter, gate <-chan struct{}) {
				w.Header().Set("Content-Length", fmt.Sprint(len(f.big)))
				w.Write(f.big[:200<<10])
				w.(http.Flusher).Flush()
				<-gate
			}},
		{name: "5xx", file: "lib/lib-1.0-py3-none-any.whl", code: 502,
			fault: func(_ *upstreamFixture, w http.ResponseWriter, _ <-chan struct{}) { http.Error(w, "boom", 500) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newUpstreamFixture(t)
			project := strings.Split(tc.file, "/")[0]
			fetch(t, f.srv.URL+"/simple/"+project+"/", "")
			gate := make(chan struct{})
			f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasSuffix(r.URL.Path, ".whl") {
					return false
				}
				tc.fault(f, w, gate)
				return true
			})
			resp, err := http.Get(f.srv.URL + "/packages/.upstream/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if tc.code != 0 {
				resp.Body.Close()
				if resp.StatusCode != tc.code {
					t.Fatalf("got %d, want %d", resp.StatusCode, tc.code)
				}
			} else {
				close(gate)
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || err == nil {
					t.Fatalf("the stream was not cut: %d %v", resp.StatusCode, err)
				}
				if len(b) >= len(f.big) {
					t.Errorf("the client got %d bytes of a broken file", len(b))
				}
			}
			if _, err := os.Stat(filepath.Join(f.root, store.StateDir, "cache", "files", tc.file)); err == nil {
				t.Errorf("a broken file was kept")
			}
			f.fault.Store(nil)
			if a := fetch(t, f.srv.URL+"/packages/.upstream/"+tc.file, ""); a.code != 200 || a.err != nil {
				t.Errorf("after the upstream healed: %d %v", a.code, a.err)
			}
		})
	}
}

// TestUpstreamOneFetch: many clients of three replicas on one root ask
// for one uncached file at once; the upstream is asked once and every
// client gets the file's bytes.
func TestUpstreamOneFetch(t *testing.T) {
	f := newUpstreamFixture(t)
	replicas := []*httptest.Server{f.srv, f.serve(t), f.serve(t)}
	gate := make(chan struct{})
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, ".whl") {
			<-gate // hold the fetch until every client asked
		}
		return false
	})
	for _, r := range replicas {
		fetch(t, r.URL+"/simple/big/", "")
	}
	const clients = 12
	var wg sync.WaitGroup
	answers := make([]answer, clients)
	for i := range clients {
		srv := replicas[i%len(replicas)]
		wg.Go(func() { answers[i] = fetch(t, srv.URL+"/packages/.upstream/big/big-1.0-py3-none-any.whl", "") })
	}
	// Let the clients reach the server before the upstream answers; the
	// upstream counts them whenever they come, so this only gives the
	// test its point, not its verdict.
	for f.count("/packages/big/big-1.0-py3-none-any.whl") == 0 {
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	for i, a := range answers {
		if a.err != nil || a.code != 200 || a.body != string(f.big) {
			t.Errorf("client %d: %d %v, %d bytes", i, a.code, a.err, len(a.body))
		}
	}
	if n := f.count("/packages/big/big-1.0-py3-none-any.whl"); n != 1 {
		t.Errorf("the upstream was asked %d times for the file, want 1", n)
	}
}

// TestUpstreamRevalidation: past the TTL a page is revalidated with the
// upstream's validators, and when the upstream fails the cached page is
// served stale, said in a header.
func TestUpstreamRevalidation(t *testing.T) {
	f := newUpstreamFixture(t, "--upstream-ttl", "0s")
	if a := fetch(t, f.srv.URL+"/simple/lib/", ""); a.hdr.Get(UpstreamHeader) != "fetched" {
		t.Fatalf("first: %v", a.hdr)
	}
	var conditional atomic.Bool
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		conditional.Store(r.Header.Get("If-None-Match") != "")
		return false
	})
	if a := fetch(t, f.srv.URL+"/simple/lib/", ""); a.code != 200 || a.hdr.Get(UpstreamHeader) != "revalidated" || !conditional.Load() {
		t.Fatalf("revalidation: %d %v, conditional %v", a.code, a.hdr, conditional.Load())
	}
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		http.Error(w, "down", http.StatusBadGateway)
		return true
	})
	if a := fetch(t, f.srv.URL+"/simple/lib/", ""); a.code != 200 || a.hdr.Get(UpstreamHeader) != "stale" || !strings.Contains(a.body, "lib-1.0") {
		t.Fatalf("stale-if-error: %d %v", a.code, a.hdr)
	}
	if a := fetch(t, f.srv.URL+"/simple/merged2/", ""); a.code != 502 {
		t.Errorf("an uncached project with the upstream down: %d, want 502", a.code)
	}
}

func TestUpstreamPageLimits(t *testing.T) {
	f := newUpstreamFixture(t, "--upstream-max-page-size", "100")
	if a := fetch(t, f.srv.URL+"/simple/lib/", ""); a.code != 502 {
		t.Errorf("an oversize page: %d, want 502", a.code)
	}
	// The upstream moved under /mirror/: its page redirects there, and
	// the page's relative links resolve against where it was found.
	g := newUpstreamFixture(t)
	g.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/mirror/"); ok {
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/" + rest
			g.upHandler.ServeHTTP(w, r2)
			return true
		}
		if r.URL.Path == "/simple/lib/" {
			http.Redirect(w, r, "/mirror/simple/lib/", http.StatusFound)
			return true
		}
		return false
	})
	a := fetch(t, g.srv.URL+"/simple/lib/", "application/vnd.pypi.simple.v1+json")
	if a.code != 200 || !strings.Contains(a.body, `"filename":"lib-1.0-py3-none-any.whl"`) || !strings.Contains(a.body, g.up.URL+"/mirror/simple/lib/") {
		t.Errorf("a redirected page: %d\n%s", a.code, a.body)
	}
	if a := fetch(t, g.srv.URL+"/packages/.upstream/lib/lib-1.0-py3-none-any.whl", ""); a.code != 200 || g.count("/mirror/packages/lib/lib-1.0-py3-none-any.whl") != 1 {
		t.Errorf("a file of a redirected page: %d", a.code)
	}
}

// noise is n bytes that do not compress, so a wheel holding them is as big.
func noise(n int) []byte {
	b := make([]byte, 0, n+sha256.Size)
	sum := sha256.Sum256(nil)
	for len(b) < n {
		sum = sha256.Sum256(sum[:])
		b = append(b, sum[:]...)
	}
	return b[:n]
}

// BenchmarkColdPage measures a page no replica has cached (its record is
// removed before each request) beside the same page asked of the upstream
// directly: the difference is what the cache adds to a miss.
func BenchmarkColdPage(b *testing.B) {
	f := newUpstreamFixture(b)
	record := filepath.Join(f.root, store.StateDir, "cache", "pages", "lib.json")
	for _, bc := range []struct {
		name, url string
		before    func()
	}{
		{"upstream-direct", f.up.URL + "/simple/lib/", func() {}},
		{"through-cache", f.srv.URL + "/simple/lib/", func() { os.Remove(record) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				bc.before()
				if a := fetch(b, bc.url, "application/vnd.pypi.simple.v1+json"); a.code != 200 {
					b.Fatalf("%d", a.code)
				}
			}
		})
	}
}

// BenchmarkProjectPage compares a cached upstream project's page with a
// local project's, both as JSON over HTTP.
func BenchmarkProjectPage(b *testing.B) {
	f := newUpstreamFixture(b)
	for _, bc := range []struct{ name, path string }{{"local", "/simple/private/"}, {"upstream", "/simple/lib/"}} {
		b.Run(bc.name, func(b *testing.B) {
			if a := fetch(b, f.srv.URL+bc.path, ""); a.code != 200 {
				b.Fatalf("%s: %d", bc.path, a.code)
			}
			req, _ := http.NewRequest("GET", f.srv.URL+bc.path, nil)
			req.Header.Set("Accept", "application/vnd.pypi.simple.v1+json")
			repeat(b, req)
		})
	}
}

// BenchmarkDownload compares a cached upstream file's download with a
// local file's, over HTTP, in the per-project layout.
func BenchmarkDownload(b *testing.B) {
	f := newUpstreamFixture(b, "--layout", "per-project")
	for _, bc := range []struct{ name, path string }{
		{"local", "/packages/private/private-1.0-py3-none-any.whl"},
		{"upstream", "/packages/.upstream/lib/lib-1.0-py3-none-any.whl"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if a := fetch(b, f.srv.URL+bc.path, ""); a.code != 200 {
				b.Fatalf("%s: %d", bc.path, a.code)
			}
			req, _ := http.NewRequest("GET", f.srv.URL+bc.path, nil)
			repeat(b, req)
		})
	}
}

// repeat sends req for as long as the benchmark runs.
func repeat(b *testing.B, req *http.Request) {
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func TestSameFileKey(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"Acme_Lib-1.0.tar.gz", "acme_lib-1.0.tar.gz", true},
		{"acme.lib-1.0.tar.gz", "Acme-Lib-1.0.tar.gz", true},
		{"acme_lib-1.0-py3-none-any.whl", "Acme_Lib-1.0-py3-none-any.whl", true},
		{"acme_lib-1.0.tar.gz", "acme_lib-1.1.tar.gz", false},
		{"acme_lib-1.0-py3-none-any.whl", "acme_lib-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", false},
		{"acme_lib-1.0.tar.gz", "acme_lib-1.0-py3-none-any.whl", false},
		{"acme_lib-1.0.tar.gz", "other-1.0.tar.gz", false},
	} {
		if got := sameFileKey(tc.a) == sameFileKey(tc.b); got != tc.same {
			t.Errorf("%s and %s: same %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}

// A cached file is served, with the ETag its digest gives, by any replica,
// one that never fetched it too; once its page drops it (a release taken
// down upstream) it is no longer served, and never once the project has
// local files, whose page then lists only those.
func TestUpstreamCachedFiles(t *testing.T) {
	f := newUpstreamFixture(t, "--upstream-ttl", "0s")
	const wheel = "/packages/.upstream/lib/lib-1.0-py3-none-any.whl"
	if a := fetch(t, f.srv.URL+"/simple/lib/", ""); a.code != 200 {
		t.Fatalf("page: %d", a.code)
	}
	first := fetch(t, f.srv.URL+wheel, "")
	if first.code != 200 || first.hdr.Get(UpstreamHeader) != "fetched" {
		t.Fatalf("first download: %d %v", first.code, first.hdr)
	}
	sum := sha256.Sum256([]byte(first.body))
	digestTag := fmt.Sprintf(`"%x"`, sum[:16])
	if tag := first.hdr.Get("ETag"); tag != digestTag {
		t.Errorf("ETag of the fetch %s, want %s from the digest", tag, digestTag)
	}
	other := f.serve(t, "--upstream-ttl", "0s")
	for i, srv := range []*httptest.Server{f.srv, other, other} {
		a := fetch(t, srv.URL+wheel, "")
		if a.code != 200 || a.body != first.body || a.hdr.Get(UpstreamHeader) != "hit" || a.hdr.Get("ETag") != digestTag {
			t.Errorf("download %d: %d %v", i, a.code, a.hdr)
		}
	}

	// The upstream drops the file from its page; once the page is
	// revalidated, no replica serves the file it has.
	f.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/simple/lib/" {
			return false
		}
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		io.WriteString(w, `{"meta":{"api-version":"1.1"},"name":"lib","files":[],"versions":[]}`)
		return true
	})
	if a := fetch(t, f.srv.URL+"/simple/lib/", ""); a.code != 200 || strings.Contains(a.body, "lib-1.0") {
		t.Fatalf("page after the upstream dropped the file: %d %q", a.code, a.body)
	}
	for _, srv := range []*httptest.Server{f.srv, other} {
		if a := fetch(t, srv.URL+wheel, ""); a.code != 404 {
			t.Errorf("download after the page dropped the file: %d, want 404", a.code)
		}
	}
	f.fault.Store(nil)
	if a := fetch(t, other.URL+"/simple/lib/", ""); a.code != 200 || !strings.Contains(a.body, "lib-1.0") {
		t.Fatalf("page after the upstream listed the file again: %d", a.code)
	}
	if a := fetch(t, f.srv.URL+wheel, ""); a.code != 200 || a.hdr.Get(UpstreamHeader) != "hit" {
		t.Errorf("download once the page lists the file again: %d %v", a.code, a.hdr)
	}

	// The project gets local files: its upstream files are no longer
	// served, from any replica, until the local ones go.
	local := filepath.Join(f.root, "lib")
	must(t, os.MkdirAll(local, 0o755))
	pkgtest.Wheel(t, local, pkgtest.Spec{Name: "lib", Version: "0.1"})
	for _, srv := range []*httptest.Server{f.srv, other} {
		if a := fetch(t, srv.URL+wheel, ""); a.code != 404 {
			t.Errorf("the upstream's file of a project now local: %d, want 404", a.code)
		}
	}
	must(t, os.RemoveAll(local))
	if a := fetch(t, other.URL+wheel, ""); a.code != 200 || a.body != first.body {
		t.Errorf("after the local files went: %d", a.code)
	}
}
