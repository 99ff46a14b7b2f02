package process

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"pkgindex.dev/pkgindex/server"
	"pkgindex.dev/pkgindex/server/pkgtest"
	"pkgindex.dev/pkgindex/server/review"
	"pkgindex.dev/pkgindex/server/store"
	"pkgindex.dev/pkgindex/test/envtest"
	"pkgindex.dev/pkgindex/test/harness"
)

// TestServiceAccountTokens publishes with bound service-account tokens that
// a real API server issued through the TokenRequest API and reviews: a
// granted namespace's account may upload, another namespace's may not,
// and a token for another audience proves nothing.
func TestServiceAccountTokens(t *testing.T) {
	e, err := envtest.Start()
	envtest.Need(t, err)
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Error(err)
		}
	})
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(e.Config)
	harness.Must(t, err)
	token := func(ns, name, audience string) string {
		t.Helper()
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			harness.Must(t, err)
		}
		if _, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			_, err = cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			harness.Must(t, err)
		}
		life := int64(600)
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authv1.TokenRequest{
			Spec: authv1.TokenRequestSpec{Audiences: []string{audience}, ExpirationSeconds: &life},
		}, metav1.CreateOptions{})
		harness.Must(t, err)
		return tr.Status.Token
	}

	hc, err := rest.HTTPClientFor(e.Config)
	harness.Must(t, err)
	root := t.TempDir()
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	harness.Must(t, os.WriteFile(pol, []byte(`
grants:
  - {projects: ["*"], rights: [list, download], anyone: true}
  - {projects: ["sa-*"], rights: [upload], namespaces: [ci]}
  - {projects: [sa-lib], rights: [yank], serviceAccounts: [ci/builder]}
`), 0o644))
	cfg, err := server.ParseFlags([]string{"--root", root, "--policy", pol}, func(string) string { return "" }, io.Discard)
	harness.Must(t, err)
	cfg.Reviewer = &review.Reviewer{URL: e.Config.Host, Client: hc}
	st, err := store.New(cfg.StoreOptions(logr.Discard()))
	harness.Must(t, err)
	t.Cleanup(func() { st.Close() })
	srv, err := server.New(cfg, st, logr.Discard(), "test")
	harness.Must(t, err)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	upload := func(password string, spec pkgtest.Spec) (int, string) {
		t.Helper()
		return harness.Upload(t, ts.URL, "Basic "+harness.BasicCred(server.TokenUser, password), spec.Name, spec.Version, spec.WheelName(), spec.WheelBytes())
	}
	builder := token("ci", "builder", "pkgindex")
	for _, c := range []struct {
		name, password string
		spec           pkgtest.Spec
		code           int
		reason         string
	}{
		{"the granted namespace's account uploads", builder, pkgtest.Spec{Name: "sa-lib", Version: "1.0"}, 200, ""},
		{"outside its projects", builder, pkgtest.Spec{Name: "other", Version: "1.0"}, 403, "serviceaccount system:serviceaccount:ci:builder may not upload other"},
		{"another account of the namespace", token("ci", "tester", "pkgindex"), pkgtest.Spec{Name: "sa-tool", Version: "1.0"}, 200, ""},
		{"another namespace", token("web", "app", "pkgindex"), pkgtest.Spec{Name: "sa-lib", Version: "2.0"}, 403, "may not upload sa-lib"},
		{"another audience", token("ci", "builder", "other"), pkgtest.Spec{Name: "sa-lib", Version: "2.0"}, 401, "not accepted"},
		{"a forged token", forged(builder), pkgtest.Spec{Name: "sa-lib", Version: "2.0"}, 401, "not accepted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := upload(c.password, c.spec)
			if code != c.code || !strings.Contains(body, c.reason) {
				t.Errorf("%d %s, want %d with %q", code, body, c.code, c.reason)
			}
		})
	}
	// The account's own grant adds yank over sa-lib to its namespace's
	// upload.
	req, _ := http.NewRequest("POST", ts.URL+"/api/projects/sa-lib/releases/1.0/yank", bytes.NewReader([]byte(`{"reason":"x"}`)))
	req.SetBasicAuth(server.TokenUser, builder)
	resp, err := http.DefaultClient.Do(req)
	harness.Must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("yank by the service account: %s", resp.Status)
	}
}

// forged returns token with its claims rewritten (the subject moved to
// another namespace) and the signature kept: the API server must refuse it.
func forged(token string) string {
	parts := strings.Split(token, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString(bytes.ReplaceAll(claims, []byte(`"ci"`), []byte(`"kube-system"`)))
	return strings.Join(parts, ".")
}
