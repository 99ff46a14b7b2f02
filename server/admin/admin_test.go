package admin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"golang.org/x/crypto/bcrypt"

	"pkgindex.dev/pkgindex/server"
	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/server/store"
)

// newIndex serves a root holding demo 1.0 and 2.0, with alice allowed to
// change it.
func newIndex(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, v := range []string{"1.0", "2.0"} {
		pkgtest.Wheel(t, root, pkgtest.Spec{Name: "demo", Version: v})
	}
	pw := filepath.Join(t.TempDir(), "htpasswd")
	h, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pw, fmt.Appendf(nil, "alice:%s\n", h), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := server.ParseFlags([]string{"--root", root, "-P", pw}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(cfg.StoreOptions(logr.Discard()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(cfg, st, logr.Discard(), "test")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func envOf(kv ...string) func(string) string {
	return func(k string) string {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == k {
				return kv[i+1]
			}
		}
		return ""
	}
}

// TestUsageHidesThePassword runs every command with a usage error while
// PKGINDEX_PASSWORD is set: the usage text must not show it.
func TestUsageHidesThePassword(t *testing.T) {
	for cmd := range Commands {
		for _, args := range [][]string{nil, {"--no-such-flag"}, {"--help"}} {
			var out bytes.Buffer
			Run(context.Background(), cmd, args, envOf("PKGINDEX_PASSWORD", "hunter2-secret"), Streams{Stdout: &out, Stderr: &out})
			if strings.Contains(out.String(), "hunter2-secret") {
				t.Errorf("pkgindex %s %v shows the password:\n%s", cmd, args, out.String())
			}
			if !strings.Contains(out.String(), "-password") {
				t.Errorf("pkgindex %s %v: no usage text:\n%s", cmd, args, out.String())
			}
		}
	}
}

// TestRefusalsReadAlike checks that a refused change reads the same for
// every command, says its reason once, and names the release.
func TestRefusalsReadAlike(t *testing.T) {
	index := newIndex(t)
	for _, tc := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"yank", "demo", "1.0"}, "pkgindex yank demo 1.0: 401 Unauthorized: authentication required: wrong user name or password\n"},
		{[]string{"unyank", "demo", "1.0"}, "pkgindex unyank demo 1.0: 401 Unauthorized: authentication required: wrong user name or password\n"},
		{[]string{"remove", "demo", "1.0"}, "pkgindex remove demo 1.0: 401 Unauthorized: authentication required: wrong user name or password\n"},
		{[]string{"status", "demo", "archived"}, "pkgindex status demo archived: 401 Unauthorized: authentication required: wrong user name or password\n"},
	} {
		var out, errOut bytes.Buffer
		code := Run(context.Background(), tc.cmd[0], append([]string{"--index", index, "--user", "alice"}, tc.cmd[1:]...),
			envOf("PKGINDEX_PASSWORD", "wrong"), Streams{Stdout: &out, Stderr: &errOut})
		if code != 1 || errOut.String() != tc.want {
			t.Errorf("pkgindex %v: exit %d, %q; want 1, %q", tc.cmd, code, errOut.String(), tc.want)
		}
	}
	var errOut bytes.Buffer
	code := Run(context.Background(), "remove", []string{"--index", index, "--user", "alice", "demo", "9.9"},
		envOf("PKGINDEX_PASSWORD", "s3cret"), Streams{Stdout: io.Discard, Stderr: &errOut})
	if want := "pkgindex remove demo 9.9: 404 Not Found: demo (9.9) not found\n"; code != 1 || errOut.String() != want {
		t.Errorf("unknown release: exit %d, %q; want %q", code, errOut.String(), want)
	}
}

// TestNoPasswordWithoutTerminal: with a user, no password and no terminal
// to ask on, the command says where the password comes from.
func TestNoPasswordWithoutTerminal(t *testing.T) {
	index := newIndex(t)
	var errOut bytes.Buffer
	code := Run(context.Background(), "yank", []string{"--index", index, "--user", "alice", "demo", "1.0"}, envOf(),
		Streams{Stdin: nil, Stdout: io.Discard, Stderr: &errOut})
	if code != 2 || !strings.Contains(errOut.String(), "no password for user alice: set PKGINDEX_PASSWORD, or run on a terminal") {
		t.Errorf("exit %d, %q", code, errOut.String())
	}
}

// TestPasswordFile reads the password from a file, as a job reads its
// projected token: trailing white space is not part of it.
func TestPasswordFile(t *testing.T) {
	index := newIndex(t)
	file := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := Run(context.Background(), "yank", []string{"--index", index, "--user", "alice", "--password-file", file, "demo", "1.0"}, envOf(),
		Streams{Stdout: &out, Stderr: &errOut})
	if code != 0 || !strings.Contains(out.String(), "yanked demo-1.0-py3-none-any.whl") {
		t.Errorf("exit %d, %q %q", code, out.String(), errOut.String())
	}
	errOut.Reset()
	code = Run(context.Background(), "yank", []string{"--index", index, "--user", "alice", "--password-file", file + ".missing", "demo", "1.0"}, envOf(),
		Streams{Stdout: io.Discard, Stderr: &errOut})
	if code != 2 || !strings.Contains(errOut.String(), "--password-file") {
		t.Errorf("a missing file: exit %d, %q", code, errOut.String())
	}
}
