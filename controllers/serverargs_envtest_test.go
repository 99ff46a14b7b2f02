package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// An extra argument the server would refuse makes the index Degraded,
// naming the argument, and leaves the running Deployment as it was rather
// than rolling out pods that crash.
func TestBadExtraArgsAreDegraded(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	deploy := createWithDeployment(t, idx)
	before := deploy.Spec.Template.Spec.Containers[0].Args

	update(t, idx, func(i *v1alpha1.PackageIndex) {
		i.Spec.Server.ExtraArgs = []string{"--trust-proxy", "--storage-timeout=soon"}
	})
	got := condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonServerArgsInvalid)
	if msg := findCondition(got, v1alpha1.ConditionDegraded).Message; !strings.Contains(msg, `server.extraArgs[1] "--storage-timeout=soon"`) {
		t.Errorf("message %q does not name the argument", msg)
	}
	if err := get(deploy); err != nil {
		t.Fatal(err)
	}
	if args := deploy.Spec.Template.Spec.Containers[0].Args; !slices.Equal(args, before) {
		t.Errorf("the Deployment changed to args %q; want %q kept", args, before)
	}

	update(t, idx, func(i *v1alpha1.PackageIndex) {
		i.Spec.Server.ExtraArgs = []string{"--trust-proxy", "--storage-timeout=30s"}
		i.Spec.Server.Env = []corev1.EnvVar{{Name: "PKGINDEX_LOG_LEVEL", Value: "debug"}}
	})
	condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
	eventually(t, "arguments rolled out", func() error {
		d := named(&appsv1.Deployment{}, ns, "pypi")
		if err := get(d); err != nil {
			return err
		}
		c := d.Spec.Template.Spec.Containers[0]
		if !slices.Contains(c.Args, "--storage-timeout=30s") || len(c.Env) != 1 {
			return fmt.Errorf("args %q env %v", c.Args, c.Env)
		}
		return nil
	})
}

// A welcome page from a ConfigMap that is not there is Degraded, naming
// it; once it exists the index is not.
func TestMissingWelcomeIsDegraded(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	idx.Spec.Server.Welcome = &v1alpha1.ConfigMapKeyRef{Name: "pages", Key: "welcome.html"}
	create(t, idx)
	got := condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonWelcomeMissing)
	if msg := findCondition(got, v1alpha1.ConditionDegraded).Message; !strings.Contains(msg, "ConfigMap pages") {
		t.Errorf("message %q does not name the ConfigMap", msg)
	}
	create(t, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "pages", Namespace: ns},
		Data:       map[string]string{"welcome.html": "<h1>{{URL}}</h1>"},
	})
	condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
}

// An upstream whose credentials Secret or CA bundle is missing, or lacks a
// key, is Degraded, naming what to create; once both are there it is not.
func TestMissingUpstreamInputIsDegraded(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	idx.Spec.Upstream = &v1alpha1.UpstreamSpec{
		URLs:              []string{"https://pypi.example/simple/"},
		CredentialsSecret: &v1alpha1.UpstreamCredentials{Name: "mirror", PasswordKey: "token"},
		CABundle:          &v1alpha1.ConfigMapKeyRef{Name: "corp-ca", Key: "ca.pem"},
	}
	create(t, idx)
	degraded := func(want string) {
		t.Helper()
		eventually(t, "a message saying "+want, func() error {
			got := condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonUpstreamInputMissing)
			if msg := findCondition(got, v1alpha1.ConditionDegraded).Message; !strings.Contains(msg, want) {
				return fmt.Errorf("message %q does not say %q", msg, want)
			}
			return nil
		})
	}
	degraded(`Secret mirror (upstream.credentialsSecret) not found: create it with keys "username" and "token"`)
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "mirror", Namespace: ns},
		Data:       map[string][]byte{"username": []byte("reader"), "password": []byte("x")},
	})
	degraded(`Secret mirror (upstream.credentialsSecret) has no key "token"`)
	update(t, named(&corev1.Secret{}, ns, "mirror"), func(s *corev1.Secret) { s.Data["token"] = []byte("x") })
	degraded(`ConfigMap corp-ca (upstream.caBundle) not found`)
	create(t, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "corp-ca", Namespace: ns},
		Data:       map[string]string{"ca.pem": "-----BEGIN CERTIFICATE-----\n"},
	})
	condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
}
