package process

import (
	"encoding/json"
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
