package server

import (
	"strings"
	"testing"
)

// TestForwardedHeaders: absolute URLs follow a proxy's X-Forwarded-*
// headers only when --trust-proxy says the proxy sets them and no
// --server-base-url fixes the URL.
func TestForwardedHeaders(t *testing.T) {
	trusted := newFixture(t, func(c *Config) { c.TrustProxy = true })
	untrusted := newFixture(t)
	based := newFixture(t, func(c *Config) { c.TrustProxy = true; c.BaseURL = "/base" })
	file := "/packages/demo_pkg-1.0.tar.gz"
	for _, tc := range []struct {
		name   string
		f      *fixture
		prefix string // of the request path
		header map[string]string
		want   string // start of the file's URL; "" for the server's own
	}{
		{"trusted proto and host", trusted, "", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "pypi.example.com"}, "https://pypi.example.com" + file},
		{"trusted host with a path (pypiserver's nginx example)", trusted, "", map[string]string{"X-Forwarded-Host": "pypi.example.com:8443/pypi"}, "http://pypi.example.com:8443/pypi" + file},
		{"trusted prefix", trusted, "", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "a.example, b.example", "X-Forwarded-Prefix": "/mirror/"}, "https://a.example/mirror" + file},
		{"a host that is not one", trusted, "", map[string]string{"X-Forwarded-Host": `evil.example"><script>`}, ""},
		{"a prefix leading up", trusted, "", map[string]string{"X-Forwarded-Prefix": "/../x"}, ""},
		{"untrusted", untrusted, "", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}, ""},
		{"base URL set", based, "/base", map[string]string{"X-Forwarded-Host": "evil.example"}, "/base" + file},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tc.f.do(t, call{path: tc.prefix + "/pypi/demo-pkg/json", header: tc.header})
			want := tc.want
			if want == "" || strings.HasPrefix(want, "/") {
				want = tc.f.srv.URL + want
				if tc.want == "" {
					want += file
				}
			}
			if resp.StatusCode != 200 || !strings.Contains(body, `"url":"`+want+`"`) {
				t.Errorf("%d, want URLs %s:\n%.600s", resp.StatusCode, want, body)
			}
		})
	}
	// pypiserver's /<project>/ redirect keeps a trusted proxy's prefix.
	resp, _ := trusted.do(t, call{path: "/Demo_Pkg/", header: map[string]string{"X-Forwarded-Prefix": "/pypi"}})
	if resp.Header.Get("Location") != "/pypi/simple/demo-pkg/" {
		t.Errorf("redirect behind a prefix: %q", resp.Header.Get("Location"))
	}
}
