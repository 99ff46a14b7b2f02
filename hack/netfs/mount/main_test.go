//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMountServeAndUnmount runs the command: it mounts, counts what a
// client does, resets, and leaves nothing mounted after SIGTERM.
func TestMountServeAndUnmount(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("FUSE is required in CI: %v", err)
		}
		t.Skipf("FUSE not available: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mount")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	backing, base := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	if err := os.Mkdir(backing, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(backing, "a.whl"), []byte("wheel"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-mounts", "2", "-latency", "0", "-stats", "127.0.0.1:0", backing, base)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	t.Cleanup(func() {
		cmd.Process.Kill()
		for _, m := range []string{"0", "1"} {
			syscall.Unmount(filepath.Join(base, m), syscall.MNT_DETACH)
		}
	})
	sc := bufio.NewScanner(out)
	var mounts []string
	for len(mounts) < 2 && sc.Scan() {
		mounts = append(mounts, sc.Text())
	}
	es := bufio.NewScanner(stderr)
	var statsURL string
	for es.Scan() {
		if i := strings.Index(es.Text(), "http://"); i >= 0 {
			statsURL = es.Text()[i:]
			break
		}
	}
	if len(mounts) != 2 || mounts[1] != filepath.Join(base, "1") || statsURL == "" {
		t.Fatalf("mounts %v, counters at %q", mounts, statsURL)
	}
	go func() { done <- cmd.Wait() }()

	if b, err := os.ReadFile(filepath.Join(mounts[1], "a.whl")); err != nil || string(b) != "wheel" {
		t.Fatalf("read through the mount: %q, %v", b, err)
	}
	counts := func() report {
		t.Helper()
		resp, err := http.Get(statsURL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r report
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := counts()
	if len(r.Mounts) != 2 || r.Mounts[1].Ops["OPEN"] != 1 || r.Mounts[0].Ops["OPEN"] != 0 || r.Total.Ops["OPEN"] != 1 {
		t.Errorf("counts after one read through mount 1: %+v", r)
	}
	resp, err := http.Post(strings.TrimSuffix(statsURL, "/counts")+"/reset", "", nil)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("reset: %v %v", resp, err)
	}
	if r := counts(); len(r.Total.Ops) != 0 {
		t.Errorf("counts after reset: %+v", r.Total)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit within 10s of SIGTERM")
	}
	mounted, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounted), base) {
		t.Errorf("still mounted after exit:\n%s", mounted)
	}
}
