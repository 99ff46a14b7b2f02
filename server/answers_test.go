package server

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"

	"pkgindex.dev/pkgindex/server/meta"
	"pkgindex.dev/pkgindex/server/pkgtest"
)

// TestLegacyInABrowser: the upload URL opened in a browser says what it is
// for instead of leading to a page that does not exist.
func TestLegacyInABrowser(t *testing.T) {
	f := newWriteFixture(t)
	for _, path := range []string{"/legacy/", "/legacy"} {
		code, body, h := f.send(t, http.MethodGet, path, "", "", nil)
		if code != http.StatusMethodNotAllowed || h.Get("Allow") != "POST" || !strings.Contains(body, "upload") || !strings.Contains(body, "/simple/") {
			t.Errorf("GET %s: %d, Allow %q:\n%s", path, code, h.Get("Allow"), body)
		}
	}
}

// TestUploadWithRootGone: an upload while the package directory is missing
// (an unmounted volume) is 503 with the reason, not 404.
func TestUploadWithRootGone(t *testing.T) {
	f := newWriteFixture(t)
	must(t, os.RemoveAll(f.root))
	code, body, _ := f.post(t, "/legacy/", basic("alice", "s3cret"), twineForm(pkgtest.Spec{Name: "demo", Version: "1.0"}, true))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "package directory") {
		t.Errorf("upload with the root gone: %d\n%s", code, body)
	}
}

// TestSameFileInTwoRoots: a file name that two roots hold, at the same
// path or in different directories, is listed once, from the first root.
func TestSameFileInTwoRoots(t *testing.T) {
	spec := pkgtest.Spec{Name: "twice", Version: "1.0"}
	for _, tc := range []struct{ name, dir1, dir2 string }{
		{"same path", "", ""},
		{"flat and per project", "", "twice"},
		{"per project and nested", "twice", "team/twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root1, root2 := t.TempDir(), t.TempDir()
			must(t, os.MkdirAll(filepath.Join(root1, tc.dir1), 0o755))
			must(t, os.MkdirAll(filepath.Join(root2, tc.dir2), 0o755))
			pkgtest.Wheel(t, filepath.Join(root1, tc.dir1), spec)
			must(t, os.WriteFile(filepath.Join(root2, tc.dir2, spec.WheelName()), []byte("the second root's"), 0o644))
			srv := serveWith(t, "--root", root1, "--root", root2).srv
			for _, accept := range []string{"text/html", "application/vnd.pypi.simple.v1+json"} {
				req, _ := http.NewRequest("GET", srv.URL+"/simple/twice/", nil)
				req.Header.Set("Accept", accept)
				resp, err := http.DefaultClient.Do(req)
				must(t, err)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := path.Join(tc.dir1, spec.WheelName())
				if n := strings.Count(string(b), spec.WheelName()+"#") + strings.Count(string(b), `"filename":"`+spec.WheelName()); n != 1 || !strings.Contains(string(b), "packages/"+want) {
					t.Errorf("%s: the file is listed %d times, want once as %s:\n%s", accept, n, want, b)
				}
			}
		})
	}
}

// TestWelcomeShowsWhatWorks: upload commands only where uploads can
// succeed, and a poetry line for each side of Poetry 1.5.
func TestWelcomeShowsWhatWorks(t *testing.T) {
	read := newFixture(t)
	_, page := read.do(t, call{path: "/"})
	if strings.Contains(page, "twine upload") || strings.Contains(page, "Upload") {
		t.Errorf("an index without a password file shows upload commands:\n%s", page)
	}
	for _, want := range []string{"poetry source add --priority=primary pkgindex " + read.srv.URL + "/simple/",
		"poetry source add --default pkgindex " + read.srv.URL + "/simple/"} {
		if !strings.Contains(page, want) {
			t.Errorf("welcome page lacks %s:\n%s", want, page)
		}
	}
	write := newWriteFixture(t)
	_, body, _ := write.send(t, http.MethodGet, "/", "", "", nil)
	if !strings.Contains(body, "twine upload --repository-url "+write.srv.URL+"/legacy/ dist/*") {
		t.Errorf("an index taking uploads does not show how:\n%s", body)
	}
}

// TestMetadataBeyondLimits: a wheel whose METADATA is past the limit has
// its PEP 658 file refused with the reason, and its page does not offer it.
func TestMetadataBeyondLimits(t *testing.T) {
	root := t.TempDir()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("huge-1.0.dist-info/METADATA")
	must(t, err)
	w.Write([]byte("Metadata-Version: 2.1\nName: huge\nVersion: 1.0\n\n"))
	w.Write(bytes.Repeat([]byte("x"), meta.MaxSize))
	must(t, zw.Close())
	must(t, os.WriteFile(filepath.Join(root, "huge-1.0-py3-none-any.whl"), buf.Bytes(), 0o644))
	f := serveWith(t, "--root", root)
	for range 2 {
		resp, body := f.do(t, call{path: "/packages/huge-1.0-py3-none-any.whl.metadata"})
		if resp.StatusCode != 404 || !strings.Contains(body, "beyond the index's limits") || !strings.Contains(body, "more than 8388608") {
			t.Errorf("metadata past the limit: %d %s", resp.StatusCode, body)
		}
	}
	if _, page := f.do(t, call{path: "/simple/huge/"}); !strings.Contains(page, "huge-1.0-py3-none-any.whl") || strings.Contains(page, "core-metadata") {
		t.Errorf("the page offers metadata it will not serve:\n%s", page)
	}
}

// serveWith serves what the flags say, for tests that need their own roots.
func serveWith(t *testing.T, args ...string) *fixture {
	t.Helper()
	cfg, err := ParseFlags(args, noEnv, io.Discard)
	must(t, err)
	s, err := New(cfg, testStore(t, cfg), logr.Discard(), "test")
	must(t, err)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &fixture{srv: srv}
}
