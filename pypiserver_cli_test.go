package main

import (
	"slices"
	"testing"
)

// TestPypiserverCommandName: installed as pypi-server, the binary runs
// pypiserver's command lines as `pkgindex run`.
func TestPypiserverCommandName(t *testing.T) {
	for _, tc := range []struct {
		argv0 string
		args  []string
		want  []string
	}{
		{"/usr/local/bin/pypi-server", []string{"run", "-p", "8080", "pkgs"}, []string{"run", "run", "-p", "8080", "pkgs"}},
		{"pypi-server", []string{"-p", "8080", "pkgs"}, []string{"run", "-p", "8080", "pkgs"}},
		{"pypi-server", []string{"--version"}, []string{"run", "--version"}},
		{"pypi-server", []string{"update"}, []string{"update"}},
		{"/bin/pkgindex", []string{"serve"}, []string{"serve"}},
	} {
		if got := commandArgs(tc.argv0, tc.args); !slices.Equal(got, tc.want) {
			t.Errorf("%s %v: %v, want %v", tc.argv0, tc.args, got, tc.want)
		}
	}
}
