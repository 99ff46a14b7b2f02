package controllers

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// reconcileTokenReviewBinding applies the cluster-scoped binding that lets
// the pods review service-account tokens while the policy needs it, and
// deletes it when it does not.
func (r *PackageIndexReconciler) reconcileTokenReviewBinding(ctx context.Context, idx *v1alpha1.PackageIndex) error {
	name := tokenReviewBindingName(idx)
	cur := &rbacv1.ClusterRoleBinding{}
	// Read past the cache, which holds only objects with our label: a
	// binding of that name without it is someone else's.
	err := r.APIReader.Get(ctx, types.NamespacedName{Name: name}, cur)
	switch {
	case err == nil:
	case apierrors.IsNotFound(err):
		cur = nil
	default:
		return fmt.Errorf("reading ClusterRoleBinding %s: %w", name, err)
	}
	want := tokenReviewBindingFor(idx)
	if want == nil {
		return r.deleteTokenReviewBinding(ctx, idx, cur)
	}
	if cur != nil && !ownsLabels(idx, cur.Labels) {
		return fmt.Errorf("ClusterRoleBinding %s exists and was not created for this PackageIndex; delete or rename it", name)
	}
	before := ""
	if cur != nil {
		before = cur.ResourceVersion
	}
	res, err := r.apply(ctx, want, before)
	if err != nil {
		return err
	}
	r.recordApply(ctx, idx, want, res)
	return nil
}

// deleteTokenReviewBinding deletes cur if it is the index's.
func (r *PackageIndexReconciler) deleteTokenReviewBinding(ctx context.Context, idx *v1alpha1.PackageIndex, cur *rbacv1.ClusterRoleBinding) error {
	if cur == nil || !ownsLabels(idx, cur.Labels) {
		return nil
	}
	if err := r.Delete(ctx, cur); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting ClusterRoleBinding %s: %w", cur.Name, err)
	}
	return nil
}

// ownsLabels reports whether a cluster-scoped object's labels name idx.
func ownsLabels(idx *v1alpha1.PackageIndex, l map[string]string) bool {
	return l[LabelIndexName] == idx.Name && l[LabelIndexNamespace] == idx.Namespace && l[labelManagedBy] == FieldOwner
}
