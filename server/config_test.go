package server

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
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
		{"upstream with credentials in it", []string{"--upstream", "https://alice:s3cret@up.example/simple/"}, "--upstream: credentials in the URL are refused"},
		{"upstream not http", []string{"--upstream", "up.example/simple"}, "--upstream: want an http:// or https:// URL"},
		{"upstream and fallback", []string{"--upstream", "https://up.example/simple/", "--fallback-url", "https://pypi.org/simple/"}, "--upstream and --fallback-url exclude each other"},
		{"upstream credentials missing", []string{"--upstream", "https://up.example/simple/", "--upstream-credentials", "/nonexistent"}, "--upstream-credentials: reading credentials"},
		{"upstream timeout", []string{"--upstream", "https://up.example/simple/", "--upstream-timeout", "0s"}, "--upstream-timeout 0s: want more than 0"},
		{"upstream cache size", []string{"--upstream-cache-size", "lots"}, `--upstream-cache-size "lots": want a byte count`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFlags(append([]string{"--root", root}, tc.args...), noEnv, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %v, want it to say %s", err, tc.want)
			}
		})
	}
}

// TestUpstreamFlags: names are normalized and read from files too, the
// environment's credentials apply to every upstream, and pypiserver's
// command line drops its PyPI fallback for the upstream.
func TestUpstreamFlags(t *testing.T) {
	root := t.TempDir()
	names := filepath.Join(root, "names")
	if err := os.WriteFile(names, []byte("# private\nMy_Lib\n\nother.pkg  # ours\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PKGINDEX_UPSTREAM_USER": "bot", "PKGINDEX_UPSTREAM_PASSWORD": "tok"}
	cfg, err := ParsePypiserverFlags([]string{"--root", root, "--upstream", "https://up.example/simple/",
		"--upstream-merge", "A_B,c", "--upstream-deny-file", names, "--upstream-cache-size", "2GiB"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.Upstream
	if !slices.Equal(u.Merge, []string{"a-b", "c"}) || !slices.Equal(u.Deny, []string{"my-lib", "other-pkg"}) ||
		u.CacheSize != 2<<30 || u.Credentials[""].User != "bot" || u.Credentials[""].Password != "tok" || cfg.FallbackURL != "" {
		t.Errorf("upstream options %+v, fallback %q", u, cfg.FallbackURL)
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

// TestPypiserverFlags are pypiserver's spellings: accepted with their
// meaning where they have one, said at start where they have none, refused
// where pypiserver would refuse them too.
func TestPypiserverFlags(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		name  string
		parse func([]string, func(string) string, io.Writer) (Config, error)
		args  []string
		env   func(string) string
		check func(Config) string // what is wrong, or ""
		err   string
	}{
		{"run redirects to PyPI", ParsePypiserverFlags, nil, noEnv, func(c Config) string {
			if c.FallbackURL != PyPIFallback || !strings.Contains(strings.Join(c.Notes, "\n"), "redirected to "+PyPIFallback) {
				return "no fallback to PyPI, or not said"
			}
			return ""
		}, ""},
		{"run with --disable-fallback", ParsePypiserverFlags, []string{"--disable-fallback"}, noEnv, func(c Config) string {
			if c.FallbackURL != "" || len(c.Notes) > 0 {
				return "fallback still on"
			}
			return ""
		}, ""},
		{"run with --fallback-url", ParsePypiserverFlags, []string{"--fallback-url", "https://mirror.example/simple/"}, noEnv, func(c Config) string {
			if c.FallbackURL != "https://mirror.example/simple/" || len(c.Notes) > 0 {
				return "fallback " + c.FallbackURL
			}
			return ""
		}, ""},
		{"serve keeps its default", ParseFlags, nil, noEnv, func(c Config) string {
			if c.FallbackURL != "" {
				return "serve falls back to " + c.FallbackURL
			}
			return ""
		}, ""},
		{"-vvv", ParseFlags, []string{"-vvv"}, noEnv, func(c Config) string { return map[bool]string{false: "not debug"}[c.LogLevel == "debug"] }, ""},
		{"-vv", ParseFlags, []string{"-vv"}, noEnv, func(c Config) string { return map[bool]string{false: "not debug"}[c.LogLevel == "debug"] }, ""},
		{"log formats are ignored, and said so", ParseFlags, []string{"--log-frmt", "%(message)s", "--log-err-frmt", "%s", "--log-frmt", "x"}, noEnv, func(c Config) string {
			if n := strings.Join(c.Notes, "\n"); !strings.Contains(n, "--log-err-frmt, --log-frmt ignored") {
				return "notes: " + n
			}
			return ""
		}, ""},
		{"log file and stream", ParseFlags, []string{"--log-file", "x.log", "--log-stream", "none"}, noEnv, func(c Config) string {
			if c.LogFile != "x.log" || c.LogStream != "none" {
				return c.LogFile + " " + c.LogStream
			}
			return ""
		}, ""},
		{"--version", ParseFlags, []string{"--version"}, noEnv, func(c Config) string { return map[bool]string{false: "not set"}[c.Version] }, ""},
		{"a build's PKGINDEX_VERSION is not --version", ParseFlags, nil, func(k string) string {
			return map[string]string{"PKGINDEX_VERSION": "v1.2.3"}[k]
		}, func(c Config) string { return map[bool]string{true: "set"}[c.Version] }, ""},
		{"pypiserver's backends", ParseFlags, []string{"--backend", "simple-dir"}, noEnv, nil, ""},
		{"other backends", ParseFlags, []string{"--backend", "redis"}, noEnv, nil, `--backend "redis": want auto, simple-dir or cached-dir`},
		{"bad log stream", ParseFlags, []string{"--log-stream", "syslog"}, noEnv, nil, `--log-stream "syslog": want stderr, stdout or none`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.parse(append([]string{"--root", root}, tc.args...), tc.env, io.Discard)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				if msg := tc.check(cfg); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}
