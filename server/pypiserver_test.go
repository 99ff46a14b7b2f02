package server

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// TestUploadOfTheFileAlone is what `curl -F :action=file_upload -F
// content=@x.whl` sends: the name and version come from the file name, and
// fields that are sent are still checked. A gpg_signature part is kept as
// the file's .asc, served and linked.
func TestUploadOfTheFileAlone(t *testing.T) {
	f := newWriteFixture(t)
	alice := basic("alice", "s3cret")
	bare := func(spec pkgtest.Spec, fields ...[2]string) sentForm {
		return sentForm{fields: append([][2]string{{":action", "file_upload"}}, fields...), filename: spec.WheelName(), content: spec.WheelBytes()}
	}
	one, two := pkgtest.Spec{Name: "alone", Version: "1.0"}, pkgtest.Spec{Name: "alone", Version: "2.0"}
	for _, tc := range []struct {
		name string
		form sentForm
		code int
		says string
	}{
		{"the file alone", bare(one), 200, "OK"},
		{"a wrong version sent", bare(two, [2]string{"version", "3.0"}), 400, `is not version "3.0"`},
		{"a wrong name sent", bare(two, [2]string{"name", "other"}), 400, `does not belong to project "other"`},
		{"with a signature", bare(two, [2]string{"gpg_signature", "-----BEGIN PGP SIGNATURE-----\nsig\n-----END PGP SIGNATURE-----\n"}), 200, "OK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fm := tc.form
			// A signature part is a file part in twine's form.
			for i, kv := range fm.fields {
				if kv[0] == "gpg_signature" {
					fm.fields = append(fm.fields[:i:i], fm.fields[i+1:]...)
					fm.trailing = append(fm.trailing, kv)
				}
			}
			if code, body, _ := f.post(t, "/", alice, fm); code != tc.code || !strings.Contains(body, tc.says) {
				t.Errorf("%d %q, want %d saying %s", code, body, tc.code, tc.says)
			}
		})
	}
	files := f.files(t)
	if files["alone/"+one.WheelName()] == "" || files["alone/"+two.WheelName()+".asc"] == "" {
		t.Fatalf("stored: %v", keys(files))
	}
	_, page, _ := f.send(t, http.MethodGet, "/simple/alone/", "", "", nil)
	if !strings.Contains(page, two.WheelName()+`" data-gpg-sig="true"`) && !regexp.MustCompile(regexp.QuoteMeta(two.WheelName())+`#sha256=[0-9a-f]+"[^>]* data-gpg-sig="true"`).MatchString(page) {
		t.Errorf("the signed file is not linked as signed:\n%s", page)
	}
	if code, sig, _ := f.send(t, http.MethodGet, "/packages/alone/"+two.WheelName()+".asc", "", "", nil); code != 200 || !strings.Contains(sig, "BEGIN PGP SIGNATURE") {
		t.Errorf("signature download: %d %s", code, sig)
	}
}
