package process

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pkgindex.dev/pkgindex/server/pkgtest"
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
