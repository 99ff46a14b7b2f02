package main

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
)

// A bad flag of either command stops it with status 2 and an error that
// names the flag. The commands at work are tested as processes under test/.
func TestFlagErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing root", []string{"serve", "--root", "/nonexistent/dir"}, "--root"},
		{"unknown digest", []string{"serve", "--hash-algo", "crc32", "--root", t.TempDir()}, "--hash-algo"},
		{"server log format", []string{"serve", "--log-format", "xml", "--root", t.TempDir()}, "--log-format"},
		{"no header time", []string{"serve", "--header-timeout", "0s", "--root", t.TempDir()}, "--header-timeout"},
		{"negative stall", []string{"serve", "--upload-stall-timeout", "-1s", "--root", t.TempDir()}, "--upload-stall-timeout"},
		{"empty image", []string{"operator", "--image="}, "--image"},
		{"operator log format", []string{"operator", "--log-format=xml"}, "--log-format"},
		{"stray argument", []string{"operator", "extra"}, "unexpected arguments"},
		{"unknown command", []string{"sevre"}, `unknown command "sevre"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tc.args, io.Discard, &stderr); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr %q does not name %q", stderr.String(), tc.want)
			}
		})
	}
}

func TestDisplayAddr(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"0.0.0.0:8080", "localhost:8080"},
		{"[::]:8080", "localhost:8080"},
		{"127.0.0.1:9000", "127.0.0.1:9000"},
		{"[::1]:9000", "[::1]:9000"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tc.listen)
		if err != nil {
			t.Fatal(err)
		}
		if got := displayAddr(addr); got != tc.want {
			t.Errorf("displayAddr(%s) = %s, want %s", tc.listen, got, tc.want)
		}
	}
}
