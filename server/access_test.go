package server

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/server/trust/trusttest"
)

const testPolicy = `
grants:
  - projects: ["*"]
    rights: [list, download]
    anyone: true
  - projects: [acme-secret]
    rights: [list]
    anyone: true
  - projects: [acme-secret]
    rights: [list, download]
    users: [reader]
  - projects: ["acme-*"]
    rights: [upload, yank]
    users: [alice]
`

// policyFixture is the write fixture's server deciding by a policy file
// instead of --writers.
func policyFixture(t *testing.T, pol string) (*writeFixture, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writePolicy(t, path, pol)
	f := newWriteFixture(t, func(c *Config) {
		c.Writers, c.Policy = nil, path
	})
	return f, path
}

// writePolicy writes a policy file dated in the past, as one written a
// while ago is, so a later rewrite is seen by its times.
func writePolicy(t *testing.T, path, pol string) {
	t.Helper()
	must(t, os.WriteFile(path, []byte(pol), 0o644))
	old := time.Now().Add(-time.Hour)
	must(t, os.Chtimes(path, old, old))
}

func TestPolicyDecides(t *testing.T) {
	f, path := policyFixture(t, testPolicy)
	alice, reader := basic("alice", "s3cret"), basic("reader", "look")
	lib := pkgtest.Spec{Name: "Acme.Lib", Version: "1.0"}
	secret := pkgtest.Spec{Name: "acme-secret", Version: "1.0"}
	for _, c := range []struct {
		name, method, path, authz string
		form                      *sentForm
		body                      string
		code                      int
		contains                  string
	}{
		{"anyone lists", "GET", "/simple/", "", nil, "", 200, ""},
		{"no credentials, no upload", "POST", "/", "", ptr(twineForm(lib, true)), "", 401, "credentials required"},
		{"wrong password", "POST", "/", basic("alice", "nope"), ptr(twineForm(lib, true)), "", 401, "wrong user name or password"},
		{"alice uploads within her pattern", "POST", "/", alice, ptr(twineForm(lib, true)), "", 200, ""},
		{"alice uploads the secret project", "POST", "/", alice, ptr(twineForm(secret, true)), "", 200, ""},
		{"alice outside her pattern", "POST", "/", alice, ptr(twineForm(pkgtest.Spec{Name: "other", Version: "1.0"}, true)), "", 403, "user alice may not upload other: grant 1, the most specific for other, gives user alice only download,list"},
		{"reader may not upload", "POST", "/", reader, ptr(twineForm(pkgtest.Spec{Name: "acme-x", Version: "1.0"}, true)), "", 403, "user reader may not upload acme-x"},
		{"alice yanks", "POST", "/api/projects/acme-lib/releases/1.0/yank", alice, nil, `{"reason":"x"}`, 200, `"files"`},
		{"alice may not remove", "DELETE", "/api/projects/acme-lib/releases/1.0", alice, nil, "", 403, "gives user alice only upload,yank"},
		{"nor by pypiserver's form", "POST", "/", alice, nil, ":action=remove_pkg&name=acme-lib&version=1.0", 403, "may not remove"},
		{"alice may not set a status", "PUT", "/api/projects/acme-lib/status", alice, nil, `{"status":"archived"}`, 403, "may not status"},
		{"anyone downloads", "GET", "/packages/acme-lib/" + lib.WheelName(), "", nil, "", 200, ""},
		{"a narrower grant keeps anyone from a download", "GET", "/packages/acme-secret/" + secret.WheelName(), "", nil, "", 401, ""},
		{"but not from its page", "GET", "/simple/acme-secret/", "", nil, "", 200, secret.WheelName()},
		{"reader downloads it", "GET", "/packages/acme-secret/" + secret.WheelName(), reader, nil, "", 200, ""},
		{"alice may not download it", "GET", "/packages/acme-secret/" + secret.WheelName(), alice, nil, "", 403, "may not download acme-secret"},
		{"nor its core metadata", "GET", "/packages/acme-secret/" + secret.WheelName() + ".metadata", alice, nil, "", 403, "may not download acme-secret"},
		{"which anyone may not read either", "GET", "/packages/acme-secret/" + secret.WheelName() + ".metadata", "", nil, "", 401, ""},
		{"nor its provenance", "GET", "/packages/acme-secret/" + secret.WheelName() + ".provenance", "", nil, "", 401, ""},
		{"reader reads its core metadata", "GET", "/packages/acme-secret/" + secret.WheelName() + ".metadata", reader, nil, "", 200, "Name: acme-secret"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var code int
			var body string
			switch {
			case c.form != nil:
				code, body, _ = f.post(t, c.path, c.authz, *c.form)
			case strings.HasPrefix(c.body, ":action"):
				code, body, _ = f.send(t, c.method, c.path, c.authz, "application/x-www-form-urlencoded", strings.NewReader(c.body))
			default:
				code, body, _ = f.send(t, c.method, c.path, c.authz, "", strings.NewReader(c.body))
			}
			if code != c.code || !strings.Contains(body, c.contains) {
				t.Errorf("%d %s, want %d with %q", code, body, c.code, c.contains)
			}
		})
	}
	_, metrics, _ := f.send(t, "GET", "/metrics", "", "", nil)
	for _, want := range []string{
		`pkgindex_access_decisions_total{kind="user",outcome="refused",right="remove"} 2`,
		`pkgindex_access_decisions_total{kind="user",outcome="allowed",right="upload"} 2`,
		`pkgindex_access_decisions_total{kind="anonymous",outcome="refused",right="upload"} 1`,
		`pkgindex_access_decisions_total{kind="unknown",outcome="unauthenticated",right="update"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// A changed policy is in force at the next request; a broken one
	// leaves it so.
	writePolicy(t, path, testPolicy+"  - {projects: [\"acme-*\"], rights: [remove], users: [alice]}\n")
	if code, body, _ := f.send(t, "DELETE", "/api/projects/acme-lib/releases/1.0", alice, "", nil); code != 200 {
		t.Fatalf("remove after the policy granted it: %d %s", code, body)
	}
	writePolicy(t, path, "grants: [{projects: ['*'], rights: [everything], users: [alice]}]\n")
	if code, body, _ := f.post(t, "/", alice, twineForm(lib, true)); code != 200 {
		t.Fatalf("upload after a broken policy was written: %d %s", code, body)
	}
}

func ptr[T any](v T) *T { return &v }

func TestPolicyFlags(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--policy", "p.yaml", "--writers", "alice"}, "--policy and --writers"},
		{[]string{"--policy", "p.yaml", "-P", ".", "-a", "."}, "--policy and --passwords ."},
	} {
		_, err := ParseFlags(append([]string{"--root", root}, tc.args...), noEnv, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFlags(%q): %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestTokenAPI(t *testing.T) {
	f, _ := policyFixture(t, testPolicy)
	alice := basic("alice", "s3cret")
	code, body, _ := f.send(t, "POST", "/api/tokens", alice, "", strings.NewReader(`{"projects":["Acme.Lib"],"rights":["upload"],"expires":"1h"}`))
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	token := body[strings.Index(body, `"token":"`)+9:]
	token = token[:strings.IndexByte(token, '"')]
	bearer := basic(TokenUser, token)
	for _, c := range []struct {
		name, method, path, authz, body string
		code                            int
		contains                        string
	}{
		{"anonymous", "POST", "/api/tokens", "", `{"projects":["acme-lib"],"rights":["upload"]}`, 401, ""},
		{"a token makes no token", "POST", "/api/tokens", bearer, `{"projects":["acme-lib"],"rights":["upload"]}`, 403, "cannot manage tokens"},
		{"unknown right", "POST", "/api/tokens", alice, `{"projects":["acme-lib"],"rights":["publish"]}`, 400, "rights: want"},
		{"no project", "POST", "/api/tokens", alice, `{"rights":["upload"]}`, 400, "at least one project"},
		{"too long", "POST", "/api/tokens", alice, `{"projects":["acme-lib"],"rights":["upload"],"expires":"400d"}`, 400, "from 1m to 366d"},
		{"beyond the owner's rights", "POST", "/api/tokens", alice, `{"projects":["acme-lib"],"rights":["remove"]}`, 403, "may not remove acme-lib"},
		{"the token yanks nothing", "POST", "/api/projects/acme-lib/releases/1.0/yank", bearer, "", 403, "the token carries upload over acme-lib only"},
		{"a wrong token", "POST", "/api/projects/acme-lib/releases/1.0/yank", basic(TokenUser, token[:len(token)-2]+"xx"), "", 401, "invalid or revoked token"},
		{"another kind of token", "POST", "/api/projects/acme-lib/releases/1.0/yank", basic(TokenUser, "pypi-abc"), "", 401, "not a token this index knows"},
		{"reader sees no token of alice's", "GET", "/api/tokens", basic("reader", "look"), "", 200, "[]"},
		{"alice sees hers, without secret or hash", "GET", "/api/tokens", alice, "", 200, `"projects":["acme-lib"]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body, _ := f.send(t, c.method, c.path, c.authz, "", strings.NewReader(c.body))
			if code != c.code || !strings.Contains(body, c.contains) || strings.Contains(body, token) || strings.Contains(body, `"hash"`) {
				t.Errorf("%d %s, want %d with %q", code, body, c.code, c.contains)
			}
		})
	}
	if code, body, _ := f.post(t, "/", bearer, twineForm(pkgtest.Spec{Name: "acme-lib", Version: "1.0"}, true)); code != 200 {
		t.Fatalf("upload with the token: %d %s", code, body)
	}
	// Without a policy there are no tokens.
	plain := newWriteFixture(t)
	if code, body, _ := plain.send(t, "GET", "/api/tokens", alice, "", nil); code != 404 || !strings.Contains(body, "--policy") {
		t.Errorf("token API without a policy: %d %s", code, body)
	}
}

func TestTrustedPublishing(t *testing.T) {
	iss := trusttest.NewIssuer(t)
	pol := testPolicy + `
  - {projects: ["acme-*"], rights: [upload], publishers: [acme-release]}
publishers:
  - name: acme-release
    issuer: ` + iss.URL + `
    claims: {repository: acme/lib, ref: "refs/tags/*"}
`
	f, _ := policyFixture(t, pol)
	good := iss.Sign(t, iss.Claims("pkgindex"))
	mint := func(body string) (int, string) {
		code, b, _ := f.send(t, "POST", "/_/oidc/mint-token", "", "application/json", strings.NewReader(body))
		return code, b
	}
	if code, body, _ := f.send(t, "GET", "/_/oidc/audience", "", "", nil); code != 200 || !strings.Contains(body, `{"audience":"pkgindex"}`) {
		t.Errorf("audience: %d %s", code, body)
	}
	code, body := mint(`{"token":"` + good + `"}`)
	if code != 200 || !strings.Contains(body, `"success":true`) {
		t.Fatalf("mint: %d %s", code, body)
	}
	minted := body[strings.Index(body, `"token":"`)+9:]
	minted = minted[:strings.IndexByte(minted, '"')]
	for _, c := range []struct {
		name, password string
		spec           pkgtest.Spec
		code           int
		contains       string
	}{
		{"minted token uploads", minted, pkgtest.Spec{Name: "acme-lib", Version: "1.0"}, 200, ""},
		{"minted token outside the publisher's grant", minted, pkgtest.Spec{Name: "other", Version: "1.0"}, 403, "may not upload other"},
		{"OIDC token as the password", good, pkgtest.Spec{Name: "acme-tool", Version: "1.0"}, 200, ""},
		{"OIDC token of a branch", iss.Sign(t, trusttestWith(iss.Claims("pkgindex"), "ref", "refs/heads/main")), pkgtest.Spec{Name: "acme-tool", Version: "2.0"}, 401, "match no publisher"},
		{"oversize token", strings.Repeat("a", 20<<10) + ".b.c", pkgtest.Spec{Name: "acme-tool", Version: "2.0"}, 401, "larger than 16 KiB"},
		{"a JWT nobody is trusted for", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.", pkgtest.Spec{Name: "acme-tool", Version: "2.0"}, 401, "no grant of the policy accepts this token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body, _ := f.post(t, "/", basic(TokenUser, c.password), twineForm(c.spec, true))
			if code != c.code || !strings.Contains(body, c.contains) {
				t.Errorf("%d %s, want %d with %q", code, body, c.code, c.contains)
			}
		})
	}
	for _, c := range []struct {
		name, body string
		code       int
		contains   string
	}{
		{"expired", `{"token":"` + iss.Sign(t, trusttestWith(iss.Claims("pkgindex"), "exp", time.Now().Add(-time.Hour).Unix())) + `"}`, 401, `"code":"invalid-token"`},
		{"wrong audience", `{"token":"` + iss.Sign(t, iss.Claims("pypi")) + `"}`, 401, "audience"},
		{"no token", `{}`, 400, "invalid-payload"},
		{"not JSON", `token`, 400, "invalid-payload"},
	} {
		t.Run("mint "+c.name, func(t *testing.T) {
			if code, body := mint(c.body); code != c.code || !strings.Contains(body, c.contains) {
				t.Errorf("%d %s, want %d with %q", code, body, c.code, c.contains)
			}
		})
	}
	// Attestations must not name another identity than the publisher's.
	attest := func(iss, repo string) string {
		cert := base64.StdEncoding.EncodeToString(trusttest.Certificate(t, iss, repo))
		return `[{"version":1,"verification_material":{"certificate":"` + cert + `","transparency_entries":[{"logIndex":"1"}]},"envelope":{"statement":"c3RtdA==","signature":"c2ln"}}]`
	}
	for _, c := range []struct {
		name, password, atts string
		spec                 pkgtest.Spec
		code                 int
		contains             string
	}{
		{"the publisher's own attestation", good, attest(iss.URL, "https://github.com/acme/lib"), pkgtest.Spec{Name: "acme-att", Version: "1.0"}, 200, ""},
		{"another repository's", good, attest(iss.URL, "https://github.com/evil/lib"), pkgtest.Spec{Name: "acme-att", Version: "2.0"}, 400, "contradicts the uploader: the certificate was issued to repository https://github.com/evil/lib"},
		{"another issuer's, through a minted token", minted, attest("https://gitlab.com", ""), pkgtest.Spec{Name: "acme-att", Version: "3.0"}, 400, "issued for tokens of https://gitlab.com"},
		{"a user's upload is not compared", "", attest("https://gitlab.com", ""), pkgtest.Spec{Name: "acme-att", Version: "4.0"}, 200, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			authz := basic(TokenUser, c.password)
			if c.password == "" {
				authz = basic("alice", "s3cret")
			}
			code, body, _ := f.post(t, "/", authz, twineForm(c.spec, true).with("attestations", c.atts))
			if code != c.code || !strings.Contains(body, c.contains) {
				t.Errorf("%d %s, want %d with %q", code, body, c.code, c.contains)
			}
		})
	}
	_, prov, _ := f.send(t, "GET", "/packages/acme-att/"+pkgtest.Spec{Name: "acme-att", Version: "1.0"}.WheelName()+".provenance", "", "", nil)
	if !strings.Contains(prov, `"repository":"acme/lib"`) || !strings.Contains(prov, `"iss":"`+iss.URL+`"`) {
		t.Errorf("the provenance does not name the publisher: %s", prov)
	}

	// An issuer whose keys cannot be had: fail closed, with 503.
	down := trusttest.NewIssuer(t)
	down.Mode.Store("down")
	g, _ := policyFixture(t, strings.ReplaceAll(pol, iss.URL, down.URL))
	token := down.Sign(t, down.Claims("pkgindex"))
	if code, body, _ := g.send(t, "POST", "/_/oidc/mint-token", "", "application/json", strings.NewReader(`{"token":"`+token+`"}`)); code != 503 || !strings.Contains(body, "issuer-unavailable") {
		t.Errorf("mint with the issuer's keys down: %d %s", code, body)
	}
	if code, body, _ := g.post(t, "/", basic(TokenUser, token), twineForm(pkgtest.Spec{Name: "acme-lib", Version: "1.0"}, true)); code != 503 {
		t.Errorf("upload with the issuer's keys down: %d %s", code, body)
	}
}

func trusttestWith(claims map[string]any, k string, v any) map[string]any {
	claims[k] = v
	return claims
}

// A scoped token and an identity token are taken as bearer tokens too, as
// curl and CI scripts send them; the scheme's name in any case.
func TestBearerTokens(t *testing.T) {
	iss := trusttest.NewIssuer(t)
	f, _ := policyFixture(t, testPolicy+`
  - {projects: ["acme-*"], rights: [upload], publishers: [acme-release]}
publishers:
  - name: acme-release
    issuer: `+iss.URL+`
    claims: {repository: acme/lib}
`)
	code, body, _ := f.send(t, "POST", "/api/tokens", basic("alice", "s3cret"), "", strings.NewReader(`{"projects":["acme-lib"],"rights":["upload"],"expires":"1h"}`))
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	token := body[strings.Index(body, `"token":"`)+9:]
	token = token[:strings.IndexByte(token, '"')]
	oidc := iss.Sign(t, iss.Claims("pkgindex"))
	for _, c := range []struct {
		name, authz string
		spec        pkgtest.Spec
		code        int
		contains    string
	}{
		{"scoped token", "Bearer " + token, pkgtest.Spec{Name: "acme-lib", Version: "1.0"}, 200, ""},
		{"scheme in lower case", "bearer " + token, pkgtest.Spec{Name: "acme-lib", Version: "2.0"}, 200, ""},
		{"beyond the token's scope", "Bearer " + token, pkgtest.Spec{Name: "acme-tool", Version: "1.0"}, 403, "the token carries upload over acme-lib only"},
		{"wrong scoped token", "Bearer " + token[:len(token)-2] + "xx", pkgtest.Spec{Name: "acme-lib", Version: "3.0"}, 401, "invalid or revoked token"},
		{"identity token", "Bearer " + oidc, pkgtest.Spec{Name: "acme-tool", Version: "1.0"}, 200, ""},
		{"a password is no bearer token", "Bearer s3cret", pkgtest.Spec{Name: "acme-lib", Version: "4.0"}, 401, "not a token this index knows"},
		{"no token", "Bearer", pkgtest.Spec{Name: "acme-lib", Version: "4.0"}, 401, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body, _ := f.post(t, "/", c.authz, twineForm(c.spec, true))
			if code != c.code || !strings.Contains(body, c.contains) {
				t.Errorf("%d %s, want %d with %q", code, body, c.code, c.contains)
			}
		})
	}
	// An identity token lives for minutes: it cannot make a token that
	// outlives it.
	if code, body, _ := f.send(t, "POST", "/api/tokens", "Bearer "+oidc, "", strings.NewReader(`{"projects":["acme-lib"],"rights":["upload"],"expires":"90d"}`)); code != 403 || !strings.Contains(body, "mint-token") {
		t.Errorf("a publisher made a token: %d %s", code, body)
	}
	// Without a policy there are no tokens, and a bearer token proves nobody.
	plain := newWriteFixture(t)
	if code, body, _ := plain.post(t, "/", "Bearer "+token, twineForm(pkgtest.Spec{Name: "acme-lib", Version: "5.0"}, true)); code != 401 {
		t.Errorf("bearer token without a policy: %d %s", code, body)
	}
}

// A user's tokens stop working when the user leaves the password file,
// even while the policy still names the user.
func TestTokenOwnerLeaves(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writePolicy(t, path, testPolicy)
	var passwords string
	f := newWriteFixture(t, func(c *Config) { c.Writers, c.Policy, passwords = nil, path, c.Passwords })
	code, body, _ := f.send(t, "POST", "/api/tokens", basic("alice", "s3cret"), "", strings.NewReader(`{"projects":["acme-lib"],"rights":["upload"],"expires":"1h"}`))
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	token := body[strings.Index(body, `"token":"`)+9:]
	token = token[:strings.IndexByte(token, '"')]
	if code, body, _ := f.post(t, "/", basic("__token__", token), twineForm(pkgtest.Spec{Name: "acme-lib", Version: "1.0"}, true)); code != 200 {
		t.Fatalf("upload with the token: %d %s", code, body)
	}
	b, err := os.ReadFile(passwords)
	must(t, err)
	var kept []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(line, "alice:") {
			kept = append(kept, line)
		}
	}
	must(t, os.WriteFile(passwords, []byte(strings.Join(kept, "\n")+"\n"), 0o600))
	later := time.Now().Add(time.Minute)
	must(t, os.Chtimes(passwords, later, later))
	code, body, _ = f.post(t, "/", basic("__token__", token), twineForm(pkgtest.Spec{Name: "acme-lib", Version: "2.0"}, true))
	if code != 403 || !strings.Contains(body, "no longer in the password file") {
		t.Errorf("upload with the token of a user who left: %d %s", code, body)
	}
}
