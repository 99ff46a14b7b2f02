package process

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/server/trust/trusttest"
	"pkgindex.dev/pkgindex/test/harness"
)

// TestScopedTokensAcrossReplicas makes a token through one of three server
// processes on one root, publishes with it through another with twine, and
// revokes it through the third: every replica honours the token at once,
// and refuses it at once after the revocation returned.
func TestScopedTokensAcrossReplicas(t *testing.T) {
	twine := harness.Tool(t, "twine")
	root := t.TempDir()
	pw := filepath.Join(t.TempDir(), "htpasswd")
	harness.Htpasswd(t, pw, [2]string{"alice", "s3cret"}, [2]string{"bob", "b0b"})
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	harness.Must(t, os.WriteFile(pol, []byte(`
grants:
  - {projects: ["*"], rights: [list, download], anyone: true}
  - {projects: ["token-*"], rights: ["*"], users: [alice]}
`), 0o644))
	var replicas [3]string
	for i := range replicas {
		replicas[i] = harness.StartServer(t, "--root", root, "--passwords", pw, "--policy", pol)
	}
	a, b, c := replicas[0], replicas[1], replicas[2]
	t.Setenv("PKGINDEX_PASSWORD", "s3cret")

	code, token, errOut := harness.Run(t, "token", "create", "--index", a, "--user", "alice", "--project", "token-demo", "--rights", "upload", "--expires", "1d")
	token = strings.TrimSpace(token)
	if code != 0 || !strings.HasPrefix(token, "pkgindex-") {
		t.Fatalf("token create: exit %d, %q %q", code, token, errOut)
	}
	if strings.Contains(errOut, token) {
		t.Error("the token is repeated on standard error")
	}
	// Beyond what the owner may: refused, and nothing made.
	if code, _, errOut := harness.Run(t, "token", "create", "--index", a, "--user", "alice", "--project", "other", "--rights", "upload"); code != 1 || !strings.Contains(errOut, "403") {
		t.Errorf("a token beyond alice's grants: exit %d, %q", code, errOut)
	}

	upload := func(base string, spec pkgtest.Spec) (string, error) {
		proj := dists(t, spec)
		cmd := exec.Command(twine[0], "upload", "--non-interactive", "--disable-progress-bar",
			"--repository-url", base+"/legacy/", "-u", "__token__", "-p", token, "dist/"+spec.WheelName())
		cmd.Dir = proj
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := upload(b, pkgtest.Spec{Name: "token-demo", Version: "1.0"}); err != nil {
		t.Fatalf("twine with the token through another replica: %v\n%s", err, out)
	}
	pipInstall(t, c, "token-demo==1.0", "token_demo", "1.0")
	if out, err := upload(b, pkgtest.Spec{Name: "token-other", Version: "1.0"}); err == nil || !strings.Contains(out, "403") {
		t.Errorf("twine with the token to a project outside its scope: %v\n%s", err, out)
	}

	t.Setenv("PKGINDEX_PASSWORD", "b0b")
	if code, out, _ := harness.Run(t, "token", "list", "--index", c, "--user", "bob"); code != 0 || strings.Contains(out, "token-demo") {
		t.Errorf("bob's list shows alice's token: exit %d\n%s", code, out)
	}
	if code, _, errOut := harness.Run(t, "token", "revoke", "--index", c, "--user", "bob", token); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("bob revoking alice's token: exit %d, %q", code, errOut)
	}
	t.Setenv("PKGINDEX_PASSWORD", "s3cret")
	id := token[len("pkgindex-"):][:16]
	if code, out, _ := harness.Run(t, "token", "list", "--index", c, "--user", "alice"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "token-demo") || strings.Contains(out, token) {
		t.Errorf("token list: exit %d\n%s", code, out)
	}
	if code, out, errOut := harness.Run(t, "token", "revoke", "--index", c, "--user", "alice", token); code != 0 || !strings.Contains(out, "revoked token "+id) {
		t.Fatalf("token revoke: exit %d, %q %q", code, out, errOut)
	}
	for _, base := range replicas {
		if out, err := upload(base, pkgtest.Spec{Name: "token-demo", Version: "2.0"}); err == nil || !strings.Contains(out, "401") {
			t.Errorf("the revoked token through %s: %v\n%s", base, err, out)
		}
	}
}

// TestTrustedPublishing exchanges a CI job's OIDC token (from an issuer
// made in the test, its keys served over HTTP) for an upload token at a
// server process, and publishes with it through twine, as a publishing
// action does; the OIDC token itself works as twine's password too.
func TestTrustedPublishing(t *testing.T) {
	twine := harness.Tool(t, "twine")
	iss := trusttest.NewIssuer(t)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	harness.Must(t, os.WriteFile(pol, []byte(`
grants:
  - {projects: ["*"], rights: [list, download], anyone: true}
  - {projects: [oidc-demo], rights: [upload], publishers: [demo-release]}
publishers:
  - name: demo-release
    issuer: `+iss.URL+`
    claims: {repository: acme/lib, workflow_ref: "acme/lib/.github/workflows/release.yml@*"}
`), 0o644))
	base := harness.StartServer(t, "--root", t.TempDir(), "--policy", pol)
	oidcToken := iss.Sign(t, iss.Claims("pkgindex"))
	resp, err := http.Post(base+"/_/oidc/mint-token", "application/json", strings.NewReader(`{"token":"`+oidcToken+`"}`))
	harness.Must(t, err)
	var minted struct {
		Success bool   `json:"success"`
		Token   string `json:"token"`
	}
	harness.Must(t, json.NewDecoder(resp.Body).Decode(&minted))
	resp.Body.Close()
	if resp.StatusCode != 200 || !minted.Success {
		t.Fatalf("mint-token: %s %+v", resp.Status, minted)
	}
	for _, c := range []struct {
		password string
		spec     pkgtest.Spec
	}{{minted.Token, pkgtest.Spec{Name: "oidc-demo", Version: "1.0"}}, {oidcToken, pkgtest.Spec{Name: "oidc-demo", Version: "2.0"}}} {
		proj := dists(t, c.spec)
		cmd := exec.Command(twine[0], "upload", "--non-interactive", "--disable-progress-bar",
			"--repository-url", base+"/legacy/", "-u", "__token__", "-p", c.password, "dist/"+c.spec.WheelName())
		cmd.Dir = proj
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("twine upload of %s %s: %v\n%s", c.spec.Name, c.spec.Version, err, out)
		}
	}
	pipInstall(t, base, "oidc-demo==2.0", "oidc_demo", "2.0")
}

// TestTokensNeverLogged uses every kind of token with a server logging at
// debug level, right and wrong, and finds none of them in its log.
func TestTokensNeverLogged(t *testing.T) {
	iss := trusttest.NewIssuer(t)
	pw := filepath.Join(t.TempDir(), "htpasswd")
	harness.Htpasswd(t, pw, [2]string{"alice", "Pa55-right"})
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	harness.Must(t, os.WriteFile(pol, []byte(`
grants:
  - {projects: ["*"], rights: [list, download], users: [alice]}
  - {projects: [quiet], rights: ["*"], users: [alice], publishers: [ci]}
  - {projects: [quiet], rights: [list], namespaces: [ci]}
publishers:
  - {name: ci, issuer: "`+iss.URL+`", claims: {repository: acme/lib}}
`), 0o644))
	logPath := filepath.Join(t.TempDir(), "log")
	logf, err := os.Create(logPath)
	harness.Must(t, err)
	cmd := harness.Command(t, "serve", "--listen", "127.0.0.1:0", "--root", t.TempDir(), "--passwords", pw,
		"--policy", pol, "--log-level", "debug")
	cmd.Stderr = logf
	scmd, base := harness.StartCommand(t, cmd)

	call := func(method, path, authz, body string) string {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		harness.Must(t, err)
		defer resp.Body.Close()
		var b strings.Builder
		io.Copy(&b, resp.Body)
		return b.String()
	}
	alice := "Basic " + harness.BasicCred("alice", "Pa55-right")
	var made struct {
		Token string `json:"token"`
	}
	harness.Must(t, json.Unmarshal([]byte(call("POST", "/api/tokens", alice, `{"projects":["quiet"],"rights":["upload","list"]}`)), &made))
	oidc := iss.Sign(t, iss.Claims("pkgindex"))
	var minted struct {
		Token string `json:"token"`
	}
	harness.Must(t, json.Unmarshal([]byte(call("POST", "/_/oidc/mint-token", "", `{"token":"`+oidc+`"}`)), &minted))
	if made.Token == "" || minted.Token == "" {
		t.Fatalf("no tokens made: %+v %+v", made, minted)
	}
	wrong := made.Token[:len(made.Token)-4] + "Zzzz"
	expired := iss.Sign(t, map[string]any{"iss": iss.URL, "aud": "pkgindex", "repository": "acme/lib", "exp": 1})
	foreign := iss.Sign(t, map[string]any{"iss": "https://kubernetes.default.svc", "aud": "pkgindex", "sub": "system:serviceaccount:ci:x", "exp": 4102444800})
	secrets := []string{"Pa55-right", made.Token, made.Token[len(made.Token)-43:], minted.Token, oidc, wrong, expired, foreign}
	spec := pkgtest.Spec{Name: "quiet", Version: "1.0"}
	for _, tok := range []string{made.Token, minted.Token, oidc, wrong, expired, foreign} {
		authz := "Basic " + harness.BasicCred("__token__", tok)
		secrets = append(secrets, harness.BasicCred("__token__", tok), strings.Split(tok, ".")[0])
		harness.Upload(t, base, authz, spec.Name, spec.Version, spec.WheelName(), spec.WheelBytes())
		call("GET", "/simple/quiet/", authz, "")
		call("POST", "/_/oidc/mint-token", "", `{"token":"`+tok+`"}`)
	}
	call("DELETE", "/api/tokens/"+made.Token, alice, "")
	checkLog(t, scmd, logf, []string{"token created", "token minted", "access refused"}, secrets)
}

// TestRevokedDuringUpload revokes a token while an upload made with it is
// half sent: once the revocation has returned, the upload publishes
// nothing.
func TestRevokedDuringUpload(t *testing.T) {
	root := t.TempDir()
	pw := filepath.Join(t.TempDir(), "htpasswd")
	harness.Htpasswd(t, pw, [2]string{"alice", "s3cret"})
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	harness.Must(t, os.WriteFile(pol, []byte("grants: [{projects: [race], rights: ['*'], users: [alice]}]\n"), 0o644))
	a := harness.StartServer(t, "--root", root, "--passwords", pw, "--policy", pol)
	b := harness.StartServer(t, "--root", root, "--passwords", pw, "--policy", pol)
	req, _ := http.NewRequest("POST", b+"/api/tokens", strings.NewReader(`{"projects":["race"],"rights":["upload"]}`))
	req.SetBasicAuth("alice", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	harness.Must(t, err)
	var made struct{ Token, ID string }
	harness.Must(t, json.NewDecoder(resp.Body).Decode(&made))
	resp.Body.Close()

	spec := pkgtest.Spec{Name: "race", Version: "1.0", Data: make([]byte, 4<<20)}
	release := make(chan struct{})
	sent, done := slowUpload(t, a, "Basic "+harness.BasicCred("__token__", made.Token), spec, spec.WheelBytes(), release)
	<-sent
	req, _ = http.NewRequest("DELETE", b+"/api/tokens/"+made.ID, nil)
	req.SetBasicAuth("alice", "s3cret")
	resp, err = http.DefaultClient.Do(req)
	harness.Must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %s", resp.Status)
	}
	close(release)
	if answer := <-done; !strings.Contains(answer, " 401 ") || !strings.Contains(answer, "invalid or revoked token") {
		t.Errorf("the upload after the revocation: %.300s", answer)
	}
	if visible, _ := harness.VisibleFiles(t, root); len(visible) != 0 {
		t.Errorf("published after the revocation: %v", visible)
	}
}
