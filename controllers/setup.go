package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// SetupWithManager registers the reconciler: PackageIndex objects, the
// namespaced objects they own, their PersistentVolumes (by label), the
// claims they use by name, and the auth Secrets they name (metadata only,
// so Secret contents are never cached).
func (r *PackageIndexReconciler) SetupWithManager(mgr ctrl.Manager) error {
	err := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.PackageIndex{}).
		Named("packageindex").
		Owns(&appsv1.Deployment{}).
		Owns(&corev1.ServiceAccount{}).
		Owns(&corev1.Service{}).
		Owns(&corev1.PersistentVolumeClaim{}).
		Owns(&autoscalingv2.HorizontalPodAutoscaler{}).
		Owns(&policyv1.PodDisruptionBudget{}).
		Owns(&networkingv1.Ingress{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Owns(&corev1.ConfigMap{}).
		Owns(&corev1.ServiceAccount{}).
		Watches(&corev1.PersistentVolume{}, handler.EnqueueRequestsFromMapFunc(indexOfVolume)).
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(r.indexesUsingClaim)).
		WatchesMetadata(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.indexesUsingSecret)).
		Complete(r)
	if err != nil {
		return fmt.Errorf("setting up the PackageIndex controller: %w", err)
	}
	return nil
}

// indexOfVolume maps a PersistentVolume to the PackageIndex its labels name.
func indexOfVolume(_ context.Context, obj client.Object) []reconcile.Request {
	l := obj.GetLabels()
	if l[labelManagedBy] != FieldOwner || l[LabelIndexName] == "" || l[LabelIndexNamespace] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{
		Namespace: l[LabelIndexNamespace], Name: l[LabelIndexName],
	}}}
}

// indexesUsingSecret maps a Secret to the PackageIndexes of its namespace
// whose auth or upstream credentials name it.
func (r *PackageIndexReconciler) indexesUsingSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.indexesWhere(ctx, obj, func(idx *v1alpha1.PackageIndex) bool {
		a, u := idx.Spec.Server.Auth, idx.Spec.Upstream
		return a != nil && a.SecretName == obj.GetName() ||
			u != nil && u.CredentialsSecret != nil && u.CredentialsSecret.Name == obj.GetName()
	})
}

// indexesUsingClaim maps a claim to the PackageIndexes of its namespace
// that use a claim of that name: an existing claim appearing, or someone
// else's claim in the way going away, is noticed at once. Owned claims
// are also covered by Owns.
func (r *PackageIndexReconciler) indexesUsingClaim(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.indexesWhere(ctx, obj, func(idx *v1alpha1.PackageIndex) bool {
		return claimName(idx) == obj.GetName()
	})
}

// indexesWhere lists the PackageIndexes in obj's namespace that match.
func (r *PackageIndexReconciler) indexesWhere(ctx context.Context, obj client.Object, match func(*v1alpha1.PackageIndex) bool) []reconcile.Request {
	var list v1alpha1.PackageIndexList
	if err := r.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing PackageIndexes", "for", objectKey(obj))
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if match(&list.Items[i]) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return reqs
}
