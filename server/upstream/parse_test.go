package upstream

import (
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestAnchors(t *testing.T) {
	for _, tc := range []struct {
		name, page string
		want       []map[string]string
	}{
		{"plain", `<a href="a-1.0.tar.gz">a</a>`, []map[string]string{{"href": "a-1.0.tar.gz"}}},
		{"attributes, entities, quotes", `<A HREF='x.whl#sha256=AB' data-requires-python="&gt;=3.8" data-yanked>x</A>`,
			[]map[string]string{{"href": "x.whl#sha256=AB", "data-requires-python": ">=3.8", "data-yanked": ""}}},
		{"unquoted and spaced", "<a\n href = x.whl data-core-metadata=sha256=00>", []map[string]string{{"href": "x.whl", "data-core-metadata": "sha256=00"}}},
		{"comments and other tags skipped", `<!-- <a href="no.whl"> --><abbr href="no"><meta name=x><a href="yes.whl"/>`,
			[]map[string]string{{"href": "yes.whl"}}},
		{"first of a repeated attribute", `<a href="1.whl" href="2.whl">`, []map[string]string{{"href": "1.whl"}}},
		{"unterminated", `<a href="x.whl`, []map[string]string{{}}},
		{"none", `<html><body>nothing</body></html>`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []map[string]string
			for a := range anchors([]byte(tc.page)) {
				got = append(got, a)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzAnchors(f *testing.F) {
	f.Add([]byte(`<a href="x-1.0.tar.gz#sha256=00" data-yanked="">x</a>`))
	f.Add([]byte(`<!-- <a href=x> --><a href='y' data-core-metadata=true>`))
	base, _ := url.Parse("https://up.example/simple/x/")
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := parseHTML(b, base, "x")
		if err != nil {
			return
		}
		for _, e := range rec.Files {
			u, err := url.Parse(e.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				t.Fatalf("kept a link that is no http(s) URL: %q", e.URL)
			}
			if slices.ContainsFunc([]byte(e.Filename), func(c byte) bool { return c == '/' || c == '\\' || c == 0 }) || e.Filename[0] == '.' {
				t.Fatalf("kept a file name that could leave the cache: %q", e.Filename)
			}
		}
	})
}

func TestParseJSON(t *testing.T) {
	base, _ := url.Parse("https://up.example/simple/demo/")
	page := `{"meta":{"api-version":"1.1"},"name":"demo","versions":["1.0","2.0"],"files":[
	{"filename":"demo-1.0-py3-none-any.whl","url":"../../files/demo-1.0-py3-none-any.whl","hashes":{"SHA256":"AA"},
	 "requires-python":">=3.8","core-metadata":{"sha256":"bb"},"yanked":"bad","size":10,"upload-time":"2024-01-02T03:04:05.123456Z",
	 "provenance":"https://up.example/prov/demo"},
	{"filename":"demo-2.0.tar.gz","url":"https://cdn.example/demo-2.0.tar.gz","hashes":{},"dist-info-metadata":true,"yanked":false},
	{"filename":"../evil-1.0.tar.gz","url":"x"},
	{"filename":"demo-3.0.tar.gz","url":"file:///etc/passwd"},
	{"filename":"not a distribution","url":"y"}]}`
	rec, err := parseJSON([]byte(page), base, "demo")
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{{
		Filename: "demo-1.0-py3-none-any.whl", URL: "https://up.example/files/demo-1.0-py3-none-any.whl",
		Hashes: map[string]string{"sha256": "aa"}, RequiresPython: ">=3.8", Metadata: true,
		MetadataHashes: map[string]string{"sha256": "bb"}, Yanked: true, YankReason: "bad", Size: 10,
		UploadTime: time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC), Provenance: "https://up.example/prov/demo",
	}, {
		Filename: "demo-2.0.tar.gz", URL: "https://cdn.example/demo-2.0.tar.gz", Hashes: map[string]string{}, Metadata: true,
	}}
	if !reflect.DeepEqual(rec.Files, want) {
		t.Errorf("files:\n got %+v\nwant %+v", rec.Files, want)
	}
	if !slices.Equal(rec.Versions, []string{"1.0", "2.0"}) {
		t.Errorf("versions %v", rec.Versions)
	}
}

func TestParseHTML(t *testing.T) {
	base, _ := url.Parse("https://up.example/simple/demo/")
	page := `<a href="../../f/demo-1.0.tar.gz#sha256=AB" data-dist-info-metadata="sha256=cd" data-yanked="old">demo-1.0.tar.gz</a>
<a href="demo-2.0%2Blocal.tar.gz">x</a><a href="other-1.0.tar.gz">another project's</a><a href="/f/demo-2.0-py3-none-any.whl" data-core-metadata="false" data-provenance="p.json">w</a>`
	rec, err := parseHTML([]byte(page), base, "demo")
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{Filename: "demo-1.0.tar.gz", URL: "https://up.example/f/demo-1.0.tar.gz", Hashes: map[string]string{"sha256": "ab"},
			Metadata: true, MetadataHashes: map[string]string{"sha256": "cd"}, Yanked: true, YankReason: "old"},
		{Filename: "demo-2.0+local.tar.gz", URL: "https://up.example/simple/demo/demo-2.0%2Blocal.tar.gz", Hashes: map[string]string{}},
		{Filename: "demo-2.0-py3-none-any.whl", URL: "https://up.example/f/demo-2.0-py3-none-any.whl", Hashes: map[string]string{},
			Provenance: "https://up.example/simple/demo/p.json"},
	}
	if !reflect.DeepEqual(rec.Files, want) {
		t.Errorf("files:\n got %+v\nwant %+v", rec.Files, want)
	}
	if !slices.Equal(rec.Versions, []string{"1.0", "2.0+local", "2.0"}) {
		t.Errorf("versions %v", rec.Versions)
	}
}
