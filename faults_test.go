package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"pkgindex.dev/pkgindex/server/pkgtest"
)

// tmpfs mounts a tmpfs of the given size (mount's spelling, e.g. "2m") on
// a new directory for the test, or skips where mounting is not allowed.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
			t.Fatalf("mount tmpfs: %v %s", err, out)
		}
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// upload sends one file the way twine does and returns the status line,
// which carries the server's reason.
func upload(t *testing.T, base, authz, name, version, filename string, content []byte) (int, string) {
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
	must(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Status
}

// visibleFiles lists the regular files below root outside the store's
// hidden directory, and the temporary files inside it.
func visibleFiles(t *testing.T, root string) (visible, temps []string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
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

// fill writes a hidden file until the file system is full and returns its
// path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, ".filler")
	f, err := os.Create(p)
	must(t, err)
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return p
		}
	}
}

// TestDiskFull runs the server on a 2 MiB file system: an upload that does
// not fit gets a clear 507, leaves nothing behind, reads go on working, and
// once space is freed uploads work again.
func TestDiskFull(t *testing.T) {
	root := tmpfs(t, "2m")
	pw := filepath.Join(t.TempDir(), "htpasswd")
	htpasswd(t, pw, [2]string{"alice", "s3cret"})
	authz := "Basic " + basicCred("alice", "s3cret")
	base := startServer(t, "--root", root, "--passwords", pw)

	first := pkgtest.Spec{Name: "full", Version: "1.0"}
	if code, status := upload(t, base, authz, "full", "1.0", first.WheelName(), first.WheelBytes()); code != 200 {
		t.Fatalf("first upload: %s", status)
	}
	check := func(when string, wantFiles int) {
		t.Helper()
		visible, temps := visibleFiles(t, root)
		if len(visible) != wantFiles || len(temps) != 0 {
			t.Errorf("%s: files %v, temporary files %v; want %d files and no temporary ones", when, visible, temps, wantFiles)
		}
		code, body := get(t, base+"/simple/full/", "")
		if code != 200 || !strings.Contains(body, first.WheelName()) {
			t.Errorf("%s: project page %d\n%s", when, code, body)
		}
		if code, _ := get(t, base+"/packages/full/"+first.WheelName(), ""); code != 200 {
			t.Errorf("%s: download %d", when, code)
		}
	}

	// Larger than the whole file system: refused part way through.
	big := pkgtest.Spec{Name: "full", Version: "2.0"}
	content := append(bytes.Repeat([]byte{'x'}, 3<<20), big.WheelBytes()...)
	code, status := upload(t, base, authz, "full", "2.0", big.WheelName(), content)
	if code != http.StatusInsufficientStorage || !strings.Contains(status, "no space left") {
		t.Errorf("upload larger than the disk: %q, want 507 saying there is no space", status)
	}
	check("after the refused upload", 1)

	// A full disk refuses even a small file, and then frees up.
	filler := fill(t, root)
	small := pkgtest.Spec{Name: "full", Version: "3.0"}
	if code, status := upload(t, base, authz, "full", "3.0", small.WheelName(), small.WheelBytes()); code != http.StatusInsufficientStorage {
		t.Errorf("upload to a full disk: %q, want 507", status)
	}
	check("with the disk full", 1)
	must(t, os.Remove(filler))
	if code, status := upload(t, base, authz, "full", "3.0", small.WheelName(), small.WheelBytes()); code != 200 {
		t.Errorf("upload once space is freed: %q", status)
	}
	check("after space was freed", 2)
}

// TestReadOnlyRoot remounts the root read-only under a running server:
// changes are refused with a clear 503, reads go on working.
func TestReadOnlyRoot(t *testing.T) {
	root := tmpfs(t, "4m")
	must(t, os.MkdirAll(filepath.Join(root, "ro"), 0o755))
	spec := pkgtest.Spec{Name: "ro", Version: "1.0"}
	pkgtest.Wheel(t, filepath.Join(root, "ro"), spec)
	pw := filepath.Join(t.TempDir(), "htpasswd")
	htpasswd(t, pw, [2]string{"alice", "s3cret"})
	authz := "Basic " + basicCred("alice", "s3cret")
	base := startServer(t, "--root", root, "--passwords", pw)
	if out, err := exec.Command("mount", "-o", "remount,ro", root).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v %s", err, out)
	}

	next := pkgtest.Spec{Name: "ro", Version: "2.0"}
	code, status := upload(t, base, authz, "ro", "2.0", next.WheelName(), next.WheelBytes())
	if code != http.StatusServiceUnavailable || !strings.Contains(status, "read-only") {
		t.Errorf("upload to a read-only root: %q, want 503 saying it is read-only", status)
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/projects/ro/releases/1.0/yank"},
		{"DELETE", "/api/projects/ro/releases/1.0"},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, nil)
		req.Header.Set("Authorization", authz)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "read-only") {
			t.Errorf("%s %s on a read-only root: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	if code, body := get(t, base+"/simple/ro/", ""); code != 200 || !strings.Contains(body, spec.WheelName()) || strings.Contains(body, "data-yanked") {
		t.Errorf("project page on a read-only root: %d\n%s", code, body)
	}
	if code, _ := get(t, base+"/packages/ro/"+spec.WheelName(), ""); code != 200 {
		t.Errorf("download from a read-only root: %d", code)
	}
	if code, _ := get(t, base+"/readyz", ""); code != 200 {
		t.Errorf("a read-only root that serves reads is not ready: %d", code)
	}
}

// TestPasswordFileProblems: a missing or unusable password file stops the
// server at start with an error naming the flag; a broken one written
// while the server runs is logged and the previous entries stay in force.
func TestPasswordFileProblems(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	must(t, os.WriteFile(bad, []byte("this is not htpasswd\nalice:plaintext\n"), 0o600))
	for _, tc := range []struct{ name, path string }{
		{"missing", filepath.Join(dir, "missing")},
		{"malformed", bad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			code := run([]string{"serve", "--listen", "127.0.0.1:0", "--root", t.TempDir(), "--passwords", tc.path}, io.Discard, &stderr)
			if code == 0 || !strings.Contains(stderr.String(), "--passwords") {
				t.Errorf("start with a %s password file: exit %d, %q; want an error naming --passwords", tc.name, code, stderr.String())
			}
		})
	}

	t.Run("reload", func(t *testing.T) {
		pw := filepath.Join(t.TempDir(), "htpasswd")
		htpasswd(t, pw, [2]string{"alice", "s3cret"})
		base := startServer(t, "--root", t.TempDir(), "--passwords", pw)
		status := func(user, pass string) int {
			req, _ := http.NewRequest("PUT", base+"/api/projects/demo/status", strings.NewReader(`{"status":"active"}`))
			req.Header.Set("Authorization", "Basic "+basicCred(user, pass))
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			resp.Body.Close()
			return resp.StatusCode
		}
		if c := status("alice", "s3cret"); c != 200 {
			t.Fatalf("before the change: %d", c)
		}
		for _, content := range []string{"garbage without a colon\n", "", "alice:plaintext\n"} {
			// A new file (a new inode), as an editor or a Secret update makes it.
			tmp := pw + ".new"
			must(t, os.WriteFile(tmp, []byte(content), 0o600))
			must(t, os.Rename(tmp, pw))
			if c := status("alice", "s3cret"); c != 200 {
				t.Errorf("after the file became %q: the previous password gets %d, want 200", content, c)
			}
			if c := status("alice", "plaintext"); c != 401 {
				t.Errorf("after the file became %q: a plain-text entry gets %d, want 401", content, c)
			}
		}
	})
}
