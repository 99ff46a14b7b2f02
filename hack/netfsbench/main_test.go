//go:build linux

package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRun runs the whole tool on a tiny tree and checks the report is
// complete and consistent with the tree.
func TestRun(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("FUSE and root are required in CI: %v (uid %d)", err, os.Geteuid())
		}
		t.Skipf("needs /dev/fuse and root: %v (uid %d)", err, os.Geteuid())
	}
	if testing.Short() {
		t.Skip("builds the server and runs it twice")
	}
	cfg := config{files: 40, projects: 4, big: 10, layout: "per-project", latency: 100 * time.Microsecond,
		samples: 2, requests: 3, conns: 4, duration: 300 * time.Millisecond, work: t.TempDir(), timeout: 5 * time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, cfg, &out); err != nil {
		t.Fatal(err)
	}
	report := out.String()
	for _, want := range []string{
		"| /simple/ | GETATTR",
		"| /simple/project-0000/ (10 files) | GETATTR",
		"| /simple/big-project/ (10 files) | GETATTR",
		"| download of one file of project-0000 | ",
		"| 4 connections, project pages of 4 projects in turn, 300ms |",
		"| 1: first on the tree |",
		"| 2: started after replica 1, on its own client |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	// A warm replica answers a project page from its digest cache: no
	// file is read again.
	for line := range strings.Lines(report) {
		if strings.HasPrefix(line, "| /simple/project-0000/") && strings.Contains(line, "READ ") {
			t.Errorf("a warm project page read file data: %s", line)
		}
	}
	// A cold replica digests every file: 40 spread over the projects and
	// the big project's 10.
	if !strings.Contains(report, " | 50 (") {
		t.Errorf("report does not show 50 files digested:\n%s", report)
	}
}
