package controllers

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// serviceAccountName is the account the server pods run as; "" is the
// namespace's default. A policy that grants to service accounts needs
// the pods to have an account of their own, which the TokenReview role is
// bound to: the one spec.serviceAccount names, or else one the operator
// creates.
func serviceAccountName(idx *v1alpha1.PackageIndex) string {
	sa := idx.Spec.ServiceAccount
	switch {
	case sa == nil && reviewsTokens(idx):
		return idx.Name
	case sa == nil:
		return ""
	case sa.Create:
		return idx.Name
	}
	return sa.Name
}

// automountToken says whether the pods get the account's API token: when
// asked for, and when the server reviews tokens, which it does as its
// own account.
func automountToken(idx *v1alpha1.PackageIndex) bool {
	return idx.Spec.ServiceAccount != nil && idx.Spec.ServiceAccount.AutomountToken || reviewsTokens(idx)
}

// serviceAccountFor builds the ServiceAccount the operator creates, or nil
// when the pods use an existing one. The account itself mounts no token
// by default either, so a pod the operator did not build gets none from it.
func serviceAccountFor(idx *v1alpha1.PackageIndex) *corev1.ServiceAccount {
	sa := idx.Spec.ServiceAccount
	switch {
	case sa == nil && reviewsTokens(idx):
		sa = &v1alpha1.ServiceAccountSpec{Create: true}
	case sa == nil || !sa.Create:
		return nil
	}
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   withAnnotations(objectMeta(idx), sa.Annotations),
		AutomountServiceAccountToken: new(automountToken(idx)),
	}
}
