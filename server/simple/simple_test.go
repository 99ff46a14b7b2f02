package simple

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNegotiate(t *testing.T) {
	const pip = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
	for _, tc := range []struct {
		name, accept, format string
		want                 Format
		err                  error
	}{
		{"no header is html", "", "", LegacyHTML, nil},
		{"wildcard is html", "*/*", "", LegacyHTML, nil},
		{"pip", pip, "", JSON, nil},
		{"uv", "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01", "", JSON, nil},
		{"old pip", "text/html", "", LegacyHTML, nil},
		{"html v1", "application/vnd.pypi.simple.v1+html", "", HTMLv1, nil},
		{"latest json", "application/vnd.pypi.simple.latest+json", "", JSON, nil},
		{"latest html", "application/vnd.pypi.simple.latest+html", "", HTMLv1, nil},
		{"q prefers html", "application/vnd.pypi.simple.v1+json;q=0.5, text/html", "", LegacyHTML, nil},
		{"order does not matter", "text/html;q=0.01, application/vnd.pypi.simple.v1+json", "", JSON, nil},
		{"application wildcard", "application/*", "", JSON, nil},
		{"text wildcard", "text/*", "", LegacyHTML, nil},
		{"exact beats wildcard at equal q", "*/*, application/vnd.pypi.simple.v1+json", "", JSON, nil},
		{"specific q=0 overrides wildcard", "*/*, text/html;q=0", "", HTMLv1, nil},
		{"case insensitive", "Application/VND.PyPI.Simple.V1+JSON", "", JSON, nil},
		{"format param wins", pip, "text/html", LegacyHTML, nil},
		{"format param short", "", "json", JSON, nil},
		{"format param with unescaped plus", "", "application/vnd.pypi.simple.v1 json", JSON, nil},
		{"unknown format param falls back", pip, "application/xml", JSON, nil},
		{"nothing fits", "image/png, application/json", "", 0, ErrNotAcceptable},
		{"all refused", "application/vnd.pypi.simple.v1+json;q=0, text/html;q=0, application/vnd.pypi.simple.v1+html;q=0", "", 0, ErrNotAcceptable},
		{"bad q ignored", "application/vnd.pypi.simple.v1+json;q=2, text/html", "", LegacyHTML, nil},
		{"garbage", ";;;,,,/", "", 0, ErrNotAcceptable},
		{"too long", strings.Repeat("text/plain, ", 1000), "", 0, ErrNotAcceptable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Negotiate(tc.accept, tc.format)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Errorf("Negotiate(%q, %q) = %v, %v; want %v, %v", tc.accept, tc.format, got, err, tc.want, tc.err)
			}
		})
	}
}

func FuzzNegotiate(f *testing.F) {
	f.Add("application/vnd.pypi.simple.v1+json;q=0.5, */*;q=0.1", "")
	f.Add("", "json")
	f.Fuzz(func(t *testing.T, accept, format string) {
		got, err := Negotiate(accept, format)
		if err == nil && (got < JSON || got > LegacyHTML) {
			t.Fatalf("Negotiate(%q, %q) = %v without error", accept, format, got)
		}
		if err != nil && !errors.Is(err, ErrNotAcceptable) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func testPage() *Page {
	return &Page{
		Name:         "demo",
		URLPrefix:    "../../packages/",
		Status:       "archived",
		StatusReason: `moved to "demo2" <here>`,
		Versions:     []string{"1.0"},
		Files: []File{{
			Filename: "demo-1.0.tar.gz", URL: "demo-1.0.tar.gz", HashName: "sha256", Hash: []byte{0xab},
			RequiresPython: ">=3.8", Yanked: true, YankReason: "bad\x01 \"one\"\xff", Size: 42,
			UploadTime: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), Provenance: true,
		}, {
			Filename: "demo-1.0-py3-none-any.whl", URL: "demo-1.0-py3-none-any.whl",
			CoreMetadata: true, Size: 7, GPGSig: true,
		}},
	}
}

func TestRenderJSON(t *testing.T) {
	var got struct {
		Meta struct {
			APIVersion string `json:"api-version"`
		} `json:"meta"`
		Name          string            `json:"name"`
		Versions      []string          `json:"versions"`
		ProjectStatus map[string]string `json:"project-status"`
		Alternate     []string          `json:"alternate-locations"`
		Files         []map[string]any  `json:"files"`
	}
	b := AppendPageJSON(nil, testPage())
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b)
	}
	if got.Meta.APIVersion != "1.4" || got.Name != "demo" || got.ProjectStatus["status"] != "archived" ||
		got.ProjectStatus["reason"] != `moved to "demo2" <here>` || got.Alternate == nil || len(got.Files) != 2 {
		t.Fatalf("decoded %+v", got)
	}
	f0, f1 := got.Files[0], got.Files[1]
	checks := map[string][2]any{
		"yanked reason":   {f0["yanked"], "bad\x01 \"one\"\ufffd"},
		"size":            {f0["size"], float64(42)},
		"upload-time":     {f0["upload-time"], "2026-01-02T03:04:05.000006Z"},
		"requires-python": {f0["requires-python"], ">=3.8"},
		"provenance":      {f0["provenance"], "../../packages/demo-1.0.tar.gz.provenance"},
		"core-metadata":   {f1["core-metadata"], true},
		"legacy metadata": {f1["dist-info-metadata"], true},
		"not yanked":      {f1["yanked"], false},
		"gpg-sig":         {f1["gpg-sig"], true},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %#v, want %#v", name, c[0], c[1])
		}
	}
	if h, ok := f1["hashes"].(map[string]any); !ok || len(h) != 0 {
		t.Errorf("hashes without a digest = %#v, want {}", f1["hashes"])
	}
}

func TestRenderHTML(t *testing.T) {
	b := string(AppendPageHTML(nil, testPage()))
	for _, want := range []string{
		`<meta name="pypi:repository-version" content="1.4">`,
		`<meta name="pypi:project-status" content="archived">`,
		`<meta name="pypi:project-status-reason" content="moved to &#34;demo2&#34; &lt;here&gt;">`,
		`<a href="../../packages/demo-1.0.tar.gz#sha256=ab" data-requires-python="&gt;=3.8" data-yanked="bad` + "\x01" + ` &#34;one&#34;` + "\xff" + `" data-provenance="../../packages/demo-1.0.tar.gz.provenance">demo-1.0.tar.gz</a>`,
		`<a href="../../packages/demo-1.0-py3-none-any.whl" data-core-metadata="true" data-dist-info-metadata="true" data-gpg-sig="true">`,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("HTML lacks %s\n%s", want, b)
		}
	}
}

func BenchmarkProjectPage(b *testing.B) {
	p := testPage()
	for len(p.Files) < 25 {
		p.Files = append(p.Files, p.Files[0])
	}
	buf := make([]byte, 0, 64<<10)
	b.Run("html", func(b *testing.B) {
		for b.Loop() {
			buf = AppendPageHTML(buf[:0], p)
		}
	})
	b.Run("json", func(b *testing.B) {
		for b.Loop() {
			buf = AppendPageJSON(buf[:0], p)
		}
	})
}
