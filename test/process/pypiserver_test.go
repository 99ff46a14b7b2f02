package process

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/test/harness"
)

// TestPypiserverCommandLines starts the server with the command lines of
// pypiserver's README (quick start, htpasswd, systemd unit, supervisor,
// health endpoint, -a/-P help, Docker examples) as `pkgindex run`, the
// binary installed as pypi-server: each starts, serves its root, and
// redirects unknown projects to PyPI as pypiserver does.
func TestPypiserverCommandLines(t *testing.T) {
	dir := t.TempDir()
	packages := filepath.Join(dir, "packages")
	harness.Must(t, os.MkdirAll(packages, 0o755))
	pkgtest.Wheel(t, packages, pkgtest.Spec{Name: "demo", Version: "1.0"})
	harness.Htpasswd(t, filepath.Join(dir, "htpasswd.txt"), [2]string{"alice", "s3cret"})
	harness.Htpasswd(t, filepath.Join(dir, ".htpasswd"), [2]string{"alice", "s3cret"})
	logFile := filepath.Join(dir, "pypiserver.log")
	for _, tc := range []struct {
		name    string
		args    string // as the documentation writes it, ~/packages being packages
		health  string
		noFallb bool
	}{
		{"quick start", "run -p 8080 ~/packages", "/health", false},
		{"htpasswd", "run -p 8080 -P htpasswd.txt ~/packages", "/health", false},
		{"systemd unit", "run -p 8080 -a update,download --log-file " + logFile + " -P htpasswd.txt ~/packages", "/health", false},
		{"supervisor", "run -p 7001 -P htpasswd.txt ~/packages", "/health", false},
		{"health endpoint", "run --health-endpoint /action/health", "/action/health", false},
		{"-a help, pypiserver 1 style", "-a download,update -P htpasswd.txt ~/packages", "/health", false},
		{"-a help, no authentication", "-a . -P .", "/health", false},
		{"verbose, log flags", "-vv run --log-stream stderr --log-frmt %(message)s --log-req-frmt %s --backend cached-dir --server auto ~/packages", "/health", false},
		{"docker", "run", "/health", false},
		{"docker with htpasswd", "run -P .htpasswd packages", "/health", false},
		{"disable fallback", "run --disable-fallback packages", "/health", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t)
			var args []string
			for _, a := range strings.Fields(tc.args) {
				switch a {
				case "8080", "7001":
					a = port
				case "~/packages":
					a = packages
				}
				args = append(args, a)
			}
			if !strings.Contains(tc.args, "-p ") {
				args = append(args, "-p", port)
			}
			args = append(args, "-H", "127.0.0.1")
			cmd := exec.Command(pypiServer(t), args...)
			cmd.Dir = dir // the Docker image's working directory holds packages/ and .htpasswd
			_, base := harness.StartCommand(t, cmd)
			if code, _ := harness.Get(t, base+tc.health, ""); code != 200 {
				t.Errorf("%s: %d", tc.health, code)
			}
			if strings.Contains(tc.args, "download") {
				req, _ := http.NewRequest("GET", base+"/packages/demo-1.0-py3-none-any.whl", nil)
				req.SetBasicAuth("alice", "s3cret")
				if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
					t.Errorf("download with credentials: %v %v", resp, err)
				}
			} else if code, page := harness.Get(t, base+"/simple/demo/", ""); code != 200 || !strings.Contains(page, "demo-1.0-py3-none-any.whl") {
				t.Errorf("/simple/demo/: %d\n%s", code, page)
			}
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Get(base + "/simple/not-here/")
			harness.Must(t, err)
			resp.Body.Close()
			if tc.noFallb {
				if resp.StatusCode != 404 {
					t.Errorf("--disable-fallback: %d, want 404", resp.StatusCode)
				}
			} else if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://pypi.org/simple/not-here/" {
				t.Errorf("unknown project: %d %q, want pypiserver's redirect to PyPI", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
	if b, err := os.ReadFile(logFile); err != nil || !strings.Contains(string(b), "serving") {
		t.Errorf("--log-file: %v\n%s", err, b)
	}
	out, err := exec.Command(pypiServer(t), "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "pkgindex ") {
		t.Errorf("pypi-server --version: %v %q", err, out)
	}
}

// pypiServer is the pkgindex binary under the name pypi-server.
func pypiServer(t *testing.T) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "pypi-server")
	harness.Must(t, os.Symlink(harness.Binary(t), link))
	return link
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	harness.Must(t, err)
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
