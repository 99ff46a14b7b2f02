package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgindex.dev/pkgindex/server/pkgtest"
)

// The test binary doubles as pkgindex, so the tests below run real server
// processes built from this very code.
func TestMain(m *testing.M) {
	if os.Getenv("PKGINDEX_TEST_AS_MAIN") == "1" {
		os.Exit(run(commandArgs(os.Args[0], os.Args[1:]), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// startServer runs `pkgindex serve` in a child process and returns its base
// URL once it listens.
func startServer(t *testing.T, args ...string) string {
	t.Helper()
	_, u := startProcess(t, args...)
	return u
}

// startProcess is startServer that also gives the process, for tests that
// kill it; a process killed by the test is not expected to exit cleanly.
func startProcess(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	return startCommand(t, exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...))
}

// startCommand is startProcess for a command the test has prepared (another
// binary, another user).
func startCommand(t *testing.T, cmd *exec.Cmd) (*exec.Cmd, string) {
	t.Helper()
	cmd.Env = append(os.Environ(), "PKGINDEX_TEST_AS_MAIN=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState != nil {
			return // stopped by the test
		}
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server exited with %v after SIGINT, want 0", err)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("server did not stop within 10s of SIGINT")
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case l := <-lines:
		i := strings.Index(l, "http://")
		if i < 0 {
			t.Fatalf("unexpected first line %q", l)
		}
		return cmd, strings.TrimSuffix(l[i:], "/")
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	return nil, ""
}

// tool finds an external program a test needs: in CI its absence fails the
// test, elsewhere it skips with the reason.
func tool(t *testing.T, name string, args ...string) []string {
	t.Helper()
	cmd := append([]string{name}, args...)
	if err := exec.Command(cmd[0], append(cmd[1:], "--version")...).Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", strings.Join(cmd, " "), err)
		}
		t.Skipf("%s not available: %v", strings.Join(cmd, " "), err)
	}
	return cmd
}

func get(t *testing.T, u string, accept string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPip drives the real pip against a real server, over the JSON API (what
// pip asks for) and over HTML (through a proxy that drops pip's Accept).
func TestPip(t *testing.T) {
	pip := tool(t, "python3", "-m", "pip")
	root := t.TempDir()
	pkgtest.Wheel(t, root, pkgtest.Spec{Name: "demo", Version: "1.0", RequiresPython: ">=3.7"})
	pkgtest.Wheel(t, root, pkgtest.Spec{Name: "demo", Version: "2.0", RequiresPython: ">=4"})
	pkgtest.Sdist(t, root, pkgtest.Spec{Name: "demo", Version: "2.0", RequiresPython: ">=4"})
	must(t, os.MkdirAll(filepath.Join(root, "yanky"), 0o755))
	pkgtest.Wheel(t, filepath.Join(root, "yanky"), pkgtest.Spec{Name: "Yanky", Version: "1.0"})
	pkgtest.Wheel(t, filepath.Join(root, "yanky"), pkgtest.Spec{Name: "Yanky", Version: "1.1"})
	must(t, os.WriteFile(filepath.Join(root, "yanky", "yanky-1.1-py3-none-any.whl.yanked"), []byte("broken"), 0o644))
	base := startServer(t, "--root", root)

	// A proxy that hides pip's Accept header, so the server answers HTML.
	target, _ := url.Parse(base)
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Header.Del("Accept")
	}}
	psrv := &http.Server{Handler: proxy}
	ln, err := netListen()
	must(t, err)
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
	_, metrics := get(t, base+"/metrics", "")
	if !strings.Contains(metrics, `pkgindex_http_requests_total{code="200",route="download"}`) {
		t.Errorf("no downloads counted:\n%s", metrics)
	}
}

// TestReplicasAreConsistent runs two server processes on one directory and
// changes it from this (third) process: every change shows through both on
// the very next request, in both layouts.
func TestReplicasAreConsistent(t *testing.T) {
	root := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(root, "proj"), 0o755))
	a := startServer(t, "--root", root)
	b := startServer(t, root) // pypiserver spelling: root as an argument
	const json = "application/vnd.pypi.simple.v1+json"
	for i := range 100 {
		dir, rel := root, ""
		if i%2 == 1 {
			dir, rel = filepath.Join(root, "proj"), "proj/"
		}
		spec := pkgtest.Spec{Name: "proj", Version: fmt.Sprintf("1.%d", i)}
		path := pkgtest.Wheel(t, dir, spec)
		for _, base := range []string{a, b} {
			_, body := get(t, base+"/simple/proj/", json)
			if !strings.Contains(body, `"`+spec.WheelName()+`"`) {
				t.Fatalf("change %d: %s lacks the new file %s\n%s", i, base, spec.WheelName(), body)
			}
			if code, _ := get(t, base+"/packages/"+rel+spec.WheelName(), ""); code != 200 {
				t.Fatalf("change %d: download through %s: %d", i, base, code)
			}
		}
		if i%3 == 0 {
			must(t, os.Remove(path))
			for _, base := range []string{a, b} {
				_, body := get(t, base+"/simple/proj/", json)
				if strings.Contains(body, `"`+spec.WheelName()+`"`) {
					t.Fatalf("change %d: %s still lists removed %s", i, base, spec.WheelName())
				}
				_, index := get(t, base+"/simple/", "")
				if !strings.Contains(index, `href="proj/"`) && i > 0 {
					t.Fatalf("change %d: project vanished from %s", i, base)
				}
			}
		}
	}
}

func TestServeRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--root", "/nonexistent/dir"},
		{"serve", "--hash-algo", "crc32", "--root", t.TempDir()},
		{"serve", "--log-format", "xml", "--root", t.TempDir()},
		{"serve", "--header-timeout", "0s", "--root", t.TempDir()},
		{"serve", "--upload-stall-timeout", "-1s", "--root", t.TempDir()},
	} {
		var stderr strings.Builder
		if code := run(args, io.Discard, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		flag := args[1]
		if !strings.Contains(stderr.String(), flag) {
			t.Errorf("%v: error does not name %s: %s", args, flag, stderr.String())
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
