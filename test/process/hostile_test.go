package process

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/test/harness"
)

// rawRequest sends request bytes exactly as given (no client cleans the
// path) and returns the answer, or an error if the connection ended first.
func rawRequest(addr, request string) (*http.Response, string, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		return nil, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), nil
}

func hostOf(base string) string { return strings.TrimPrefix(base, "http://") }

// closedWithin reports whether the server closes conn (or answers and
// closes) within d, while keep, if set, goes on trickling bytes.
func closedWithin(conn net.Conn, d time.Duration, keep func() error) (string, bool) {
	done := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(conn)
		done <- string(b)
	}()
	deadline := time.After(d)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case got := <-done:
			return got, true
		case <-deadline:
			return "", false
		case <-tick.C:
			if keep != nil {
				keep()
			}
		}
	}
}

// TestSlowClients: a client that trickles its headers, or stalls in the
// middle of an upload body, is cut off by the timeouts, and the server
// goes on serving others meanwhile.
func TestSlowClients(t *testing.T) {
	root := t.TempDir()
	pw := filepath.Join(t.TempDir(), "htpasswd")
	harness.Htpasswd(t, pw, [2]string{"alice", "s3cret"})
	base := harness.StartServer(t, "--root", root, "--passwords", pw, "--header-timeout", "1s", "--upload-stall-timeout", "1s")

	t.Run("headers", func(t *testing.T) {
		conn, err := net.Dial("tcp", hostOf(base))
		harness.Must(t, err)
		defer conn.Close()
		io.WriteString(conn, "GET /simple/ HTTP/1.1\r\nHost: x\r\n")
		i := 0
		_, closed := closedWithin(conn, 5*time.Second, func() error {
			i++
			_, err := fmt.Fprintf(conn, "X-Slow-%d: y\r\n", i)
			return err
		})
		if !closed {
			t.Fatal("a client trickling headers kept its connection for 5s with a 1s header timeout")
		}
		if code, _ := harness.Get(t, base+"/healthz", ""); code != 200 {
			t.Errorf("healthz after a slow client: %d", code)
		}
	})
	t.Run("upload body", func(t *testing.T) {
		conn, err := net.Dial("tcp", hostOf(base))
		harness.Must(t, err)
		defer conn.Close()
		body := "--b\r\nContent-Disposition: form-data; name=\":action\"\r\n\r\nfile_upload\r\n--b\r\n" +
			"Content-Disposition: form-data; name=\"content\"; filename=\"slow-1.0.tar.gz\"\r\n\r\nsome bytes"
		fmt.Fprintf(conn, "POST /legacy/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n%s",
			harness.BasicCred("alice", "s3cret"), body)
		got, closed := closedWithin(conn, 5*time.Second, nil)
		if !closed {
			t.Fatal("a stalled upload kept its connection for 5s with a 1s stall timeout")
		}
		if !strings.HasPrefix(got, "HTTP/1.1 408 ") {
			t.Errorf("stalled upload answered %q, want 408", firstLine(got))
		}
		visible, temps := harness.VisibleFiles(t, root)
		if len(visible)+len(temps) != 0 {
			t.Errorf("a stalled upload left %v %v", visible, temps)
		}
	})
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\r\n"); return l }

// TestOversizedHeaders: headers beyond the limit are a 431, not a memory
// cost.
func TestOversizedHeaders(t *testing.T) {
	base := harness.StartServer(t, "--root", t.TempDir())
	for _, tc := range []struct {
		name    string
		headers string
		want    int
	}{
		{"one huge header", "X-Big: " + strings.Repeat("a", 200<<10) + "\r\n", http.StatusRequestHeaderFieldsTooLarge},
		{"many headers", strings.Repeat("X-Many: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 4000), http.StatusRequestHeaderFieldsTooLarge},
		// Within the header limit, but more choices than the negotiation
		// reads: a clear 406.
		{"huge Accept", "Accept: " + strings.Repeat("text/html;q=0.1, ", 3000) + "\r\n", http.StatusNotAcceptable},
		{"long Accept", "Accept: " + strings.Repeat("x/y;q=0.1, ", 20) + "text/html\r\n", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _, err := rawRequest(hostOf(base), "GET /simple/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"+tc.headers+"\r\n")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want {
				t.Errorf("answered %s, want %d", resp.Status, tc.want)
			}
		})
	}
}

// TestManyConnections holds many half-sent requests open at once: the
// server goes on answering, and the header timeout frees the connections.
// What each held connection costs in memory is BenchmarkHeldConnections'.
func TestManyConnections(t *testing.T) {
	root := t.TempDir()
	pkgtest.Wheel(t, root, pkgtest.Spec{Name: "demo", Version: "1.0"})
	base := harness.StartServer(t, "--root", root, "--header-timeout", "3s")
	conns := holdConnections(t, base, 2000)
	if code, body := harness.Get(t, base+"/simple/demo/", ""); code != 200 || !strings.Contains(body, "demo-1.0") {
		t.Errorf("with %d connections held: %d", len(conns), code)
	}
	// The header timeout closes them all.
	time.Sleep(4 * time.Second)
	open := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err != nil && isTimeout(err) {
			open++
		}
	}
	if open > 0 {
		t.Errorf("%d of %d half-sent requests still open after the header timeout", open, len(conns))
	}
}

// holdConnections opens n connections to the server at base, each with a
// request whose headers never end, closed when the test ends.
func holdConnections(t testing.TB, base string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := net.Dial("tcp", hostOf(base))
		if err != nil {
			t.Fatalf("connection %d: %v", len(conns), err)
		}
		io.WriteString(c, "GET /simple/demo/ HTTP/1.1\r\nHost: x\r\nX-Half: ")
		conns = append(conns, c)
	}
	return conns
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestPathTraversal tries to leave the root through every URL position,
// encoded in every way, reading and writing: never a file outside the
// root, never a 5xx, and the file outside is untouched.
func TestPathTraversal(t *testing.T) {
	outside := t.TempDir()
	root := filepath.Join(outside, "root")
	harness.Must(t, os.MkdirAll(filepath.Join(root, "demo"), 0o755))
	pkgtest.Wheel(t, filepath.Join(root, "demo"), pkgtest.Spec{Name: "demo", Version: "1.0"})
	// A distribution file beside the root, and a secret, that no request
	// may reach.
	secret := pkgtest.Sdist(t, outside, pkgtest.Spec{Name: "secret", Version: "1.0", Summary: "TOPSECRET"})
	harness.Must(t, os.WriteFile(filepath.Join(outside, "passwd"), []byte("TOPSECRET\n"), 0o644))
	pw := filepath.Join(t.TempDir(), "htpasswd")
	harness.Htpasswd(t, pw, [2]string{"alice", "s3cret"})
	base := harness.StartServer(t, "--root", root, "--passwords", pw)
	authz := "Authorization: Basic " + harness.BasicCred("alice", "s3cret") + "\r\n"

	var paths []string
	for _, dots := range []string{"..", "%2e%2e", "%2E%2E", ".%2e", "%2e.", "..%2f..", "..%5c..", "%252e%252e", "..;"} {
		for _, tmpl := range []string{
			"/simple/%s/", "/simple/%s/secret/", "/simple/%s%%2fsecret/", "/packages/%s/passwd", "/packages/%s/secret-1.0.tar.gz",
			"/packages/demo/%s/%s/passwd", "/packages/%s%%2fpasswd", "/packages/demo/%s%%2f..%%2fpasswd", "/pypi/%s/json",
			"/%s/json", "/%s/", "/simple/demo/%s/", "/packages/%s/secret-1.0.tar.gz.metadata",
		} {
			paths = append(paths, strings.ReplaceAll(tmpl, "%s", dots))
		}
	}
	paths = append(paths, "/packages//etc/passwd", "/packages/"+outside+"/passwd", "/packages/demo/%00", "/simple/%00/",
		"/packages/..", "/packages/demo/../../passwd", "//"+outside+"/passwd", "/packages/\\..\\passwd")
	check := func(method, path, extra string) {
		t.Helper()
		resp, body, err := rawRequest(hostOf(base), method+" "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"+extra+"Content-Length: 0\r\n\r\n")
		if err != nil {
			t.Errorf("%s %s: %v", method, path, err)
			return
		}
		if resp.StatusCode >= 500 || strings.Contains(body, "TOPSECRET") || (resp.StatusCode == 200 && strings.Contains(body, "secret-1.0")) {
			t.Errorf("%s %s: %s\n%.300s", method, path, resp.Status, body)
		}
	}
	for _, p := range paths {
		check("GET", p, "")
		check("HEAD", p, "")
	}
	for _, dots := range []string{"..", "%2e%2e", "..%2f..", "%2e%2e%2f%2e%2e"} {
		for _, c := range []struct{ method, tmpl string }{
			{"DELETE", "/api/projects/%s/releases/1.0"},
			{"DELETE", "/api/projects/%s%%2fsecret/releases/1.0"},
			{"DELETE", "/api/projects/secret/releases/%s%%2f1.0"},
			{"POST", "/api/projects/%s/releases/1.0/yank"},
			{"POST", "/api/projects/demo/releases/%s%%2f..%%2fsecret-1.0/yank"},
			{"PUT", "/api/projects/%s/status"},
			{"PUT", "/api/projects/%s%%2f%s%%2fsecret/status"},
		} {
			check(c.method, strings.ReplaceAll(c.tmpl, "%s", dots), authz)
		}
	}
	if _, err := os.Stat(secret); err != nil {
		t.Errorf("the file outside the root was touched: %v", err)
	}
	ents, _ := os.ReadDir(outside)
	for _, e := range ents {
		switch e.Name() {
		case "root", "passwd", filepath.Base(secret):
		default:
			t.Errorf("a request created %s outside the root", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(outside, filepath.Base(secret)+".yanked")); err == nil {
		t.Error("a yank marker was written outside the root")
	}
}

// TestCredentialsNeverLogged runs the server with debug logging (a line
// per request) and sends right, wrong and malformed credentials through
// every authenticated route: no password and no Authorization value
// appears in the log.
func TestCredentialsNeverLogged(t *testing.T) {
	root := t.TempDir()
	pw := filepath.Join(t.TempDir(), "htpasswd")
	harness.Htpasswd(t, pw, [2]string{"alice", "Pa55-right"})
	logPath := filepath.Join(t.TempDir(), "log")
	logf, err := os.Create(logPath)
	harness.Must(t, err)
	cmd := harness.Command(t, "serve", "--listen", "127.0.0.1:0", "--root", root, "--passwords", pw,
		"--authenticate", "update,download,list", "--log-level", "debug")
	cmd.Stderr = logf
	scmd, base := harness.StartCommand(t, cmd)

	spec := pkgtest.Spec{Name: "cred", Version: "1.0"}
	secrets := []string{"Pa55-right", "Pa55-wrong", "Pa55-unknown"}
	for _, cred := range [][2]string{{"alice", "Pa55-right"}, {"alice", "Pa55-wrong"}, {"mallory", "Pa55-unknown"}} {
		authz := "Basic " + harness.BasicCred(cred[0], cred[1])
		secrets = append(secrets, harness.BasicCred(cred[0], cred[1]))
		harness.Upload(t, base, authz, "cred", "1.0", spec.WheelName(), spec.WheelBytes())
		for _, c := range []struct{ method, path string }{
			{"GET", "/simple/"}, {"GET", "/simple/cred/"}, {"GET", "/packages/cred/" + spec.WheelName()},
			{"POST", "/api/projects/cred/releases/1.0/yank"}, {"PUT", "/api/projects/cred/status"},
			{"DELETE", "/api/projects/cred/releases/9.9"},
		} {
			req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(`{"status":"active"}`))
			req.Header.Set("Authorization", authz)
			resp, err := http.DefaultClient.Do(req)
			harness.Must(t, err)
			resp.Body.Close()
		}
		// Credentials in the URL, as some clients put them.
		u := strings.Replace(base, "http://", "http://"+cred[0]+":"+cred[1]+"@", 1)
		if resp, err := http.Get(u + "/simple/cred/?password=" + cred[1]); err == nil {
			resp.Body.Close()
		}
	}
	// Malformed Authorization values are not echoed either.
	for _, v := range []string{"Basic Pa55-garbage", "Bearer Pa55-token", "Basic " + harness.BasicCred("alice", "")} {
		secrets = append(secrets, strings.Fields(v)[1])
		req, _ := http.NewRequest("GET", base+"/simple/", nil)
		req.Header.Set("Authorization", v)
		resp, err := http.DefaultClient.Do(req)
		harness.Must(t, err)
		resp.Body.Close()
	}
	checkLog(t, scmd, logf, []string{"/simple/cred/", "uploaded"}, secrets)
}

// checkLog stops the server and reads its log: it must show every line of
// shown, or it proves nothing, and none of secrets.
func checkLog(t *testing.T, scmd *exec.Cmd, logf *os.File, shown, secrets []string) {
	t.Helper()
	scmd.Process.Signal(os.Interrupt)
	scmd.Wait()
	logf.Close()
	b, err := os.ReadFile(logf.Name())
	harness.Must(t, err)
	log := string(b)
	for _, s := range shown {
		if !strings.Contains(log, s) {
			t.Fatalf("the log does not show %q, so it proves nothing:\n%.3000s", s, log)
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(log, s) {
			t.Errorf("the log holds %q", s)
		}
	}
}
