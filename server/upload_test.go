package server

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/crypto/bcrypt"

	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/server/store"
)

// writeFixture is a server with a password file, two users (only alice
// may write) and a small upload limit.
type writeFixture struct {
	root string
	srv  *httptest.Server
}

func newWriteFixture(t testing.TB, mutate ...func(*Config)) *writeFixture {
	t.Helper()
	root := t.TempDir()
	pw := filepath.Join(t.TempDir(), "htpasswd")
	var b strings.Builder
	for _, u := range [][2]string{{"alice", "s3cret"}, {"reader", "look"}} {
		h, err := bcrypt.GenerateFromPassword([]byte(u[1]), bcrypt.MinCost)
		must(t, err)
		fmt.Fprintf(&b, "%s:%s\n", u[0], h)
	}
	must(t, os.WriteFile(pw, []byte(b.String()), 0o600))
	cfg, err := ParseFlags([]string{"--root", root, "-P", pw, "--writers", "alice", "--max-upload-size", "64KiB"},
		func(string) string { return "" }, io.Discard)
	must(t, err)
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := New(cfg, testStore(t, cfg), logr.Discard(), "test")
	must(t, err)
	f := &writeFixture{root: root, srv: httptest.NewServer(s.Handler())}
	t.Cleanup(f.srv.Close)
	return f
}

// sentForm is an upload form as twine sends it; fields are written in order,
// the file last, then any trailing fields.
type sentForm struct {
	fields   [][2]string
	filename string
	content  []byte
	trailing [][2]string
}

func twineForm(spec pkgtest.Spec, wheel bool) sentForm {
	name, body := spec.SdistName(), spec.SdistBytes()
	if wheel {
		name, body = spec.WheelName(), spec.WheelBytes()
	}
	md := md5.Sum(body)
	sh := sha256.Sum256(body)
	return sentForm{
		fields: [][2]string{{":action", "file_upload"}, {"protocol_version", "1"}, {"name", spec.Name},
			{"version", spec.Version}, {"filetype", "sdist"}, {"md5_digest", hex.EncodeToString(md[:])},
			{"sha256_digest", hex.EncodeToString(sh[:])}},
		filename: name, content: body,
	}
}

func (f sentForm) with(key, val string) sentForm {
	out := sentForm{filename: f.filename, content: f.content}
	done := false
	for _, kv := range f.fields {
		if kv[0] == key {
			if !done {
				out.fields = append(out.fields, [2]string{key, val})
				done = true
			}
			continue
		}
		out.fields = append(out.fields, kv)
	}
	if !done {
		out.fields = append(out.fields, [2]string{key, val})
	}
	return out
}

func (f sentForm) without(key string) sentForm {
	out := sentForm{filename: f.filename, content: f.content}
	for _, kv := range f.fields {
		if kv[0] != key {
			out.fields = append(out.fields, kv)
		}
	}
	return out
}

func (f sentForm) encode() (body []byte, ctype string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, kv := range f.fields {
		mw.WriteField(kv[0], kv[1])
	}
	if f.filename != "\x00none" {
		h := textproto.MIMEHeader{}
		// Written by hand: the multipart writer would escape the name,
		// and these tests need to send it exactly.
		h.Set("Content-Disposition", `form-data; name="content"; filename="`+f.filename+`"`)
		h.Set("Content-Type", "application/octet-stream")
		w, _ := mw.CreatePart(h)
		w.Write(f.content)
	}
	for _, kv := range f.trailing {
		mw.WriteField(kv[0], kv[1])
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func (f *writeFixture) post(t *testing.T, path, authz string, fm sentForm) (int, string, http.Header) {
	t.Helper()
	body, ctype := fm.encode()
	return f.send(t, http.MethodPost, path, authz, ctype, bytes.NewReader(body))
}

// send makes one request and returns its status, status line and body, and
// headers.
func (f *writeFixture) send(t testing.TB, method, path, authz, ctype string, body io.Reader) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	must(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Status + "\n" + string(b), resp.Header
}

// files lists every file under the root, hidden ones included, so a test
// sees anything an upload left behind.
func (f *writeFixture) files(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(f.root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(f.root, p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	return out
}

func TestUploadBadInput(t *testing.T) {
	f := newWriteFixture(t)
	alice := basic("alice", "s3cret")
	demo := pkgtest.Spec{Name: "Demo.Pkg", Version: "1.0"}
	good := twineForm(demo, true)
	// One file is published first: the rows below must leave it, and
	// nothing else, on disk.
	if code, body, _ := f.post(t, "/legacy/", alice, good); code != 200 {
		t.Fatalf("first upload: %d %s", code, body)
	}
	published := f.files(t)
	if len(published) != 2 || published["demo-pkg/"+demo.WheelName()] != string(demo.WheelBytes()) || published[".pkgindex/facts/demo-pkg/.demo-pkg.facts"] == "" {
		t.Fatalf("after the first upload: %v", keys(published))
	}
	other := pkgtest.Spec{Name: "other", Version: "2.0"}
	otherForm := twineForm(other, true)
	notZip := otherForm
	notZip.content = []byte("this is not a zip file at all")
	notZip = notZip.without("md5_digest").without("sha256_digest")
	wrongMeta := twineForm(pkgtest.Spec{Name: "other", Version: "2.0"}, true)
	wrongMeta.content = pkgtest.Spec{Name: "other", Version: "3.0"}.WheelBytes()
	wrongMeta = wrongMeta.without("md5_digest").without("sha256_digest")
	manyParts := withParts(otherForm, maxParts+1)
	huge := twineForm(other, false)
	huge.content = bytes.Repeat([]byte("x"), 65<<10)

	for _, tc := range []struct {
		name   string
		path   string
		authz  string
		fm     sentForm
		code   int
		reason string // in the status line, where twine shows it
	}{
		{"no credentials", "/", "", otherForm, 401, "authentication required"},
		{"wrong password", "/", basic("alice", "nope"), otherForm, 401, "wrong user name or password"},
		{"unknown user", "/", basic("mallory", "s3cret"), otherForm, 401, "wrong user name or password"},
		{"user without update", "/", basic("reader", "look"), otherForm, 403, "may not change the index"},
		{"no action", "/", alice, otherForm.without(":action"), 400, "Missing :action"},
		{"unknown action", "/", alice, otherForm.with(":action", "frobnicate"), 400, "Unsupported :action"},
		{"no file", "/", alice, func() sentForm { fm := otherForm; fm.filename = "\x00none"; return fm }(), 400, "Missing content"},
		{"no name, a wrong version", "/", alice, otherForm.without("name").with("version", "3.0"), 400, `is not version "3.0"`},
		{"no version, a wrong name", "/", alice, otherForm.without("version").with("name", "else"), 400, "does not belong to project"},
		{"name does not match", "/", alice, otherForm.with("name", "another"), 400, "does not belong to project"},
		{"version does not match", "/", alice, otherForm.with("version", "2.1"), 400, "is not version"},
		{"traversal", "/", alice, func() sentForm { fm := otherForm; fm.filename = "../other-2.0-py3-none-any.whl"; return fm }(), 400, "Bad filename"},
		{"directory", "/", alice, func() sentForm { fm := otherForm; fm.filename = "a/other-2.0-py3-none-any.whl"; return fm }(), 400, "Bad filename"},
		{"backslash", "/", alice, func() sentForm { fm := otherForm; fm.filename = `a\other-2.0-py3-none-any.whl`; return fm }(), 400, "Bad filename"},
		{"hidden", "/", alice, func() sentForm { fm := otherForm; fm.filename = ".other-2.0-py3-none-any.whl"; return fm }(), 400, "Bad filename"},
		{"very long", "/", alice, func() sentForm { fm := otherForm; fm.filename = strings.Repeat("a", 300) + "-2.0.tar.gz"; return fm }(), 400, "Bad filename"},
		{"not a distribution", "/", alice, func() sentForm { fm := otherForm; fm.filename = "other.txt"; return fm }(), 400, "Bad filename"},
		{"md5 mismatch", "/", alice, otherForm.with("md5_digest", strings.Repeat("0", 32)), 400, "Digest mismatch: the md5"},
		{"sha256 mismatch", "/", alice, otherForm.with("sha256_digest", strings.Repeat("a", 64)), 400, "Digest mismatch: the sha256"},
		{"blake2 mismatch", "/", alice, otherForm.with("blake2_256_digest", strings.Repeat("b", 64)), 400, "Digest mismatch: the blake2_256"},
		{"not a zip wheel", "/", alice, notZip, 400, "not a valid archive"},
		{"wheel metadata disagrees", "/", alice, wrongMeta, 400, "METADATA names version"},
		{"too many parts", "/", alice, manyParts, 413, "More than 4096 parts"},
		{"over the limit", "/", alice, huge.without("md5_digest").without("sha256_digest"), 413, "larger than the server's limit"},
		{"existing file", "/legacy/", alice, good.with("md5_digest", "").with("sha256_digest", ""), 409, "File already exists: demo_pkg-1.0-py3-none-any.whl"},
		{"remove missing version", "/", alice, sentForm{fields: [][2]string{{":action", "remove_pkg"}, {"name", "demo-pkg"}, {"version", "9.9"}}, filename: "\x00none"}, 404, "demo-pkg (9.9) not found"},
		{"remove without credentials", "/", "", sentForm{fields: [][2]string{{":action", "remove_pkg"}, {"name", "demo-pkg"}, {"version", "1.0"}}, filename: "\x00none"}, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, hdr := f.post(t, tc.path, tc.authz, tc.fm)
			if code != tc.code || !strings.Contains(body, tc.reason) {
				t.Errorf("%d %q, want %d with %q", code, body, tc.code, tc.reason)
			}
			if code == 401 && hdr.Get("WWW-Authenticate") != `Basic realm="pypi"` {
				t.Errorf("401 without the challenge: %v", hdr)
			}
			if got := f.files(t); len(got) != len(published) || got["demo-pkg/"+demo.WheelName()] != string(demo.WheelBytes()) {
				t.Errorf("the refused request changed the root: %v", keys(got))
			}
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Digests sent after the file are checked too: the store computes them
// from the received file when they were not asked for beforehand.
func TestDigestsAfterTheFile(t *testing.T) {
	f := newWriteFixture(t)
	alice := basic("alice", "s3cret")
	spec := pkgtest.Spec{Name: "late", Version: "1.0"}
	fm := twineForm(spec, true).without("md5_digest").without("sha256_digest")
	body := spec.WheelBytes()
	sums := map[string]string{}
	for _, algo := range store.UploadDigests() {
		h := store.NewDigest(algo)
		h.Write(body)
		sums[algo] = hex.EncodeToString(h.Sum(nil))
	}
	for _, algo := range store.UploadDigests() {
		wrong := fm
		wrong.trailing = [][2]string{{algo + "_digest", strings.Repeat("0", len(sums[algo]))}}
		if code, status, _ := f.post(t, "/", alice, wrong); code != 400 || !strings.Contains(status, "Digest mismatch: the "+algo) {
			t.Errorf("wrong %s after the file: %q, want 400 naming it", algo, status)
		}
	}
	if got := f.files(t); len(got) != 0 {
		t.Fatalf("refused uploads left %v", keys(got))
	}
	for _, algo := range store.UploadDigests() {
		fm.trailing = append(fm.trailing, [2]string{algo + "_digest", sums[algo]})
	}
	if code, status, _ := f.post(t, "/", alice, fm); code != 200 {
		t.Fatalf("right digests after the file: %q", status)
	}
	rec := f.files(t)[".pkgindex/facts/late/.late.facts"]
	for algo, sum := range sums {
		if !strings.Contains(rec, `"`+algo+`":"`+sum+`"`) {
			t.Errorf("the facts record lacks the %s the client sent: %s", algo, rec)
		}
	}
}

// A body cut off in the middle (a client killed, a proxy timing out) is
// refused and leaves nothing behind.
func TestTruncatedUpload(t *testing.T) {
	f := newWriteFixture(t)
	body, ctype := twineForm(pkgtest.Spec{Name: "cut", Version: "1.0"}, true).encode()
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	must(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		basic("alice", "s3cret"), ctype, len(body))
	conn.Write(body[:len(body)-200])
	conn.(*net.TCPConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(resp), "HTTP/1.1 400 Truncated upload") {
		t.Errorf("answer to a truncated upload: %q", resp)
	}
	if got := f.files(t); len(got) != 0 {
		t.Errorf("a truncated upload left %v", keys(got))
	}
}

// The management API: yank with a reason, unyank, project status, removal,
// each visible on the next page.
func TestManagementAPI(t *testing.T) {
	f := newWriteFixture(t)
	alice := basic("alice", "s3cret")
	spec := pkgtest.Spec{Name: "lib", Version: "1.0"}
	for _, wheel := range []bool{true, false} {
		if code, body, _ := f.post(t, "/", alice, twineForm(spec, wheel)); code != 200 {
			t.Fatalf("upload: %d %s", code, body)
		}
	}
	do := func(method, path, authz, body string) (int, string) {
		code, b, _ := f.send(t, method, path, authz, "", strings.NewReader(body))
		return code, b
	}
	page := func() string {
		_, b := do("GET", "/simple/lib/", "", "")
		return b
	}
	for _, c := range []struct {
		method, path, authz, body string
		code                      int
		contains                  string
		page                      string // the project page then contains this
	}{
		{"POST", "/api/projects/lib/releases/1.0/yank", "", `{"reason":"x"}`, 401, "", ""},
		{"POST", "/api/projects/lib/releases/1.0/yank", basic("reader", "look"), `{"reason":"x"}`, 403, "may not change", ""},
		{"POST", "/api/projects/lib/releases/1.0/yank", alice, `{"reason":"broken <build>"}`, 200, `"files":["lib-1.0-py3-none-any.whl","lib-1.0.tar.gz"]`, `data-yanked="broken &lt;build&gt;"`},
		{"POST", "/api/projects/lib/releases/2.0/yank", alice, ``, 404, "lib (2.0) not found", ""},
		{"POST", "/api/projects/lib/releases/1.0/yank", alice, `{"reason":"a\nb"}`, 400, "one line", ""},
		{"POST", "/api/projects/lib/releases/1.0/yank", alice, `{"why":"x"}`, 400, "invalid JSON", ""},
		{"POST", "/api/projects/lib/releases/1.0/unyank", alice, ``, 200, `"files"`, `href="../../packages/lib/lib-1.0.tar.gz#sha256=`},
		{"PUT", "/api/projects/lib/status", alice, `{"status":"archived","reason":"moved"}`, 200, `"status":"archived"`, `<meta name="pypi:project-status" content="archived">`},
		{"PUT", "/api/projects/lib/status", alice, `{"status":"gone"}`, 400, "want active", ""},
		{"PUT", "/api/projects/lib/status", alice, `{"status":"active"}`, 200, `"status":"active"`, `lib-1.0.tar.gz`},
		{"DELETE", "/api/projects/lib/releases/1.0", alice, ``, 200, `"files":["lib-1.0-py3-none-any.whl","lib-1.0.tar.gz"]`, ""},
		{"DELETE", "/api/projects/lib/releases/1.0", alice, ``, 404, "not found", ""},
	} {
		code, body := do(c.method, c.path, c.authz, c.body)
		if code != c.code || !strings.Contains(body, c.contains) {
			t.Errorf("%s %s %s: %d %s, want %d with %s", c.method, c.path, c.body, code, body, c.code, c.contains)
		}
		if c.page != "" && !strings.Contains(page(), c.page) {
			t.Errorf("after %s %s %s the page lacks %s:\n%s", c.method, c.path, c.body, c.page, page())
		}
	}
	if got := f.files(t); len(got) != 1 || got["lib/.project-status"] == "" {
		t.Errorf("after removal the root holds %v, want only the status marker", keys(got))
	}
}

// Archived and quarantined projects refuse uploads; attestations are
// checked and served as the file's provenance.
func TestUploadStatusAndAttestations(t *testing.T) {
	f := newWriteFixture(t)
	alice := basic("alice", "s3cret")
	must(t, os.MkdirAll(filepath.Join(f.root, "frozen"), 0o755))
	must(t, os.WriteFile(filepath.Join(f.root, "frozen", ".project-status"), []byte(`{"status":"quarantined","reason":"malware"}`), 0o644))
	if code, body, _ := f.post(t, "/", alice, twineForm(pkgtest.Spec{Name: "frozen", Version: "1.0"}, true)); code != 403 || !strings.Contains(body, "quarantined and accepts no uploads: malware") {
		t.Errorf("upload to a quarantined project: %d %s", code, body)
	}
	att := `[{"version":1,"verification_material":{"certificate":"Y2VydA==","transparency_entries":[{"logIndex":"1"}]},"envelope":{"statement":"c3RtdA==","signature":"c2ln"}}]`
	spec := pkgtest.Spec{Name: "signed", Version: "1.0"}
	bad := twineForm(spec, true).with("attestations", `[{"version":2}]`)
	if code, body, _ := f.post(t, "/", alice, bad); code != 400 || !strings.Contains(body, "Invalid attestations") {
		t.Errorf("bad attestations: %d %s", code, body)
	}
	if code, body, _ := f.post(t, "/", alice, twineForm(spec, true).with("attestations", att)); code != 200 {
		t.Fatalf("upload with attestations: %d %s", code, body)
	}
	resp, err := http.Get(f.srv.URL + "/packages/signed/" + spec.WheelName() + ".provenance")
	must(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"attestation_bundles"`) || !strings.Contains(string(b), `"statement":"c3RtdA=="`) {
		t.Errorf("provenance: %d %s", resp.StatusCode, b)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/simple/signed/", nil)
	req.Header.Set("Accept", "application/vnd.pypi.simple.v1+json")
	resp, err = http.DefaultClient.Do(req)
	must(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"provenance":"../../packages/signed/`+spec.WheelName()+`.provenance"`) {
		t.Errorf("the project page does not point at the provenance: %s", b)
	}
}

// With -a update,download,list every page and download needs credentials;
// health and metrics stay open for probes and scrapers.
func TestReadsCanBeProtected(t *testing.T) {
	f := newWriteFixture(t, func(c *Config) {
		must(t, c.Authenticate.Set("update,download,list"))
	})
	alice := basic("alice", "s3cret")
	spec := pkgtest.Spec{Name: "lib", Version: "1.0"}
	if code, body, _ := f.post(t, "/", alice, twineForm(spec, true)); code != 200 {
		t.Fatalf("upload: %d %s", code, body)
	}
	for _, c := range []struct {
		path, authz string
		code        int
	}{
		{"/simple/", "", 401},
		{"/simple/lib/", "", 401},
		{"/simple/lib/", basic("alice", "wrong"), 401},
		{"/simple/lib/", alice, 200},
		{"/simple/lib/", basic("reader", "look"), 200},
		{"/packages/lib/" + spec.WheelName(), "", 401},
		{"/packages/lib/" + spec.WheelName(), basic("reader", "look"), 200},
		{"/packages/", "", 401},
		{"/pypi/lib/json", "", 401},
		{"/lib/json", "", 401},
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/metrics", "", 200},
	} {
		code, body, hdr := f.send(t, "GET", c.path, c.authz, "", nil)
		if code != c.code {
			t.Errorf("GET %s (%q): %d, want %d\n%s", c.path, c.authz, code, c.code, body)
		}
		if code == 401 && hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("GET %s: 401 without a challenge", c.path)
		}
	}
}

// BenchmarkUpload sends a 32 MiB wheel over real HTTP, with the digests
// twine sends and with SHA-256 alone; the file is removed between rounds.
//
//	go test -bench Upload -run '^$' ./server
func BenchmarkUpload(b *testing.B) {
	for _, tc := range []struct {
		name    string
		digests []string // beyond sha256
	}{
		{"twine", []string{"md5", "blake2_256"}},
		{"sha256", nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			f := newWriteFixture(b, func(c *Config) { c.MaxUploadSize = 64 << 20 })
			// Random, as compressed archives are: a body without a CR in
			// it is the multipart reader's slowest case, not a real one.
			data := make([]byte, 32<<20)
			rand.Read(data)
			spec := pkgtest.Spec{Name: "big", Version: "1.0", Data: data}
			fm := twineForm(spec, true).without("md5_digest")
			for _, algo := range tc.digests {
				h := store.NewDigest(algo)
				h.Write(fm.content)
				fm = fm.with(algo+"_digest", hex.EncodeToString(h.Sum(nil)))
			}
			body, ctype := fm.encode()
			b.SetBytes(int64(len(fm.content)))
			for b.Loop() {
				if code, status, _ := f.send(b, http.MethodPost, "/", basic("alice", "s3cret"), ctype, bytes.NewReader(body)); code != http.StatusOK {
					b.Fatal(status)
				}
				b.StopTimer()
				must(b, os.RemoveAll(filepath.Join(f.root, "big")))
				b.StartTimer()
			}
		})
	}
}

// TestChunkedUpload sends the form with no length, in the chunked coding
// (as a client streaming its body does), trickled a byte at a time: the
// file is published whole.
func TestChunkedUpload(t *testing.T) {
	f := newWriteFixture(t)
	spec := pkgtest.Spec{Name: "chunked", Version: "1.0"}
	body, ctype := twineForm(spec, true).encode()
	trickle := iotest.OneByteReader(bytes.NewReader(body))
	code, status, _ := f.send(t, http.MethodPost, "/legacy/", basic("alice", "s3cret"), ctype, struct{ io.Reader }{trickle})
	if code != http.StatusOK {
		t.Fatalf("chunked upload: %d %s", code, status)
	}
	if got := f.files(t)["chunked/"+spec.WheelName()]; got != string(spec.WheelBytes()) {
		t.Errorf("the published file differs from the one sent (%d bytes, want %d)", len(got), len(spec.WheelBytes()))
	}
}

// withParts pads fm with empty classifiers to n parts, its file included.
func withParts(fm sentForm, n int) sentForm {
	fm.fields = slices.Clone(fm.fields)
	for len(fm.fields)+len(fm.trailing)+1 < n {
		fm.fields = append(fm.fields, [2]string{"classifiers", ""})
	}
	return fm
}

// TestFormShape sends forms at the edge of what the reader takes.
func TestFormShape(t *testing.T) {
	f := newWriteFixture(t)
	alice := basic("alice", "s3cret")
	atLimit := twineForm(pkgtest.Spec{Name: "limit", Version: "1.0"}, true)
	if code, status, _ := f.post(t, "/", alice, withParts(atLimit, maxParts)); code != http.StatusOK {
		t.Errorf("a form of %d parts: %d %s", maxParts, code, status)
	}
	over := twineForm(pkgtest.Spec{Name: "limit", Version: "2.0"}, true)
	if code, status, _ := f.post(t, "/", alice, withParts(over, maxParts+1)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a form of %d parts: %d %s", maxParts+1, code, status)
	}
	// Line ends other than CRLF: the reason says so, not that the body
	// was cut short.
	body, ctype := twineForm(pkgtest.Spec{Name: "limit", Version: "3.0"}, true).encode()
	body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	code, status, _ := f.send(t, http.MethodPost, "/", alice, ctype, bytes.NewReader(body))
	if code != http.StatusBadRequest || !strings.Contains(status, "no boundary line ending in CRLF") {
		t.Errorf("a form with bare LF line ends: %d %s", code, status)
	}
	if got := f.files(t); len(got) != 2 || got["limit/"+pkgtest.Spec{Name: "limit", Version: "1.0"}.WheelName()] == "" {
		t.Errorf("published: %v, want the file of the form at the limit and its record", keys(got))
	}
}
