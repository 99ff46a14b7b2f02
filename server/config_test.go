package server

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

func noEnv(string) string { return "" }

// TestHelp prints the usage text: every flag's default is shown without a
// panic from a flag whose zero value cannot print itself.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	_, err := ParseFlags([]string{"--help"}, noEnv, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v, want flag.ErrHelp", err)
	}
	if strings.Contains(out.String(), "panic") || !strings.Contains(out.String(), "-root") {
		t.Errorf("usage text:\n%s", out.String())
	}
}

func TestFlagErrorsNameTheProblem(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"health endpoint without its slash", []string{"--health-endpoint", "action/health"}, `--health-endpoint "action/health": want a path starting with '/', such as /action/health`},
		{"health endpoint with odd characters", []string{"--health-endpoint", "/a b"}, `--health-endpoint "/a b": want a path of letters, digits, '/', '_' and '-'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFlags(append([]string{"--root", root}, tc.args...), noEnv, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to say %s", err, tc.want)
			}
		})
	}
}

// TestStartWarnings are the configurations that start but refuse what a
// user most likely meant to allow: the server says so at start.
func TestStartWarnings(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string // "" for no warning
	}{
		{"downloads protected without passwords", []string{"-a", "download"}, "every download is refused"},
		{"listing protected without passwords", []string{"-a", "list,update"}, "every listing is refused"},
		{"default", nil, ""},
		{"downloads protected with passwords", []string{"-a", "download", "-P", "htpasswd"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseFlags(append([]string{"--root", root}, tc.args...), noEnv, &bytes.Buffer{})
			if err != nil && !strings.Contains(err.Error(), "htpasswd") {
				t.Fatal(err)
			}
			got := strings.Join(cfg.Warnings, "\n")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("warnings %q, want %q", got, tc.want)
			}
		})
	}
}
