package server

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"pkgindex.dev/pkgindex/server/auth"
	"pkgindex.dev/pkgindex/server/pkgtest"
)

// pipSearch is the body pip's `search` command sends (xmlrpc.client's
// encoding of search({"name": [q], "summary": [q]}, "or")).
func pipSearch(q string) string {
	return `<?xml version='1.0'?>
<methodCall>
<methodName>search</methodName>
<params>
<param>
<value><struct>
<member>
<name>name</name>
<value><array><data>
<value><string>` + q + `</string></value>
</data></array></value>
</member>
<member>
<name>summary</name>
<value><array><data>
<value><string>` + q + `</string></value>
</data></array></value>
</member>
</struct></value>
</param>
<param>
<value><string>or</string></value>
</param>
</params>
</methodCall>
`
}

func TestSearch(t *testing.T) {
	root := t.TempDir()
	pkgtest.Wheel(t, root, pkgtest.Spec{Name: "Demo.Pkg", Version: "1.0", Summary: "old"})
	pkgtest.Wheel(t, root, pkgtest.Spec{Name: "Demo.Pkg", Version: "2.0", Summary: "tools & <things>"})
	pkgtest.Wheel(t, root, pkgtest.Spec{Name: "other", Version: "0.1", Summary: "has a demo inside"})
	pkgtest.Wheel(t, root, pkgtest.Spec{Name: "unrelated", Version: "0.1", Summary: "nothing"})
	f := &writeFixture{srv: serveWith(t, "--root", root).srv}
	for _, tc := range []struct {
		name string
		body string
		code int
		has  []string
		not  []string
	}{
		{"pip's search", pipSearch("demo"), 200,
			[]string{"<name>name</name><value><string>demo-pkg</string>", "<name>version</name><value><string>2.0</string>",
				"<string>tools &amp; &lt;things&gt;</string>", "<string>other</string>"},
			[]string{"unrelated", "fault"}},
		{"by summary only", strings.Replace(pipSearch("inside"), "<name>name</name>", "<name>ignored</name>", 1), 200, []string{"<string>other</string>"}, []string{"demo-pkg"}},
		{"and: no project has demo in both", strings.Replace(pipSearch("demo"), "<string>or</string>", "<string>and</string>", 1), 200, []string{"<data>\n</data>"}, []string{"demo-pkg", "other"}},
		{"other method", `<?xml version="1.0"?><methodCall><methodName>list_packages</methodName><params/></methodCall>`, 200,
			[]string{"<fault>", "faultCode", "list_packages"}, nil},
		{"document type", `<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x "demo">]><methodCall><methodName>search</methodName></methodCall>`, 400,
			[]string{"document type declarations are not accepted"}, nil},
		{"external entity", `<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><methodCall><methodName>&x;</methodName></methodCall>`, 400,
			[]string{"document type"}, []string{"root:"}},
		{"undefined entity", `<methodCall><methodName>&x;</methodName></methodCall>`, 400, []string{"Malformed XML-RPC request"}, nil},
		{"malformed", `<methodCall><methodName>search</methodName>`, 400, []string{"Malformed XML-RPC request"}, nil},
		{"not a call", `<methodResponse/>`, 400, []string{"want methodCall"}, nil},
		{"too deep", `<methodCall><methodName>search</methodName><params><param><value>` + strings.Repeat("<array><data><value>", 20) + `x` +
			strings.Repeat("</value></data></array>", 20) + `</value></param></params></methodCall>`, 400, []string{"nested too deeply"}, nil},
		{"too large", `<methodCall><methodName>` + strings.Repeat("a", maxRPCBody) + `</methodName></methodCall>`, 413, []string{"larger than"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := f.send(t, http.MethodPost, "/RPC2", "", "text/xml", strings.NewReader(tc.body))
			if code != tc.code {
				t.Fatalf("%d, want %d:\n%s", code, tc.code, body)
			}
			for _, s := range tc.has {
				if !strings.Contains(body, s) {
					t.Errorf("answer lacks %s:\n%s", s, body)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(body, s) {
					t.Errorf("answer has %s:\n%s", s, body)
				}
			}
		})
	}
}

// TestSearchNeedsList: search reads the index, so -a list protects it.
func TestSearchNeedsList(t *testing.T) {
	f := newWriteFixture(t, func(c *Config) { c.Authenticate |= auth.Actions(auth.List) })
	if code, body, _ := f.send(t, http.MethodPost, "/RPC2", "", "text/xml", strings.NewReader(pipSearch("x"))); code != 401 {
		t.Errorf("search without credentials: %d %s", code, body)
	}
	if code, body, _ := f.send(t, http.MethodPost, "/RPC2", basic("reader", "look"), "text/xml", strings.NewReader(pipSearch("x"))); code != 200 {
		t.Errorf("search with credentials: %d %s", code, body)
	}
}

// TestPipSearch runs the real `pip search` against the index.
func TestPipSearch(t *testing.T) {
	if err := exec.Command("python3", "-m", "pip", "--version").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pip is required in CI: %v", err)
		}
		t.Skipf("pip not available: %v", err)
	}
	root := t.TempDir()
	pkgtest.Wheel(t, root, pkgtest.Spec{Name: "searched-for", Version: "1.2", Summary: "found by pip"})
	f := serveWith(t, "--root", root)
	cmd := exec.Command("python3", "-m", "pip", "search", "--disable-pip-version-check", "--index", f.srv.URL, "searched")
	cmd.Env = append(os.Environ(), "PIP_CONFIG_FILE=/dev/null", "NO_PROXY=*")
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), "no such command") || strings.Contains(string(out), "unknown command") {
		t.Skipf("this pip has no search command: %s", out)
	}
	if err != nil || !strings.Contains(string(out), "searched-for (1.2)") || !strings.Contains(string(out), "found by pip") {
		t.Errorf("pip search: %v\n%s", err, out)
	}
}

func FuzzParseCall(f *testing.F) {
	f.Add(pipSearch("demo"))
	f.Add(`<methodCall><methodName>m</methodName><params><param><value><struct><member><name>a</name><value><i4>1</i4></value></member></struct></value></param></params></methodCall>`)
	f.Add(`<!DOCTYPE x><methodCall/>`)
	f.Fuzz(func(t *testing.T, body string) {
		method, _, err := parseCall([]byte(body))
		if err == nil && method == "" {
			t.Fatal("a call without a method name was accepted")
		}
	})
}
