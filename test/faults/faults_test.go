//go:build unix

// Package faults runs pkgindex processes against the faults of a Unix file
// system and of its password file: a full or a read-only mount, a file of
// another user, a password file missing, malformed or broken while in use.
package faults

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/test/harness"
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
		t.Skipf("cannot mount a tmpfs here: %v %s; to run it: sudo go test ./test/faults", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a hidden file until the file system is full and returns its
// path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, ".filler")
	f, err := os.Create(p)
	harness.Must(t, err)
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
	harness.Htpasswd(t, pw, [2]string{"alice", "s3cret"})
	authz := "Basic " + harness.BasicCred("alice", "s3cret")
	base := harness.StartServer(t, "--root", root, "--passwords", pw)

	first := pkgtest.Spec{Name: "full", Version: "1.0"}
	if code, status := harness.Upload(t, base, authz, "full", "1.0", first.WheelName(), first.WheelBytes()); code != 200 {
		t.Fatalf("first upload: %s", status)
	}
	check := func(when string, wantFiles int) {
		t.Helper()
		visible, temps := harness.VisibleFiles(t, root)
		if len(visible) != wantFiles || len(temps) != 0 {
			t.Errorf("%s: files %v, temporary files %v; want %d files and no temporary ones", when, visible, temps, wantFiles)
		}
		code, body := harness.Get(t, base+"/simple/full/", "")
		if code != 200 || !strings.Contains(body, first.WheelName()) {
			t.Errorf("%s: project page %d\n%s", when, code, body)
		}
		if code, _ := harness.Get(t, base+"/packages/full/"+first.WheelName(), ""); code != 200 {
			t.Errorf("%s: download %d", when, code)
		}
	}

	// Larger than the whole file system: refused part way through.
	big := pkgtest.Spec{Name: "full", Version: "2.0"}
	content := append(bytes.Repeat([]byte{'x'}, 3<<20), big.WheelBytes()...)
	code, status := harness.Upload(t, base, authz, "full", "2.0", big.WheelName(), content)
	if code != http.StatusInsufficientStorage || !strings.Contains(status, "no space left") {
		t.Errorf("upload larger than the disk: %q, want 507 saying there is no space", status)
	}
	check("after the refused upload", 1)

	// A full disk refuses even a small file, and then frees up.
	filler := fill(t, root)
	small := pkgtest.Spec{Name: "full", Version: "3.0"}
	if code, status := harness.Upload(t, base, authz, "full", "3.0", small.WheelName(), small.WheelBytes()); code != http.StatusInsufficientStorage {
		t.Errorf("upload to a full disk: %q, want 507", status)
	}
	check("with the disk full", 1)
	harness.Must(t, os.Remove(filler))
	if code, status := harness.Upload(t, base, authz, "full", "3.0", small.WheelName(), small.WheelBytes()); code != 200 {
		t.Errorf("upload once space is freed: %q", status)
	}
	check("after space was freed", 2)
}

// TestReadOnlyRoot remounts the root read-only under a running server:
// changes are refused with a clear 503, reads go on working.
func TestReadOnlyRoot(t *testing.T) {
	root := tmpfs(t, "4m")
	harness.Must(t, os.MkdirAll(filepath.Join(root, "ro"), 0o755))
	spec := pkgtest.Spec{Name: "ro", Version: "1.0"}
	pkgtest.Wheel(t, filepath.Join(root, "ro"), spec)
	pw := filepath.Join(t.TempDir(), "htpasswd")
	harness.Htpasswd(t, pw, [2]string{"alice", "s3cret"})
	authz := "Basic " + harness.BasicCred("alice", "s3cret")
	base := harness.StartServer(t, "--root", root, "--passwords", pw)
	if out, err := exec.Command("mount", "-o", "remount,ro", root).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v %s", err, out)
	}

	next := pkgtest.Spec{Name: "ro", Version: "2.0"}
	code, status := harness.Upload(t, base, authz, "ro", "2.0", next.WheelName(), next.WheelBytes())
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
		harness.Must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "read-only") {
			t.Errorf("%s %s on a read-only root: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	if code, body := harness.Get(t, base+"/simple/ro/", ""); code != 200 || !strings.Contains(body, spec.WheelName()) || strings.Contains(body, "data-yanked") {
		t.Errorf("project page on a read-only root: %d\n%s", code, body)
	}
	if code, _ := harness.Get(t, base+"/packages/ro/"+spec.WheelName(), ""); code != 200 {
		t.Errorf("download from a read-only root: %d", code)
	}
	if code, _ := harness.Get(t, base+"/readyz", ""); code != 200 {
		t.Errorf("a read-only root that serves reads is not ready: %d", code)
	}
}

// TestPasswordFileProblems: a missing or unusable password file stops the
// server at start with an error naming the flag; a broken one written
// while the server runs is logged and the previous entries stay in force.
func TestPasswordFileProblems(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	harness.Must(t, os.WriteFile(bad, []byte("this is not htpasswd\nalice:plaintext\n"), 0o600))
	for _, tc := range []struct{ name, path string }{
		{"missing", filepath.Join(dir, "missing")},
		{"malformed", bad},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := harness.Run(t, "serve", "--listen", "127.0.0.1:0", "--root", t.TempDir(), "--passwords", tc.path)
			if code == 0 || !strings.Contains(stderr, "--passwords") {
				t.Errorf("start with a %s password file: exit %d, %q; want an error naming --passwords", tc.name, code, stderr)
			}
		})
	}

	t.Run("reload", func(t *testing.T) {
		pw := filepath.Join(t.TempDir(), "htpasswd")
		harness.Htpasswd(t, pw, [2]string{"alice", "s3cret"})
		base := harness.StartServer(t, "--root", t.TempDir(), "--passwords", pw)
		status := func(user, pass string) int {
			req, _ := http.NewRequest("PUT", base+"/api/projects/demo/status", strings.NewReader(`{"status":"active"}`))
			req.Header.Set("Authorization", "Basic "+harness.BasicCred(user, pass))
			resp, err := http.DefaultClient.Do(req)
			harness.Must(t, err)
			resp.Body.Close()
			return resp.StatusCode
		}
		if c := status("alice", "s3cret"); c != 200 {
			t.Fatalf("before the change: %d", c)
		}
		for _, content := range []string{"garbage without a colon\n", "", "alice:plaintext\n"} {
			// A new file (a new inode), as an editor or a Secret update makes it.
			tmp := pw + ".new"
			harness.Must(t, os.WriteFile(tmp, []byte(content), 0o600))
			harness.Must(t, os.Rename(tmp, pw))
			if c := status("alice", "s3cret"); c != 200 {
				t.Errorf("after the file became %q: the previous password gets %d, want 200", content, c)
			}
			if c := status("alice", "plaintext"); c != 401 {
				t.Errorf("after the file became %q: a plain-text entry gets %d, want 401", content, c)
			}
		}
	})
}
