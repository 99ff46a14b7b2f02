package process

import (
	"bytes"
	"crypto/sha256"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/test/harness"
)

// upstreamProxy stands between pkgindex and its upstream, a second
// pkgindex serve: the test can stop the upstream (every request then fails
// at the connection) and hold a file's body halfway.
type upstreamProxy struct {
	url     string
	stopped atomic.Bool
	// holdAfter, when set, sends that many bytes of a .whl and then
	// nothing until release closes.
	holdAfter atomic.Int64
	release   chan struct{}
	asked     atomic.Int32 // .whl requests
}

func startUpstreamProxy(t *testing.T, upstream string) *upstreamProxy {
	p := &upstreamProxy{release: make(chan struct{})}
	target, _ := url.Parse(upstream)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.stopped.Load() {
			panic(http.ErrAbortHandler) // the connection drops, as a dead host's would
		}
		if !strings.HasSuffix(r.URL.Path, ".whl") {
			rp.ServeHTTP(w, r)
			return
		}
		p.asked.Add(1)
		if n := p.holdAfter.Load(); n > 0 {
			rp.ServeHTTP(&holdingWriter{ResponseWriter: w, left: n, release: p.release}, r)
			return
		}
		rp.ServeHTTP(w, r)
	})}
	ln, err := netListen()
	harness.Must(t, err)
	go srv.Serve(ln)
	t.Cleanup(func() { close(p.release); srv.Close() })
	p.url = "http://" + ln.Addr().String()
	return p
}

// holdingWriter passes left bytes on, then waits for release.
type holdingWriter struct {
	http.ResponseWriter
	left    int64
	release chan struct{}
}

func (h *holdingWriter) Write(b []byte) (int, error) {
	if h.left <= 0 {
		<-h.release
		return 0, http.ErrAbortHandler
	}
	n := min(int64(len(b)), h.left)
	h.left -= n
	m, err := h.ResponseWriter.Write(b[:n])
	h.ResponseWriter.(http.Flusher).Flush()
	return m, err
}

// TestPipThroughUpstream installs with the real pip, through one index URL,
// a local project whose dependencies are one local and one found only
// upstream, while the upstream publishes a higher version of the local
// one; then installs again with the upstream stopped.
func TestPipThroughUpstream(t *testing.T) {
	pip := harness.Tool(t, "python3", "-m", "pip")
	upRoot, root := t.TempDir(), t.TempDir()
	pkgtest.Wheel(t, upRoot, pkgtest.Spec{Name: "publiclib", Version: "1.0"})
	pkgtest.Wheel(t, upRoot, pkgtest.Spec{Name: "publiclib", Version: "1.1", Headers: []string{"Requires-Dist: transitive"}})
	pkgtest.Sdist(t, upRoot, pkgtest.Spec{Name: "transitive", Version: "3.0"})
	pkgtest.Wheel(t, upRoot, pkgtest.Spec{Name: "transitive", Version: "3.0"})
	pkgtest.Wheel(t, upRoot, pkgtest.Spec{Name: "internal", Version: "99.0"}) // the attacker's
	pkgtest.Wheel(t, root, pkgtest.Spec{Name: "internal", Version: "1.0"})
	pkgtest.Wheel(t, root, pkgtest.Spec{Name: "app", Version: "2.0", Headers: []string{"Requires-Dist: internal", "Requires-Dist: publiclib>=1.1"}})
	proxy := startUpstreamProxy(t, harness.StartServer(t, "--root", upRoot))
	base := harness.StartServer(t, "--root", root, "--upstream", proxy.url+"/simple/", "--upstream-ttl", "0s")

	install := func(t *testing.T) {
		t.Helper()
		target := t.TempDir()
		cmd := exec.Command(pip[0], append(pip[1:], "install", "--no-cache-dir", "--disable-pip-version-check",
			"--index-url", base+"/simple/", "--target", target, "app")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pip install: %v\n%s", err, out)
		}
		py := exec.Command("python3", "-c", "import app, internal, publiclib, transitive; print(app.VERSION, internal.VERSION, publiclib.VERSION, transitive.VERSION)")
		py.Env = append(os.Environ(), "PYTHONPATH="+target)
		out, err := py.CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != "2.0 1.0 1.1 3.0" {
			t.Fatalf("installed %q (%v), want app 2.0, the local internal 1.0, publiclib 1.1 and transitive 3.0", got, err)
		}
	}
	t.Run("upstream up", install)
	asked := proxy.asked.Load()
	proxy.stopped.Store(true)
	t.Run("upstream stopped", install)
	if proxy.asked.Load() != asked {
		t.Errorf("files were fetched again")
	}
	code, _ := harness.Get(t, base+"/simple/never-fetched/", "")
	if code != http.StatusBadGateway {
		t.Errorf("an uncached project with the upstream stopped: %d, want 502", code)
	}
}

// TestUpstreamKilledMidFetch: a replica killed while it fetches a file
// leaves no file that any replica serves; another replica on the same root
// waits for the dead one's lock to go stale and fetches the file whole.
func TestUpstreamKilledMidFetch(t *testing.T) {
	upRoot, root := t.TempDir(), t.TempDir()
	big := pkgtest.Spec{Name: "big", Version: "1.0", Data: bytes.Repeat([]byte{0}, 2<<20)}
	want, _ := os.ReadFile(pkgtest.Wheel(t, upRoot, big))
	proxy := startUpstreamProxy(t, harness.StartServer(t, "--root", upRoot))
	args := []string{"--root", root, "--upstream", proxy.url + "/simple/"}
	victim, victimURL := harness.StartProcess(t, args...)
	_, otherURL := harness.StartProcess(t, args...)
	fileURL := "/packages/.upstream/big/" + big.WheelName()
	if code, _ := harness.Get(t, victimURL+"/simple/big/", ""); code != 200 {
		t.Fatalf("page: %d", code)
	}

	proxy.holdAfter.Store(1 << 20)
	resp, err := http.Get(victimURL + fileURL)
	harness.Must(t, err)
	defer resp.Body.Close()
	buf := make([]byte, 1000)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatalf("the stream did not start: %v", err)
	}
	harness.Must(t, victim.Process.Signal(syscall.SIGKILL))
	victim.Wait()
	proxy.holdAfter.Store(0)

	got, err := http.Get(otherURL + fileURL)
	harness.Must(t, err)
	defer got.Body.Close()
	var body bytes.Buffer
	_, err = body.ReadFrom(got.Body)
	if err != nil || got.StatusCode != 200 || sha256.Sum256(body.Bytes()) != sha256.Sum256(want) {
		t.Fatalf("after the kill: %d %v, %d bytes of %d", got.StatusCode, err, body.Len(), len(want))
	}
	if n := proxy.asked.Load(); n != 2 {
		t.Errorf("the upstream was asked %d times for the file, want 2 (the killed fetch and the one after)", n)
	}
	cached, err := os.ReadFile(filepath.Join(root, ".pkgindex", "cache", "files", "big", big.WheelName()))
	if err != nil || !bytes.Equal(cached, want) {
		t.Errorf("the cached file is not the whole file: %v, %d bytes", err, len(cached))
	}
}
