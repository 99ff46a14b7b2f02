package process

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/test/harness"
)

// dists writes a wheel and an sdist of spec into a fresh dist/ directory of
// a project directory, with the pyproject.toml poetry and pdm read.
func dists(t *testing.T, spec pkgtest.Spec) string {
	t.Helper()
	proj := t.TempDir()
	harness.Must(t, os.MkdirAll(filepath.Join(proj, "dist"), 0o755))
	pkgtest.Wheel(t, filepath.Join(proj, "dist"), spec)
	pkgtest.Sdist(t, filepath.Join(proj, "dist"), spec)
	toml := fmt.Sprintf(`[project]
name = %[1]q
version = %[2]q
requires-python = ">=3.7"

[tool.poetry]
name = %[1]q
version = %[2]q
description = ""
authors = ["Test <test@example.com>"]

[tool.poetry.dependencies]
python = ">=3.7"

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
`, spec.Name, spec.Version)
	harness.Must(t, os.WriteFile(filepath.Join(proj, "pyproject.toml"), []byte(toml), 0o644))
	return proj
}

func runIn(t *testing.T, dir string, env []string, argv ...string) string {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// pipInstall installs req through an index and imports it.
func pipInstall(t *testing.T, base, req, module, version string) {
	t.Helper()
	pip := harness.Tool(t, "python3", "-m", "pip")
	target := t.TempDir()
	runIn(t, "", nil, append(pip, "install", "--no-cache-dir", "--disable-pip-version-check", "--no-deps",
		"--index-url", base+"/simple/", "--target", target, req)...)
	py := exec.Command("python3", "-c", "import "+module+"; print("+module+".VERSION)")
	py.Env = append(os.Environ(), "PYTHONPATH="+target)
	out, err := py.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != version {
		t.Fatalf("import %s: %v %s", module, err, out)
	}
}

// TestPublishWithRealClients publishes with twine, poetry and pdm through
// one server process and installs with pip through another on the same
// directory, at once: what one replica accepted, every replica serves.
func TestPublishWithRealClients(t *testing.T) {
	root := t.TempDir()
	pw := filepath.Join(t.TempDir(), "htpasswd")
	harness.Htpasswd(t, pw, [2]string{"alice", "s3cret"})
	a := harness.StartServer(t, "--root", root, "--passwords", pw)
	b := harness.StartServer(t, "--root", root, "--passwords", pw)

	t.Run("twine", func(t *testing.T) {
		twine := harness.Tool(t, "twine")
		proj := dists(t, pkgtest.Spec{Name: "twine-demo", Version: "1.0"})
		// Wrong password first: refused, and nothing is published.
		cmd := exec.Command(twine[0], "upload", "--non-interactive", "--disable-progress-bar",
			"--repository-url", a+"/legacy/", "-u", "alice", "-p", "wrong", "dist/twine_demo-1.0-py3-none-any.whl")
		cmd.Dir = proj
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "401") {
			t.Fatalf("twine with a wrong password: %v\n%s", err, out)
		}
		if code, _ := harness.Get(t, b+"/simple/twine-demo/", ""); code != 404 {
			t.Fatalf("a refused upload is listed: %d", code)
		}
		runIn(t, proj, nil, "twine", "upload", "--non-interactive", "--disable-progress-bar",
			"--repository-url", a+"/legacy/", "-u", "alice", "-p", "s3cret", "dist/twine_demo-1.0-py3-none-any.whl", "dist/twine_demo-1.0.tar.gz")
		pipInstall(t, b, "twine-demo==1.0", "twine_demo", "1.0")
		// The same file again: twine reports the conflict.
		cmd = exec.Command(twine[0], "upload", "--non-interactive", "--disable-progress-bar",
			"--repository-url", b+"/legacy/", "-u", "alice", "-p", "s3cret", "dist/twine_demo-1.0.tar.gz")
		cmd.Dir = proj
		if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "File already exists") {
			t.Fatalf("twine of an existing file: %v\n%s", err, out)
		}
	})
	t.Run("poetry", func(t *testing.T) {
		harness.Tool(t, "poetry")
		proj := dists(t, pkgtest.Spec{Name: "poetry-demo", Version: "0.1.0"})
		runIn(t, proj, []string{
			"POETRY_REPOSITORIES_PKGINDEX_URL=" + a + "/legacy/",
			"POETRY_HTTP_BASIC_PKGINDEX_USERNAME=alice", "POETRY_HTTP_BASIC_PKGINDEX_PASSWORD=s3cret",
			"POETRY_CACHE_DIR=" + t.TempDir(), "POETRY_CONFIG_DIR=" + t.TempDir(),
		}, "poetry", "publish", "--no-interaction", "-r", "pkgindex")
		pipInstall(t, b, "poetry-demo==0.1.0", "poetry_demo", "0.1.0")
	})
	t.Run("pip with credentials", func(t *testing.T) {
		// A third replica that protects reads too: pip sends the
		// credentials in the index URL, and without them gets 401.
		c := harness.StartServer(t, "--root", root, "--passwords", pw, "--authenticate", "update,download,list")
		if code, _ := harness.Get(t, c+"/simple/", ""); code != 401 {
			t.Fatalf("anonymous read of a protected index: %d", code)
		}
		u := strings.Replace(c, "http://", "http://alice:s3cret@", 1)
		pipInstall(t, u, "twine-demo==1.0", "twine_demo", "1.0")
	})
	t.Run("pdm", func(t *testing.T) {
		harness.Tool(t, "pdm")
		proj := dists(t, pkgtest.Spec{Name: "pdm-demo", Version: "0.2.0"})
		runIn(t, proj, []string{"PDM_CHECK_UPDATE=false", "PDM_HOME=" + t.TempDir(), "PDM_CACHE_DIR=" + t.TempDir()},
			"pdm", "publish", "--no-build", "-r", b+"/legacy/", "-u", "alice", "-P", "s3cret")
		pipInstall(t, a, "pdm-demo==0.2.0", "pdm_demo", "0.2.0")
	})
}

// slowUpload sends an upload of size bytes of a valid-looking wheel name,
// a chunk at a time, and returns once the first half is sent; the rest
// goes out when release is closed. The answer, if any, arrives on done.
func slowUpload(t *testing.T, base, authz string, spec pkgtest.Spec, content []byte, release <-chan struct{}) (sent <-chan struct{}, done <-chan string) {
	t.Helper()
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	mw.WriteField(":action", "file_upload")
	mw.WriteField("name", spec.Name)
	mw.WriteField("version", spec.Version)
	mw.CreateFormFile("content", spec.WheelName())
	headBytes := bytes.Clone(head.Bytes())
	head.Reset()
	mw.Close()
	tail := head.Bytes()
	total := len(headBytes) + len(content) + len(tail)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	harness.Must(t, err)
	t.Cleanup(func() { conn.Close() })
	half, answer := make(chan struct{}), make(chan string, 1)
	go func() {
		fmt.Fprintf(conn, "POST /legacy/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
			authz, mw.FormDataContentType(), total)
		conn.Write(headBytes)
		mid := len(content) / 2
		for off := 0; off < mid; off += 64 << 10 {
			conn.Write(content[off:min(off+64<<10, mid)])
		}
		close(half)
		<-release
		conn.Write(content[mid:])
		conn.Write(tail)
		b, _ := io.ReadAll(conn)
		answer <- string(b)
	}()
	return half, answer
}

// TestKilledMidUpload kills a server with SIGKILL while a large upload is
// half sent: after a restart nothing partial is listed, and a retry
// succeeds.
func TestKilledMidUpload(t *testing.T) {
	root := t.TempDir()
	pw := filepath.Join(t.TempDir(), "htpasswd")
	harness.Htpasswd(t, pw, [2]string{"alice", "s3cret"})
	authz := "Basic " + harness.BasicCred("alice", "s3cret")
	spec := pkgtest.Spec{Name: "big", Version: "1.0"}
	content := spec.WheelBytes()
	// A few megabytes, of which the server sees the first half before it
	// dies.
	content = append(bytes.Repeat([]byte{0}, 4<<20), content...)

	cmd, base := harness.StartProcess(t, "--root", root, "--passwords", pw)
	release := make(chan struct{})
	half, _ := slowUpload(t, base, authz, spec, content, release)
	select {
	case <-half:
	case <-time.After(20 * time.Second):
		t.Fatal("upload did not start")
	}
	time.Sleep(200 * time.Millisecond) // let the server write what it got
	harness.Must(t, cmd.Process.Kill())
	cmd.Wait()
	close(release)

	var hidden []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if !strings.Contains(p, "/.pkgindex/") {
				t.Errorf("a killed upload left a visible file: %s", p)
			}
			hidden = append(hidden, d.Name())
		}
		return nil
	})
	if len(hidden) == 0 {
		t.Error("the killed server had written nothing: the test did not kill it mid-upload")
	}

	base = harness.StartServer(t, "--root", root, "--passwords", pw)
	if code, body := harness.Get(t, base+"/simple/big/", ""); code != 404 {
		t.Fatalf("after restart the partial upload is listed: %d %s", code, body)
	}
	// The retry: a complete, valid wheel.
	if code, status := harness.Upload(t, base, authz, "big", "1.0", spec.WheelName(), spec.WheelBytes()); code != 200 {
		t.Fatalf("retry after the crash: %s", status)
	}
	if code, body := harness.Get(t, base+"/simple/big/", ""); code != 200 || !strings.Contains(body, spec.WheelName()) {
		t.Fatalf("the retried upload is not listed: %d %s", code, body)
	}
}

// TestConcurrentUploadsOfOneFile races two uploads of the same file through
// two processes: exactly one wins, the other gets 409, and the file on disk
// is whole.
func TestConcurrentUploadsOfOneFile(t *testing.T) {
	root := t.TempDir()
	pw := filepath.Join(t.TempDir(), "htpasswd")
	harness.Htpasswd(t, pw, [2]string{"alice", "s3cret"})
	authz := "Basic " + harness.BasicCred("alice", "s3cret")
	bases := []string{harness.StartServer(t, "--root", root, "--passwords", pw), harness.StartServer(t, "--root", root, "--passwords", pw)}
	for round := range 5 {
		spec := pkgtest.Spec{Name: "race", Version: fmt.Sprintf("1.%d", round)}
		content := spec.WheelBytes()
		release := make(chan struct{})
		var answers []<-chan string
		var halves []<-chan struct{}
		for _, b := range bases {
			h, a := slowUpload(t, b, authz, spec, content, release)
			halves, answers = append(halves, h), append(answers, a)
		}
		for _, h := range halves {
			<-h
		}
		close(release) // both are mid-body: let them finish together
		codes := map[string]int{}
		var mu sync.Mutex
		for _, a := range answers {
			select {
			case ans := <-a:
				mu.Lock()
				codes[strings.SplitN(ans, " ", 3)[1]]++
				mu.Unlock()
			case <-time.After(20 * time.Second):
				t.Fatal("no answer")
			}
		}
		if codes["200"] != 1 || codes["409"] != 1 {
			t.Fatalf("round %d: answers %v, want one 200 and one 409", round, codes)
		}
		got, err := os.ReadFile(filepath.Join(root, "race", spec.WheelName()))
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("round %d: the file on disk is not the upload (%v)", round, err)
		}
	}
}

// TestPasswordFileSwappedLikeASecret replaces the password file the way a
// Kubernetes Secret volume does (a new directory, then an atomic swap of
// the ..data link): the new password works on the next request and the old
// one fails.
func TestPasswordFileSwappedLikeASecret(t *testing.T) {
	vol := t.TempDir()
	v1 := filepath.Join(vol, "..2026_11_28_10_00_00.000000001")
	harness.Must(t, os.Mkdir(v1, 0o755))
	harness.Htpasswd(t, filepath.Join(v1, "htpasswd"), [2]string{"alice", "old"})
	harness.Must(t, os.Symlink(filepath.Base(v1), filepath.Join(vol, "..data")))
	harness.Must(t, os.Symlink("..data/htpasswd", filepath.Join(vol, "htpasswd")))
	base := harness.StartServer(t, "--root", t.TempDir(), "--passwords", filepath.Join(vol, "htpasswd"))

	status := func(pw string) int {
		req, _ := http.NewRequest("PUT", base+"/api/projects/demo/status", strings.NewReader(`{"status":"active"}`))
		req.Header.Set("Authorization", "Basic "+harness.BasicCred("alice", pw))
		resp, err := http.DefaultClient.Do(req)
		harness.Must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := status("old"); c != 200 {
		t.Fatalf("old password before the swap: %d", c)
	}
	v2 := filepath.Join(vol, "..2026_11_28_10_05_00.000000002")
	harness.Must(t, os.Mkdir(v2, 0o755))
	harness.Htpasswd(t, filepath.Join(v2, "htpasswd"), [2]string{"alice", "new"})
	harness.Must(t, os.Symlink(filepath.Base(v2), filepath.Join(vol, "..data_tmp")))
	harness.Must(t, os.Rename(filepath.Join(vol, "..data_tmp"), filepath.Join(vol, "..data")))
	harness.Must(t, os.RemoveAll(v1))
	if c := status("new"); c != 200 {
		t.Errorf("new password right after the swap: %d", c)
	}
	if c := status("old"); c != 401 {
		t.Errorf("old password after the swap: %d, want 401", c)
	}
}

// TestAdminCommands drives `pkgindex yank`, `unyank`, `status` and
// `remove` against a server process, checking the project page after each.
func TestAdminCommands(t *testing.T) {
	root := t.TempDir()
	pw := filepath.Join(t.TempDir(), "htpasswd")
	harness.Htpasswd(t, pw, [2]string{"alice", "s3cret"})
	harness.Must(t, os.MkdirAll(filepath.Join(root, "demo"), 0o755))
	spec := pkgtest.Spec{Name: "demo", Version: "1.0"}
	pkgtest.Wheel(t, filepath.Join(root, "demo"), spec)
	base := harness.StartServer(t, "--root", root, "--passwords", pw)
	t.Setenv("PKGINDEX_PASSWORD", "s3cret")
	for _, c := range []struct {
		args []string
		code int
		out  string
		page string
	}{
		{[]string{"yank", "--index", base + "/simple/", "--user", "alice", "demo", "1.0", "--reason", "broken build"}, 0, "yanked demo-1.0-py3-none-any.whl", `data-yanked="broken build"`},
		{[]string{"yank", "--index", base, "--user", "alice", "demo", "2.0"}, 1, "404", ""},
		{[]string{"yank", "--index", base, "--user", "bob", "demo", "1.0"}, 1, "401", ""},
		{[]string{"unyank", "--index", base, "--user", "alice", "demo", "1.0"}, 0, "unyanked demo-1.0-py3-none-any.whl", `demo-1.0-py3-none-any.whl#sha256=`},
		{[]string{"status", "--index", base, "--user", "alice", "demo", "archived", "--reason", "moved"}, 0, "demo is now archived", `content="archived"`},
		{[]string{"remove", "--index", base, "--user", "alice", "demo", "1.0"}, 0, "removed demo-1.0-py3-none-any.whl", ""},
		{[]string{"remove", "demo", "1.0"}, 2, "", ""},
	} {
		code, out, errOut := harness.Run(t, c.args...)
		if code != c.code || !strings.Contains(out+errOut, c.out) {
			t.Errorf("pkgindex %s: exit %d, %q %q; want %d with %q", strings.Join(c.args, " "), code, out, errOut, c.code, c.out)
		}
		if c.page != "" {
			if _, page := harness.Get(t, base+"/simple/demo/", ""); !strings.Contains(page, c.page) {
				t.Errorf("after pkgindex %s the page lacks %s:\n%s", c.args[0], c.page, page)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "demo", spec.WheelName())); !os.IsNotExist(err) {
		t.Errorf("the removed file is still there: %v", err)
	}
}
