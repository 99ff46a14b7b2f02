package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// upstreamProblem says what is missing of the upstream's credentials
// Secret and CA bundle ConfigMap, without which new pods cannot start;
// "" when nothing is. The error is for failed reads only.
func (r *PackageIndexReconciler) upstreamProblem(ctx context.Context, idx *v1alpha1.PackageIndex) (string, error) {
	u := idx.Spec.Upstream
	if u == nil {
		return "", nil
	}
	if c := u.CredentialsSecret; c != nil {
		keys := []string{c.FileKey}
		if c.FileKey == "" {
			keys = []string{orDefault(c.UserKey, "username"), orDefault(c.PasswordKey, "password")}
		}
		s := &corev1.Secret{}
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: idx.Namespace, Name: c.Name}, s)
		switch {
		case apierrors.IsNotFound(err):
			return fmt.Sprintf("Secret %s (upstream.credentialsSecret) not found: create it with keys %s", c.Name, quoted(keys)), nil
		case err != nil:
			return "", fmt.Errorf("reading Secret %s/%s: %w", idx.Namespace, c.Name, err)
		}
		var missing []string
		for _, k := range keys {
			if s.Data[k] == nil {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return fmt.Sprintf("Secret %s (upstream.credentialsSecret) has no key %s", c.Name, quoted(missing)), nil
		}
	}
	if ca := u.CABundle; ca != nil {
		return r.configMapKeyProblem(ctx, idx.Namespace, ca, "upstream.caBundle", "the PEM certificates")
	}
	return "", nil
}

// configMapKeyProblem says what is missing of the ConfigMap key that
// field names, which should hold what; "" when nothing is.
func (r *PackageIndexReconciler) configMapKeyProblem(ctx context.Context, ns string, ref *v1alpha1.ConfigMapKeyRef, field, what string) (string, error) {
	cm := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, cm)
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Sprintf("ConfigMap %s (%s) not found: create it with %s under key %q", ref.Name, field, what, ref.Key), nil
	case err != nil:
		return "", fmt.Errorf("reading ConfigMap %s/%s: %w", ns, ref.Name, err)
	case cm.Data[ref.Key] == "" && cm.BinaryData[ref.Key] == nil:
		return fmt.Sprintf("ConfigMap %s (%s) has no key %q", ref.Name, field, ref.Key), nil
	}
	return "", nil
}

// quoted joins keys, each quoted, with "and".
func quoted(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(q, " and ")
}
