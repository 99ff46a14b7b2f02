package process

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/test/harness"
)

// TestPip drives the real pip against a real server, over the JSON API (what
// pip asks for) and over HTML (through a proxy that drops pip's Accept).
func TestPip(t *testing.T) {
	pip := harness.Tool(t, "python3", "-m", "pip")
	root := t.TempDir()
	pkgtest.Wheel(t, root, pkgtest.Spec{Name: "demo", Version: "1.0", RequiresPython: ">=3.7"})
	pkgtest.Wheel(t, root, pkgtest.Spec{Name: "demo", Version: "2.0", RequiresPython: ">=4"})
	pkgtest.Sdist(t, root, pkgtest.Spec{Name: "demo", Version: "2.0", RequiresPython: ">=4"})
	harness.Must(t, os.MkdirAll(filepath.Join(root, "yanky"), 0o755))
	pkgtest.Wheel(t, filepath.Join(root, "yanky"), pkgtest.Spec{Name: "Yanky", Version: "1.0"})
	pkgtest.Wheel(t, filepath.Join(root, "yanky"), pkgtest.Spec{Name: "Yanky", Version: "1.1"})
	harness.Must(t, os.WriteFile(filepath.Join(root, "yanky", "yanky-1.1-py3-none-any.whl.yanked"), []byte("broken"), 0o644))
	base := harness.StartServer(t, "--root", root)

	// A proxy that hides pip's Accept header, so the server answers HTML.
	target, _ := url.Parse(base)
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Header.Del("Accept")
	}}
	psrv := &http.Server{Handler: proxy}
	ln, err := netListen()
	harness.Must(t, err)
	go psrv.Serve(ln)
	t.Cleanup(func() { psrv.Close() })
	htmlBase := "http://" + ln.Addr().String()

	for _, api := range []struct{ name, base string }{{"json", base}, {"html", htmlBase}} {
		t.Run(api.name, func(t *testing.T) {
			for _, tc := range []struct {
				req, want string
			}{
				{"demo", "demo-1.0-py3-none-any.whl"},        // 2.0 requires Python 4
				{"yanky", "yanky-1.0-py3-none-any.whl"},      // 1.1 is yanked
				{"Yanky==1.1", "yanky-1.1-py3-none-any.whl"}, // unless pinned
			} {
				dest := t.TempDir()
				cmd := exec.Command(pip[0], append(pip[1:], "download", "--no-cache-dir", "--disable-pip-version-check",
					"--no-deps", "--index-url", api.base+"/simple/", "-d", dest, tc.req)...)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("pip download %s: %v\n%s", tc.req, err, out)
				}
				ents, _ := os.ReadDir(dest)
				if len(ents) != 1 || ents[0].Name() != tc.want {
					t.Fatalf("pip download %s got %v, want %s\n%s", tc.req, ents, tc.want, out)
				}
				if api.name == "json" && tc.req == "Yanky==1.1" && !strings.Contains(strings.ToLower(string(out)), "yank") {
					t.Errorf("pip did not warn about the yanked file:\n%s", out)
				}
			}
			target := t.TempDir()
			cmd := exec.Command(pip[0], append(pip[1:], "install", "--no-cache-dir", "--disable-pip-version-check",
				"--index-url", api.base+"/simple/", "--target", target, "demo")...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("pip install: %v\n%s", err, out)
			}
			py := exec.Command("python3", "-c", "import demo; print(demo.VERSION)")
			py.Env = append(os.Environ(), "PYTHONPATH="+target)
			out, err := py.CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "1.0" {
				t.Fatalf("import demo: %v %s", err, out)
			}
		})
	}
	// pip asked for core metadata instead of whole wheels where it could.
	_, metrics := harness.Get(t, base+"/metrics", "")
	if !strings.Contains(metrics, `pkgindex_http_requests_total{code="200",route="download"}`) {
		t.Errorf("no downloads counted:\n%s", metrics)
	}
}

// TestReplicasAreConsistent runs two server processes on one directory and
// changes it from this (third) process: every change shows through both on
// the very next request, in both layouts.
func TestReplicasAreConsistent(t *testing.T) {
	root := t.TempDir()
	harness.Must(t, os.MkdirAll(filepath.Join(root, "proj"), 0o755))
	a := harness.StartServer(t, "--root", root)
	b := harness.StartServer(t, root) // pypiserver spelling: root as an argument
	const json = "application/vnd.pypi.simple.v1+json"
	for i := range 100 {
		dir, rel := root, ""
		if i%2 == 1 {
			dir, rel = filepath.Join(root, "proj"), "proj/"
		}
		spec := pkgtest.Spec{Name: "proj", Version: fmt.Sprintf("1.%d", i)}
		path := pkgtest.Wheel(t, dir, spec)
		for _, base := range []string{a, b} {
			_, body := harness.Get(t, base+"/simple/proj/", json)
			if !strings.Contains(body, `"`+spec.WheelName()+`"`) {
				t.Fatalf("change %d: %s lacks the new file %s\n%s", i, base, spec.WheelName(), body)
			}
			if code, _ := harness.Get(t, base+"/packages/"+rel+spec.WheelName(), ""); code != 200 {
				t.Fatalf("change %d: download through %s: %d", i, base, code)
			}
		}
		if i%3 == 0 {
			harness.Must(t, os.Remove(path))
			for _, base := range []string{a, b} {
				_, body := harness.Get(t, base+"/simple/proj/", json)
				if strings.Contains(body, `"`+spec.WheelName()+`"`) {
					t.Fatalf("change %d: %s still lists removed %s", i, base, spec.WheelName())
				}
				_, index := harness.Get(t, base+"/simple/", "")
				if !strings.Contains(index, `href="proj/"`) && i > 0 {
					t.Fatalf("change %d: project vanished from %s", i, base)
				}
			}
		}
	}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
