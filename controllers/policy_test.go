package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pkgindex.dev/pkgindex/api/v1alpha1"
	"pkgindex.dev/pkgindex/server/policy"
)

// TestPolicyConfigMap reads the policy file the operator writes with the
// server's own parser: the spec's fields must be the file's.
func TestPolicyConfigMap(t *testing.T) {
	idx := goldenCases()["existing-claim-everything"]
	cm := policyConfigMapFor(idx)
	if cm == nil || cm.Name != "pypi-policy" {
		t.Fatalf("ConfigMap %v", cm)
	}
	p, err := policy.Parse([]byte(cm.Data[policyKey]))
	if err != nil {
		t.Fatalf("the server refuses the policy the operator wrote: %v\n%s", err, cm.Data[policyKey])
	}
	builder := policy.Identity{Kind: policy.ServiceAccount, Name: "system:serviceaccount:ci:builder", Groups: []string{"ci"}}
	for _, tc := range []struct {
		id      policy.Identity
		right   policy.Right
		project string
		want    bool
	}{
		{policy.Identity{Kind: policy.Anonymous}, policy.Download, "acme-lib", true},
		{policy.Identity{Kind: policy.User, Name: "alice"}, policy.Yank, "acme-tools", true},
		{builder, policy.Upload, "acme-lib", true},
		{policy.Identity{Kind: policy.Publisher, Name: "acme-release", Groups: []string{"acme-release"}}, policy.Upload, "acme-lib", true},
		{policy.Identity{Kind: policy.Publisher, Name: "acme-release", Groups: []string{"acme-release"}}, policy.Upload, "acme-tools", false},
	} {
		if d := p.Decide(tc.id, tc.right, tc.project); d.Allowed != tc.want {
			t.Errorf("%s %s %s: %v (%s), want %v", tc.id, tc.right, tc.project, d.Allowed, d.Reason, tc.want)
		}
	}
	if p.Audience() != "pypi.example.com" || len(p.Publishers()) != 2 {
		t.Errorf("audience %q, publishers %v", p.Audience(), p.Publishers())
	}
	// Keys in a ConfigMap are read where the pods mount it.
	if got, want := p.Publishers()[1].JWKSFile, jwksDir+"/gitlab-keys/jwks.json"; got != want {
		t.Errorf("jwksFile %q, want %q", got, want)
	}
	d := deploymentFor(idx, Options{Image: testImage})
	mounted := false
	for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounted = mounted || m.MountPath == jwksDir+"/gitlab-keys"
	}
	if !mounted {
		t.Error("the ConfigMap of the issuer's keys is not mounted")
	}
	if !reviewsTokens(idx) || serviceAccountFor(idx) == nil || tokenReviewBindingFor(idx) == nil {
		t.Error("a policy granting to a namespace gets no token review")
	}
	noSA := &v1alpha1.PackageIndex{}
	noSA.Spec.Server.Policy = &v1alpha1.PolicySpec{Grants: []v1alpha1.PolicyGrant{{Projects: []string{"*"}, Rights: []v1alpha1.PolicyRight{"list"}, Anyone: true}}}
	if reviewsTokens(noSA) || serviceAccountFor(noSA) != nil || tokenReviewBindingFor(noSA) != nil {
		t.Error("a policy without service accounts still gets API access")
	}
}

// TestPolicyGivesTokenReview runs the operator on an index whose policy
// grants to a namespace: the policy file, the pods' own service account and
// its binding to the TokenReview role appear, go when the policy stops
// naming service accounts, and the binding, which no owner reference can
// collect, goes with the index.
func TestPolicyGivesTokenReview(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	idx.Spec.Storage.EFS = nil
	idx.Spec.Storage.ExistingClaim = new("shared")
	idx.Spec.Server.Policy = &v1alpha1.PolicySpec{Grants: []v1alpha1.PolicyGrant{
		{Projects: []string{"*"}, Rights: []v1alpha1.PolicyRight{"list", "download"}, Anyone: true},
		{Projects: []string{"acme-*"}, Rights: []v1alpha1.PolicyRight{"upload"}, Namespaces: []string{"ci"}},
	}}
	deploy := createWithDeployment(t, idx)
	pod := deploy.Spec.Template.Spec
	if pod.ServiceAccountName != "pypi" || pod.AutomountServiceAccountToken == nil || !*pod.AutomountServiceAccountToken ||
		!slices.Contains(pod.Containers[0].Args, "--policy=/etc/pkgindex/policy/policy.yaml") {
		t.Errorf("pods: service account %q, automount %v, args %q", pod.ServiceAccountName, pod.AutomountServiceAccountToken, pod.Containers[0].Args)
	}
	cm := named(&corev1.ConfigMap{}, ns, "pypi-policy")
	eventually(t, "policy ConfigMap", func() error { return get(cm) })
	if _, err := policy.Parse([]byte(cm.Data[policyKey])); err != nil {
		t.Errorf("the policy file does not parse: %v", err)
	}
	eventually(t, "ServiceAccount", func() error { return get(named(&corev1.ServiceAccount{}, ns, "pypi")) })
	binding := named(&rbacv1.ClusterRoleBinding{}, "", "pkgindex-tokenreview-"+ns+"-pypi")
	eventually(t, "ClusterRoleBinding", func() error { return get(binding) })
	if binding.RoleRef.Name != "system:auth-delegator" || len(binding.Subjects) != 1 || binding.Subjects[0].Namespace != ns || binding.Subjects[0].Name != "pypi" {
		t.Errorf("binding %+v %+v", binding.RoleRef, binding.Subjects)
	}
	if !slices.Contains(getIndex(t, idx).Finalizers, Finalizer) {
		t.Error("no finalizer holds the index until its binding is deleted")
	}

	update(t, idx, func(i *v1alpha1.PackageIndex) { i.Spec.Server.Policy.Grants = i.Spec.Server.Policy.Grants[:1] })
	waitGone(t, binding)
	waitGone(t, named(&corev1.ServiceAccount{}, ns, "pypi"))
	eventually(t, "pods without API access", func() error {
		if err := get(deploy); err != nil {
			return err
		}
		if p := deploy.Spec.Template.Spec; p.ServiceAccountName != "" || *p.AutomountServiceAccountToken {
			return fmt.Errorf("service account %q, automount %v", p.ServiceAccountName, *p.AutomountServiceAccountToken)
		}
		return nil
	})

	update(t, idx, func(i *v1alpha1.PackageIndex) { i.Spec.Server.Policy.Grants[0].Namespaces = []string{"ci"} })
	eventually(t, "ClusterRoleBinding again", func() error { return get(binding) })
	if err := k8s.Delete(context.Background(), idx); err != nil {
		t.Fatal(err)
	}
	waitGone(t, binding)
	waitGone(t, named(&v1alpha1.PackageIndex{}, ns, "pypi"))
}

func TestShortServiceAccounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"none", nil, nil},
		{"short kept", []string{"ci/builder"}, []string{"ci/builder"}},
		{"long shortened", []string{"system:serviceaccount:ci:builder"}, []string{"ci/builder"}},
		{"one account named both ways", []string{"ci/builder", "system:serviceaccount:ci:builder", "ci/tester"}, []string{"ci/builder", "ci/tester"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			if got := shortServiceAccounts(in); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if !slices.Equal(in, tc.in) {
				t.Errorf("the spec's list changed to %q", in)
			}
		})
	}
}

// A grant may name a service account as the API server does; the schema
// takes it, and the policy file the server reads names it the short way,
// so the server grants it as it grants <namespace>/<name>.
func TestServiceAccountNamedAsTheAPIServerDoes(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	idx.Spec.Server.Policy = &v1alpha1.PolicySpec{Grants: []v1alpha1.PolicyGrant{
		{Projects: []string{"acme-lib"}, Rights: []v1alpha1.PolicyRight{"upload"},
			ServiceAccounts: []string{"system:serviceaccount:ci:builder", "ci/builder", "release/publisher"}},
	}}
	create(t, idx)
	cm := named(&corev1.ConfigMap{}, ns, "pypi-policy")
	eventually(t, "policy ConfigMap", func() error { return get(cm) })
	file := cm.Data[policyKey]
	if strings.Contains(file, "system:serviceaccount") || strings.Count(file, "ci/builder") != 1 {
		t.Errorf("the policy file names the accounts other than once each as <namespace>/<name>:\n%s", file)
	}
	p, err := policy.Parse([]byte(file))
	if err != nil {
		t.Fatalf("the policy file does not parse: %v\n%s", err, file)
	}
	builder := policy.Identity{Kind: policy.ServiceAccount, Name: "system:serviceaccount:ci:builder", Groups: []string{"ci"}}
	if d := p.Decide(builder, policy.Upload, "acme-lib"); !d.Allowed {
		t.Errorf("ci/builder may not upload acme-lib: %s", d.Reason)
	}
}

// A publisher's keys from a ConfigMap that is not there make the index
// Degraded, naming the ConfigMap and the publisher; once it exists with
// its key the index is not.
func TestMissingJWKSConfigMapIsDegraded(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	idx.Spec.Server.Policy = &v1alpha1.PolicySpec{
		Grants: []v1alpha1.PolicyGrant{{Projects: []string{"tools-*"}, Rights: []v1alpha1.PolicyRight{"upload"}, Publishers: []string{"gitlab"}}},
		Publishers: []v1alpha1.PolicyPublisher{{
			Name: "gitlab", Issuer: "https://gitlab.example.com", JWKSConfigMap: &v1alpha1.ConfigMapKey{Name: "gitlab-keys"},
			Claims: map[string]string{"project_path": "platform/tools"},
		}},
	}
	create(t, idx)
	got := condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonJWKSMissing)
	if msg := findCondition(got, v1alpha1.ConditionDegraded).Message; !strings.Contains(msg, "ConfigMap gitlab-keys") || !strings.Contains(msg, "publisher gitlab") {
		t.Errorf("message %q does not name the ConfigMap and its publisher", msg)
	}
	keys := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "gitlab-keys", Namespace: ns},
		Data:       map[string]string{"other.json": "{}"},
	}
	create(t, keys)
	eventually(t, "Degraded naming the missing key", func() error {
		c := findCondition(getIndex(t, idx), v1alpha1.ConditionDegraded)
		if c.Reason != v1alpha1.ReasonJWKSMissing || !strings.Contains(c.Message, `has no key "jwks.json"`) {
			return fmt.Errorf("%s: %s", c.Reason, c.Message)
		}
		return nil
	})
	keys.Data = map[string]string{"jwks.json": `{"keys": []}`}
	if err := k8s.Update(context.Background(), keys); err != nil {
		t.Fatal(err)
	}
	condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
}
