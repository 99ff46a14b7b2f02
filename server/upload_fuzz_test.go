package server

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"

	"pkgindex.dev/pkgindex/server/pkgtest"
)

// FuzzUpload sends arbitrary multipart bodies to the upload handler. Never
// a panic or a 5xx (malformed input is the client's fault), and whatever
// the answer, no temporary file is left behind and nothing is published
// unless the answer was 200.
func FuzzUpload(f *testing.F) {
	good := twineForm(pkgtest.Spec{Name: "fuzz", Version: "1.0"}, true)
	for _, fm := range []sentForm{
		good,
		good.with("name", "other"),
		good.with("sha256_digest", strings.Repeat("0", 64)),
		good.with(":action", "remove_pkg"),
		good.without(":action"),
		{fields: good.fields, filename: "../fuzz-1.0-py3-none-any.whl", content: good.content},
		{fields: good.fields, filename: "fuzz-1.0-py3-none-any.whl", content: []byte("not a zip")},
	} {
		body, ctype := fm.encode()
		f.Add(ctype, body)
		f.Add(ctype, body[:len(body)/2])
	}
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"content\"; filename=\"a-1.0.tar.gz\"\r\n\r\nabc\r\n--x--\r\n"))
	f.Add("multipart/form-data", []byte("--\r\n"))

	root := f.TempDir()
	cfg, err := ParseFlags([]string{"--root", root, "-P", ".", "-a", ".", "--max-upload-size", "64KiB"},
		func(string) string { return "" }, io.Discard)
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(cfg, testStore(f, cfg), logr.Discard(), "test")
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/legacy/", bytes.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("answered %d %s", rec.Code, rec.Body.String())
		}
		var left []string
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(root, p)
			rel = filepath.ToSlash(rel)
			if strings.HasPrefix(rel, ".pkgindex/tmp/") || (rec.Code != http.StatusOK && !strings.HasPrefix(rel, ".pkgindex/")) {
				left = append(left, rel)
			}
			return nil
		})
		if len(left) > 0 {
			t.Fatalf("answered %d and left %v", rec.Code, left)
		}
		// Start every input from an empty index.
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			os.RemoveAll(filepath.Join(root, e.Name()))
		}
	})
}
