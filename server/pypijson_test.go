package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"pkgindex.dev/pkgindex/server/pkgtest"
)

// TestPyPIJSON checks the fields tools such as Renovate read from PyPI's
// JSON API, for the project and for one release.
func TestPyPIJSON(t *testing.T) {
	root := t.TempDir()
	old := pkgtest.Spec{Name: "Tool.Kit", Version: "1.0", Summary: "old one"}
	cur := pkgtest.Spec{Name: "Tool.Kit", Version: "2.0", Summary: "a kit", RequiresPython: ">=3.9", Headers: []string{
		"Author: Ada", "Author-email: ada@example.com", "License-Expression: MIT", "Requires-Dist: requests>=2", "Requires-Dist: rich; extra == \"cli\"",
		"Project-URL: Source, https://example.com/src", "Classifier: Programming Language :: Python :: 3"}}
	pkgtest.Wheel(t, root, old)
	pkgtest.Sdist(t, root, cur)
	pkgtest.Wheel(t, root, cur)
	must(t, os.WriteFile(filepath.Join(root, old.WheelName()+".yanked"), []byte("broken\n"), 0o644))
	f := serveWith(t, "--root", root)
	wheel, _ := os.ReadFile(filepath.Join(root, cur.WheelName()))
	sum := sha256.Sum256(wheel)

	type file struct {
		Filename     string            `json:"filename"`
		URL          string            `json:"url"`
		Digests      map[string]string `json:"digests"`
		Size         int64             `json:"size"`
		UploadTime   string            `json:"upload_time_iso_8601"`
		PackageType  string            `json:"packagetype"`
		Yanked       bool              `json:"yanked"`
		YankedReason *string           `json:"yanked_reason"`
	}
	type answer struct {
		Info     map[string]any    `json:"info"`
		Releases map[string][]file `json:"releases"`
		URLs     []file            `json:"urls"`
	}
	get := func(path string) (int, answer) {
		resp, body := f.do(t, call{path: path})
		var a answer
		if resp.StatusCode == 200 {
			must(t, json.Unmarshal([]byte(body), &a))
		}
		return resp.StatusCode, a
	}

	code, a := get("/pypi/tool-kit/json")
	if code != 200 {
		t.Fatalf("project: %d", code)
	}
	wantInfo := map[string]any{
		"name": "Tool.Kit", "version": "2.0", "summary": "a kit", "requires_python": ">=3.9",
		"requires_dist": []any{"requests>=2", `rich; extra == "cli"`}, "license": "MIT", "author": "Ada", "author_email": "ada@example.com",
		"project_urls": map[string]any{"Source": "https://example.com/src"}, "yanked": false, "yanked_reason": nil,
		"classifiers": []any{"Programming Language :: Python :: 3"},
	}
	for k, v := range wantInfo {
		if !reflect.DeepEqual(a.Info[k], v) {
			t.Errorf("info.%s = %#v, want %#v", k, a.Info[k], v)
		}
	}
	if len(a.Releases) != 2 || len(a.Releases["1.0"]) != 1 || len(a.Releases["2.0"]) != 2 || len(a.URLs) != 2 {
		t.Errorf("releases %v, urls %v", a.Releases, a.URLs)
	}
	for _, u := range a.URLs {
		if u.Filename == cur.WheelName() && (u.Digests["sha256"] != hex.EncodeToString(sum[:]) || u.Size != int64(len(wheel)) ||
			u.PackageType != "bdist_wheel" || u.UploadTime == "" || u.URL != f.srv.URL+"/packages/"+cur.WheelName()) {
			t.Errorf("wheel: %+v", u)
		}
	}
	if y := a.Releases["1.0"][0]; !y.Yanked || y.YankedReason == nil || *y.YankedReason != "broken" {
		t.Errorf("yanked file: %+v", y)
	}

	code, a = get("/pypi/tool-kit/1.0/json")
	if code != 200 || a.Info["version"] != "1.0" || a.Info["summary"] != "old one" || a.Info["yanked"] != true ||
		a.Info["yanked_reason"] != "broken" || a.Releases != nil || len(a.URLs) != 1 {
		t.Errorf("release 1.0: %d %+v", code, a)
	}
	if code, _ := get("/pypi/tool-kit/9.9/json"); code != 404 {
		t.Errorf("unknown release: %d", code)
	}
	resp, _ := f.do(t, call{path: "/pypi/Tool.Kit/1.0/json"})
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "../../tool-kit/1.0/json" {
		t.Errorf("non-normalized name: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
