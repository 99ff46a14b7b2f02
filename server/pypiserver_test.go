package server

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pkgindex.dev/pkgindex/server/pkgtest"
)

// TestRemoveByForm is pypiserver's removal as scripts send it (curl
// --data ':action=remove_pkg&name=...&version=...').
func TestRemoveByForm(t *testing.T) {
	f := newWriteFixture(t)
	alice := basic("alice", "s3cret")
	demo := pkgtest.Spec{Name: "demo", Version: "1.0"}
	if code, body, _ := f.post(t, "/", alice, twineForm(demo, true)); code != 200 {
		t.Fatalf("upload: %d %s", code, body)
	}
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name   string
		authz  string
		body   url.Values
		code   int
		says   string
		remain bool
	}{
		{"no credentials", "", url.Values{":action": {"remove_pkg"}, "name": {"demo"}, "version": {"1.0"}}, 401, "", true},
		{"missing name", alice, url.Values{":action": {"remove_pkg"}, "version": {"1.0"}}, 400, "Missing name field", true},
		{"missing version", alice, url.Values{":action": {"remove_pkg"}, "name": {"demo"}}, 400, "Missing version field", true},
		{"unknown release, escaped", alice, url.Values{":action": {"remove_pkg"}, "name": {"demo"}, "version": {"<b>9</b>"}}, 404, "demo (&lt;b&gt;9&lt;/b&gt;) not found", true},
		{"other action", alice, url.Values{":action": {"file_upload"}}, 400, "only remove_pkg", true},
		{"removed", alice, url.Values{":action": {"remove_pkg"}, "name": {"Demo"}, "version": {"1.0"}}, 200, "OK", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := f.send(t, http.MethodPost, "/", tc.authz, form, strings.NewReader(tc.body.Encode()))
			if code != tc.code || !strings.Contains(body, tc.says) {
				t.Errorf("%d %q, want %d saying %s", code, body, tc.code, tc.says)
			}
			_, err := os.Stat(filepath.Join(f.root, "demo", demo.WheelName()))
			if remains := err == nil; remains != tc.remain {
				t.Errorf("file remains: %v, want %v", remains, tc.remain)
			}
		})
	}
}

// TestHashAlgos serves a wheel with every --hash-algo pypiserver accepts:
// the link carries the digest Python's hashlib gives for the file.
func TestHashAlgos(t *testing.T) {
	python := "python3"
	if _, err := exec.LookPath(python); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is required in CI")
		}
		t.Skip("python3 not available")
	}
	root := t.TempDir()
	spec := pkgtest.Spec{Name: "demo", Version: "1.0"}
	pkgtest.Wheel(t, root, spec)
	for _, algo := range []string{"md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b", "blake2s", "sha3_224", "sha3_256", "sha3_384", "sha3_512"} {
		t.Run(algo, func(t *testing.T) {
			out, err := exec.Command(python, "-c", "import hashlib, sys; print(hashlib.new(sys.argv[1], open(sys.argv[2], 'rb').read()).hexdigest())",
				algo, filepath.Join(root, spec.WheelName())).Output()
			must(t, err)
			_, page := serveWith(t, "--root", root, "--hash-algo", algo).do(t, call{path: "/simple/demo/"})
			if want := spec.WheelName() + "#" + algo + "=" + strings.TrimSpace(string(out)); !strings.Contains(page, want) {
				t.Errorf("page lacks %s:\n%s", want, page)
			}
		})
	}
}
