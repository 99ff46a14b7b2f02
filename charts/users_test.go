package charts

import (
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"sigs.k8s.io/yaml"

	"pkgindex.dev/pkgindex/server/auth"
)

// Users given in the values become an htpasswd Secret whose entries the
// server's own reader accepts for exactly those passwords, and the
// PackageIndex names it without holding a password.
func TestHelmIndexUsers(t *testing.T) {
	users := map[string]string{"ci": "s3cret: with a colon", "alice": "wonderland"}
	out, err := template(t, "-f", filepath.Join("testdata", "users.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Spec struct {
			Server struct {
				Auth struct {
					SecretName string   `json:"secretName"`
					Key        string   `json:"key"`
					Actions    []string `json:"actions"`
				}
			}
		}
	}
	secret := secretAndIndex(t, out, "htpasswd:", &index, slices.Collect(maps.Values(users))...)
	a := index.Spec.Server.Auth
	if a.SecretName != "pypi-htpasswd" || a.SecretName != secret.Metadata.Name || a.Key != "htpasswd" || strings.Join(a.Actions, ",") != "update,list" {
		t.Fatalf("spec.server.auth %+v; Secret %q", a, secret.Metadata.Name)
	}
	file := secret.StringData[a.Key]
	for _, pw := range users {
		if strings.Contains(file, pw) {
			t.Errorf("the Secret holds a password in clear:\n%s", file)
		}
	}

	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	checker, err := auth.New(auth.Options{Passwords: path, Actions: auth.DefaultActions, Log: logr.Discard()})
	if err != nil {
		t.Fatalf("the server refuses the chart's htpasswd file: %v\n%s", err, file)
	}
	for user, pw := range users {
		for _, tc := range []struct {
			password string
			ok       bool
		}{{pw, true}, {pw + "x", false}} {
			r, _ := http.NewRequest(http.MethodPost, "http://index/", nil)
			r.SetBasicAuth(user, tc.password)
			got, err := checker.Check(r, auth.Update)
			if tc.ok && (err != nil || got != user) {
				t.Errorf("%s with the right password: %q, %v", user, got, err)
			}
			if !tc.ok && err == nil {
				t.Errorf("%s with a wrong password was let in", user)
			}
		}
	}
}

// Naming an existing Secret writes none, and both at once is refused.
func TestHelmIndexExistingSecret(t *testing.T) {
	base := []string{"--set", "indexes[0].name=pypi", "--set", "indexes[0].spec.storage.existingClaim=data"}
	out, err := template(t, append(base, "--set", "indexes[0].auth.existingSecret=users")...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "htpasswd: |") || !strings.Contains(string(out), "secretName: users") {
		t.Errorf("rendered:\n%s", out)
	}
	_, err = template(t, append(base, "--set", "indexes[0].auth.existingSecret=users",
		"--set", "indexes[0].auth.users[0].name=ci", "--set", "indexes[0].auth.users[0].password=x")...)
	if err == nil || !strings.Contains(err.Error(), "exclude each other") {
		t.Errorf("users and existingSecret together: %v", err)
	}
}

// Upstream credentials given in the values become a Secret with the keys
// the operator reads by default, and the PackageIndex names that Secret
// without holding the password; an existing Secret is named instead, and
// credentials without an upstream are refused.
func TestHelmIndexUpstreamCredentials(t *testing.T) {
	const password = "upstream: s3cret"
	out, err := template(t, "-f", filepath.Join("testdata", "upstream.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Spec struct {
			Upstream struct {
				URLs              []string `json:"urls"`
				CredentialsSecret map[string]string
			}
		}
	}
	secret := secretAndIndex(t, out, "name: pypi-upstream\n", &index, password, "mirror-reader")
	if got := secret.StringData; got["username"] != "mirror-reader" || got["password"] != password || len(got) != 2 {
		t.Errorf("Secret %q holds %q, want username and password", secret.Metadata.Name, got)
	}
	u := index.Spec.Upstream
	if len(u.URLs) != 1 || len(u.CredentialsSecret) != 1 || u.CredentialsSecret["name"] != secret.Metadata.Name {
		t.Errorf("spec.upstream %+v, want it to name the Secret %q only", u, secret.Metadata.Name)
	}

	base := []string{"--set", "indexes[0].name=pypi", "--set", "indexes[0].spec.storage.existingClaim=data"}
	withUpstream := append(slices.Clip(base), "--set", "indexes[0].spec.upstream.urls[0]=https://pypi.org/simple/")
	out, err = template(t, append(withUpstream, "--set", "indexes[0].upstreamCredentials.existingSecret=mirror")...)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "name: pypi-upstream") || !strings.Contains(string(out), "credentialsSecret:\n      name: mirror\n") {
		t.Errorf("with existingSecret, rendered:\n%s", out)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no upstream", append(slices.Clip(base), "--set", "indexes[0].upstreamCredentials.existingSecret=mirror"), "set spec.upstream.urls too"},
		{"both", append(slices.Clip(withUpstream), "--set", "indexes[0].upstreamCredentials.existingSecret=mirror",
			"--set", "indexes[0].upstreamCredentials.username=a", "--set", "indexes[0].upstreamCredentials.password=b"), "exclude existingSecret"},
		{"no password", append(slices.Clip(withUpstream), "--set", "indexes[0].upstreamCredentials.username=a"), "needs username and password"},
	} {
		if _, err := template(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// renderedSecret is a Secret of the chart's.
type renderedSecret struct {
	Metadata   struct{ Name string }
	StringData map[string]string `json:"stringData"`
}

// secretAndIndex reads, from the chart's output, the Secret whose document
// holds marker and the PackageIndex into index, and fails if the
// PackageIndex holds any of the secrets.
func secretAndIndex(t *testing.T, out []byte, marker string, index any, secrets ...string) renderedSecret {
	t.Helper()
	var secret renderedSecret
	for doc := range strings.SplitSeq(string(out), "\n---\n") {
		switch {
		case strings.Contains(doc, "\nkind: Secret\n") && strings.Contains(doc, marker):
			if err := yaml.Unmarshal([]byte(doc), &secret); err != nil {
				t.Fatal(err)
			}
		case strings.Contains(doc, "\nkind: PackageIndex\n"):
			for _, s := range secrets {
				if strings.Contains(doc, s) {
					t.Errorf("the rendered PackageIndex holds a secret:\n%s", doc)
				}
			}
			if err := yaml.Unmarshal([]byte(doc), index); err != nil {
				t.Fatal(err)
			}
		}
	}
	return secret
}
