//go:build unix

package faults

import (
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

// TestPermissionDeniedOnOneFile runs the server as an unprivileged user
// (the tests run as root, who reads everything) beside one file it may not
// read: the file is left out of its project page with a log line, the rest
// of the page is served, and downloading it is a 403, never a 500.
func TestPermissionDeniedOnOneFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start the server as another user; to run it: sudo go test ./test/faults")
	}
	const nobody = 65534
	bin := filepath.Join(t.TempDir(), "pkgindex")
	data, err := os.ReadFile(harness.Binary(t))
	harness.Must(t, err)
	harness.Must(t, os.WriteFile(bin, data, 0o755))
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin)), filepath.Dir(root)} {
		harness.Must(t, os.Chmod(d, 0o755))
	}
	harness.Must(t, os.MkdirAll(filepath.Join(root, "perm"), 0o755))
	ok := pkgtest.Spec{Name: "perm", Version: "1.0"}
	locked := pkgtest.Spec{Name: "perm", Version: "2.0"}
	pkgtest.Wheel(t, filepath.Join(root, "perm"), ok)
	lockedPath := pkgtest.Wheel(t, filepath.Join(root, "perm"), locked)
	harness.Must(t, os.Chmod(lockedPath, 0o600)) // root's, unreadable to nobody
	for _, p := range []string{root, filepath.Join(root, "perm")} {
		harness.Must(t, os.Chown(p, nobody, nobody))
	}

	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--root", root, "--passwords", ".", "--authenticate", ".")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	_, base := harness.StartCommand(t, cmd)

	for _, accept := range []string{"text/html", "application/vnd.pypi.simple.v1+json"} {
		code, body := harness.Get(t, base+"/simple/perm/", accept)
		if code != 200 || !strings.Contains(body, ok.WheelName()) || strings.Contains(body, locked.WheelName()) {
			t.Errorf("project page (%s) beside an unreadable file: %d, want 200 listing only %s\n%s", accept, code, ok.WheelName(), body)
		}
	}
	if code, _ := harness.Get(t, base+"/packages/perm/"+ok.WheelName(), ""); code != 200 {
		t.Errorf("download of the readable file: %d", code)
	}
	if code, _ := harness.Get(t, base+"/packages/perm/"+locked.WheelName(), ""); code != http.StatusForbidden {
		t.Errorf("download of the unreadable file: %d, want 403", code)
	}
	if code, _ := harness.Get(t, base+"/simple/", ""); code != 200 {
		t.Errorf("index beside an unreadable file: %d", code)
	}
}
