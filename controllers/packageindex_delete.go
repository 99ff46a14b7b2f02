package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// finalize runs when a PackageIndex is being deleted. Namespaced objects go
// with it through their owner references; the ClusterRoleBinding of token
// reviews has none and is deleted here; the PersistentVolume has none
// either, so it is handled here too, by the reclaim policy: Retain leaves it (it turns
// Released when the claim goes), Delete removes the PersistentVolume
// object. Its reclaim policy is Retain in both cases, so the files on EFS
// are never deleted.
func (r *PackageIndexReconciler) finalize(ctx context.Context, idx *v1alpha1.PackageIndex) error {
	if !controllerutil.ContainsFinalizer(idx, Finalizer) {
		return nil
	}
	if pv := volumeFor(idx); pv != nil && idx.Spec.Storage.ReclaimPolicy == v1alpha1.ReclaimDelete {
		if err := r.deleteVolume(ctx, idx, pv.Name); err != nil {
			return err
		}
	} else if pv != nil {
		r.event(idx, nil, corev1.EventTypeNormal, "VolumeRetained", "Delete",
			"PersistentVolume %s is kept (storage.reclaimPolicy Retain)", pv.Name)
	}
	binding := &rbacv1.ClusterRoleBinding{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Name: tokenReviewBindingName(idx)}, binding)
	switch {
	case err == nil:
		if err := r.deleteTokenReviewBinding(ctx, idx, binding); err != nil {
			return err
		}
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading ClusterRoleBinding %s: %w", tokenReviewBindingName(idx), err)
	}
	orig := idx.DeepCopy()
	controllerutil.RemoveFinalizer(idx, Finalizer)
	if err := r.Patch(ctx, idx, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("removing finalizer from %s: %w", objectKey(idx), err)
	}
	return nil
}

// deleteVolume deletes the PersistentVolume called name if it is ours.
func (r *PackageIndexReconciler) deleteVolume(ctx context.Context, idx *v1alpha1.PackageIndex, name string) error {
	pv := &corev1.PersistentVolume{}
	err := r.Get(ctx, types.NamespacedName{Name: name}, pv)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading PersistentVolume %s: %w", name, err)
	}
	if !ownsVolume(idx, pv) {
		return nil
	}
	if err := r.Delete(ctx, pv); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting PersistentVolume %s: %w", name, err)
	}
	r.event(idx, nil, corev1.EventTypeNormal, "VolumeDeleted", "Delete",
		"deleted PersistentVolume %s (storage.reclaimPolicy Delete); the files on EFS are kept", name)
	return nil
}
