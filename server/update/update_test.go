package update

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pkgindex.dev/pkgindex/server/pkgtest"
)

// upstreamTree serves PEP 503 pages of the given files (name to bytes);
// a name in yanked is marked yanked, one in lie is listed with another
// file's digest.
func upstreamTree(t *testing.T, files map[string][]byte, yanked, lie map[string]bool) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ok := strings.CutPrefix(r.URL.Path, "/files/"); ok {
			if b, ok := files[name]; ok {
				w.Write(b)
				return
			}
		}
		project, ok := strings.CutPrefix(r.URL.Path, "/simple/")
		project = strings.TrimSuffix(project, "/")
		var page bytes.Buffer
		for name, b := range files {
			if !ok || !strings.HasPrefix(name, project+"-") {
				continue
			}
			sum := sha256.Sum256(b)
			if lie[name] {
				sum = sha256.Sum256(nil)
			}
			attr := ""
			if yanked[name] {
				attr = ` data-yanked=""`
			}
			fmt.Fprintf(&page, "<a href=\"/files/%s#sha256=%x\"%s>%s</a>\n", name, sum, attr, name)
		}
		if page.Len() == 0 {
			http.NotFound(w, r)
			return
		}
		w.Write(page.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/simple/"
}

func TestUpdate(t *testing.T) {
	spec := func(name, version string) pkgtest.Spec { return pkgtest.Spec{Name: name, Version: version} }
	up := map[string][]byte{}
	for _, s := range []pkgtest.Spec{spec("demo", "1.1"), spec("demo", "1.2"), spec("demo", "0.9"), spec("pre", "1.1rc1"), spec("ignored", "2.0"), spec("bad", "2.0")} {
		up[s.WheelName()] = s.WheelBytes()
	}
	demoSdist := spec("demo", "1.1")
	up[demoSdist.SdistName()] = demoSdist.SdistBytes()
	index := upstreamTree(t, up, map[string]bool{"demo-1.2-py3-none-any.whl": true}, map[string]bool{"bad-2.0-py3-none-any.whl": true})

	setup := func(t *testing.T) (root, ignore string) {
		root = t.TempDir()
		os.MkdirAll(filepath.Join(root, "demo"), 0o755)
		pkgtest.Wheel(t, filepath.Join(root, "demo"), spec("demo", "1.0"))
		for _, n := range []string{"pre", "ignored", "private", "bad"} {
			pkgtest.Wheel(t, root, spec(n, "1.0"))
		}
		ignore = filepath.Join(t.TempDir(), "ignore")
		os.WriteFile(ignore, []byte("Ignored\n"), 0o644)
		return root, ignore
	}
	run := func(t *testing.T, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Run(t.Context(), args, func(string) string { return "" }, &out, &errOut)
		return code, out.String(), errOut.String()
	}

	t.Run("list", func(t *testing.T) {
		root, ignore := setup(t)
		code, out, errOut := run(t, "--index-url", index, "--ignorelist-file", ignore, root)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"# update demo from 1.0 to 1.1\n", "pip download --no-deps -i " + index + " -d " + filepath.Join(root, "demo") + " demo==1.1\n", "# update bad from 1.0 to 2.0\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		for _, not := range []string{"pre", "ignored", "private", "1.2"} {
			if strings.Contains(out, not) {
				t.Errorf("output has %q:\n%s", not, out)
			}
		}
		if _, out, _ := run(t, "-u", "--index-url", index, root); !strings.Contains(out, "# update pre from 1.0 to 1.1rc1") {
			t.Errorf("-u: a pre-release not offered:\n%s", out)
		}
	})
	t.Run("execute", func(t *testing.T) {
		root, ignore := setup(t)
		code, out, errOut := run(t, "-x", "--index-url", index, "--ignorelist-file", ignore, root)
		if code != 1 || !strings.Contains(errOut, "digest mismatch: sha256 of bad-2.0-py3-none-any.whl") {
			t.Errorf("exit %d, want 1 for the file with a wrong digest:\n%s", code, errOut)
		}
		for _, name := range []string{"demo-1.1-py3-none-any.whl", demoSdist.SdistName()} {
			b, err := os.ReadFile(filepath.Join(root, "demo", name))
			if err != nil || !bytes.Equal(b, up[name]) {
				t.Errorf("%s not downloaded whole: %v\n%s", name, err, out)
			}
		}
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "bad-2.0") || strings.HasPrefix(e.Name(), ".") {
				t.Errorf("left in the root: %s", e.Name())
			}
		}
		if _, out, _ := run(t, "--index-url", index, filepath.Join(root, "demo")); strings.Contains(out, "demo") {
			t.Errorf("after the download, demo is still offered:\n%s", out)
		}
	})
	t.Run("execute into a directory", func(t *testing.T) {
		root, _ := setup(t)
		dir := t.TempDir()
		if code, _, errOut := run(t, "-x", "-d", dir, "--index-url", index, filepath.Join(root, "demo")); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if fi, err := os.Stat(filepath.Join(dir, "demo-1.1-py3-none-any.whl")); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("downloaded file: %v %v", fi, err)
		}
	})
	t.Run("usage", func(t *testing.T) {
		if code, _, _ := run(t); code != 2 {
			t.Errorf("no root: exit %d, want 2", code)
		}
		if code, _, errOut := run(t, "--index-url", "https://u:s3cret@x/simple/", t.TempDir()); code != 2 || strings.Contains(errOut, "s3cret") {
			t.Errorf("credentials in the URL: exit %d: %s", code, errOut)
		}
	})
}
