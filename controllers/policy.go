package controllers

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// The policy file in the server pod: a ConfigMap volume mounted as a
// directory, so the kubelet's updates reach it and the server reloads it.
const (
	policyDir = "/etc/pkgindex/policy"
	policyKey = "policy.yaml"
	// tokenReviewRole is the built-in ClusterRole that lets a service
	// account create TokenReviews (and SubjectAccessReviews).
	tokenReviewRole = "system:auth-delegator"
)

// policyConfigMapFor renders spec.server.policy into the server's policy
// file, or returns nil when there is none.
func policyConfigMapFor(idx *v1alpha1.PackageIndex) *corev1.ConfigMap {
	p := idx.Spec.Server.Policy
	if p == nil {
		return nil
	}
	data, err := yaml.Marshal(policyFileOf(p))
	if err != nil {
		// A struct of strings, lists and maps always marshals.
		panic(err)
	}
	meta := objectMeta(idx)
	meta.Name = policyConfigMapName(idx)
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta,
		Data:       map[string]string{policyKey: "# written by the pkgindex operator from spec.server.policy\n" + string(data)},
	}
}

// policyFile is the server's policy file. The spec's fields are spelt as
// the file's; only a publisher's keys in a ConfigMap become the path the
// ConfigMap is mounted at.
type policyFile struct {
	Audience   string                 `json:"audience,omitempty"`
	Grants     []v1alpha1.PolicyGrant `json:"grants,omitempty"`
	Publishers []publisherFile        `json:"publishers,omitempty"`
}

type publisherFile struct {
	Name     string            `json:"name"`
	Issuer   string            `json:"issuer"`
	JWKSURL  string            `json:"jwksURL,omitempty"`
	JWKSFile string            `json:"jwksFile,omitempty"`
	Claims   map[string]string `json:"claims"`
}

func policyFileOf(p *v1alpha1.PolicySpec) policyFile {
	f := policyFile{Audience: p.Audience}
	for _, g := range p.Grants {
		g.ServiceAccounts = shortServiceAccounts(g.ServiceAccounts)
		f.Grants = append(f.Grants, g)
	}
	for _, pub := range p.Publishers {
		pf := publisherFile{Name: pub.Name, Issuer: pub.Issuer, JWKSURL: pub.JWKSURL, Claims: pub.Claims}
		if c := pub.JWKSConfigMap; c != nil {
			pf.JWKSFile = jwksDir + "/" + c.Name + "/" + jwksKey(c)
		}
		f.Publishers = append(f.Publishers, pf)
	}
	return f
}

// shortServiceAccounts writes each of names as <namespace>/<name>, once, in
// the order given: the spec takes the API server's
// system:serviceaccount:<namespace>:<name> too, and one account named both
// ways is one grant. It returns a new slice, leaving the spec's alone.
func shortServiceAccounts(names []string) []string {
	var out []string
	for _, n := range names {
		if rest, ok := strings.CutPrefix(n, "system:serviceaccount:"); ok {
			n = strings.Replace(rest, ":", "/", 1)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// jwksDir holds a directory per ConfigMap of issuers' keys.
const jwksDir = "/etc/pkgindex/jwks"

func jwksKey(c *v1alpha1.ConfigMapKey) string {
	if c.Key == "" {
		return "jwks.json"
	}
	return c.Key
}

// jwksConfigMaps are the ConfigMaps of issuers' keys the pods mount, each
// once, in the order the publishers name them.
func jwksConfigMaps(idx *v1alpha1.PackageIndex) []string {
	p := idx.Spec.Server.Policy
	if p == nil {
		return nil
	}
	var names []string
	for _, pub := range p.Publishers {
		if c := pub.JWKSConfigMap; c != nil && !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
	}
	return names
}

// policyConfigMapName is the ConfigMap of the policy file: not the index's
// own name, which a ConfigMap of the user's may well have.
func policyConfigMapName(idx *v1alpha1.PackageIndex) string { return idx.Name + "-policy" }

// reviewsTokens reports whether the policy grants to service accounts, so
// the pods must ask the API server to review their tokens.
func reviewsTokens(idx *v1alpha1.PackageIndex) bool {
	p := idx.Spec.Server.Policy
	if p == nil {
		return false
	}
	for _, g := range p.Grants {
		if len(g.ServiceAccounts)+len(g.Namespaces) > 0 {
			return true
		}
	}
	return false
}

// tokenReviewBindingName is the cluster-scoped binding of an index's
// service account; the namespace is part of it, as in volumeName.
func tokenReviewBindingName(idx *v1alpha1.PackageIndex) string {
	return "pkgindex-tokenreview-" + idx.Namespace + "-" + idx.Name
}

// tokenReviewBindingFor binds the pods' service account to the role that
// creates TokenReviews, or returns nil when the policy needs no review. It
// is cluster-scoped, so no owner reference can collect it: it carries the
// index's labels, as the PersistentVolume does, and is deleted by the
// operator.
func tokenReviewBindingFor(idx *v1alpha1.PackageIndex) *rbacv1.ClusterRoleBinding {
	if !reviewsTokens(idx) {
		return nil
	}
	return &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: metav1.ObjectMeta{Name: tokenReviewBindingName(idx), Labels: volumeLabels(idx)},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: tokenReviewRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: idx.Namespace, Name: serviceAccountName(idx)}},
	}
}
