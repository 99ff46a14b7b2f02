// Package harness runs pkgindex as a process for the tests under test/: it
// builds the binary once per test binary (with the race detector and the
// build tags the test was built with), starts servers on loopback
// addresses, and speaks to them as clients do.
package harness

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

var (
	build    sync.Once
	binDir   string
	binary   string
	buildErr error
)

// Main runs the tests of a package and then removes the binary they built.
// Call it from TestMain: os.Exit(harness.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	return code
}

// Binary returns the path of a pkgindex binary built from this checkout.
// It is built as the test binary was: with -race under the race detector,
// so the server's races show in process tests too, and with the same tags,
// so -tags portable runs the processes on the portable path.
func Binary(t testing.TB) string {
	t.Helper()
	build.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "pkgindex-bin-")
		if buildErr != nil {
			return
		}
		binary = filepath.Join(binDir, "pkgindex")
		args := []string{"build", "-o", binary}
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				switch {
				case s.Key == "-race" && s.Value == "true":
					args = append(args, "-race")
				case s.Key == "-tags" && s.Value != "":
					args = append(args, "-tags", s.Value)
				}
			}
		}
		args = append(args, "pkgindex.dev/pkgindex")
		cmd := exec.Command("go", args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// Command is the pkgindex binary with args, to be run by the test.
func Command(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	return exec.Command(Binary(t), args...)
}

// StartServer runs `pkgindex serve` on a loopback address and returns its
// base URL once it listens; the server is stopped when the test ends.
func StartServer(t testing.TB, args ...string) string {
	t.Helper()
	_, u := StartProcess(t, args...)
	return u
}

// StartProcess is StartServer that also gives the process, for tests that
// kill it; a process killed by the test is not expected to exit cleanly.
func StartProcess(t testing.TB, args ...string) (*exec.Cmd, string) {
	t.Helper()
	return StartCommand(t, Command(t, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...))
}

// StartCommand is StartProcess for a command the test has prepared (its
// own stderr, another user). It waits for the line that gives the URL,
// and at the end of the test interrupts the server, which must then exit
// with status 0.
func StartCommand(t testing.TB, cmd *exec.Cmd) (*exec.Cmd, string) {
	t.Helper()
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

// Tool finds an external program a test needs: in CI its absence fails the
// test, elsewhere it skips with the reason.
func Tool(t testing.TB, name string, args ...string) []string {
	t.Helper()
	cmd := append([]string{name}, args...)
	if err := exec.Command(cmd[0], append(cmd[1:], "--version")...).Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", strings.Join(cmd, " "), err)
		}
		t.Skipf("%s not available: %v; to run it: %s", strings.Join(cmd, " "), err, installs(name, args))
	}
	return cmd
}

// installs is the command that installs a tool Tool looks for, as .ci/run
// does on Debian.
func installs(name string, args []string) string {
	pkg := map[string]string{"twine": "twine", "poetry": "python3-poetry", "pdm": "python3-pdm"}[name]
	if name == "python3" && len(args) > 1 && args[1] == "pip" {
		pkg = "python3-pip"
	}
	if pkg == "" {
		return "install " + name
	}
	return "apt-get install " + pkg
}

// Get fetches u with the Accept header given (none when empty) and returns
// the status code and body.
func Get(t testing.TB, u string, accept string) (int, string) {
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

// Upload sends one file the way twine does and returns the status code
// and line, which carries the server's reason.
func Upload(t testing.TB, base, authz, name, version, filename string, content []byte) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField(":action", "file_upload")
	mw.WriteField("name", name)
	mw.WriteField("version", version)
	w, _ := mw.CreateFormFile("content", filename)
	w.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/legacy/", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", authz)
	resp, err := http.DefaultClient.Do(req)
	Must(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Status
}

// Htpasswd writes a password file with bcrypt entries of user and password
// pairs.
func Htpasswd(t testing.TB, path string, users ...[2]string) {
	t.Helper()
	var b strings.Builder
	for _, u := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(u[1]), bcrypt.MinCost)
		Must(t, err)
		fmt.Fprintf(&b, "%s:%s\n", u[0], h)
	}
	Must(t, os.WriteFile(path, []byte(b.String()), 0o600))
}

// BasicCred is the credentials part of a Basic Authorization header.
func BasicCred(user, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pw))
}

// VisibleFiles lists the regular files below root outside the store's
// hidden directory, and the temporary files inside it.
func VisibleFiles(t testing.TB, root string) (visible, temps []string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasPrefix(rel, ".pkgindex/tmp/"):
			temps = append(temps, rel)
		case !strings.HasPrefix(rel, "."):
			visible = append(visible, rel)
		}
		return nil
	})
	return visible, temps
}

// Must fails the test on an error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Run runs pkgindex with args to its end and returns its exit status and
// output.
func Run(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := Command(t, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running pkgindex %s: %v", strings.Join(args, " "), err)
	}
	return code, out.String(), errOut.String()
}
