package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// recheckAfter is how soon a PackageIndex waiting for an object the
// operator does not watch is looked at again.
const recheckAfter = time.Minute

// welcomeRecheckAfter is how soon an index waiting for its welcome page's
// ConfigMap is looked at again.
const welcomeRecheckAfter = 10 * time.Second

// PackageIndexReconciler makes the cluster match each PackageIndex.
type PackageIndexReconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	client.Client
	// APIReader reads Secrets straight from the API server, so the
	// operator never caches their contents.
	APIReader client.Reader
	// Recorder emits events on the PackageIndex.
	Recorder recorder.EventRecorder
	// Options are the operator-wide builder inputs.
	Options Options
}

// child is one kind of namespaced object a PackageIndex may own.
type child struct {
	// empty returns a zero object of the kind, to read the current one.
	empty func() client.Object
	// build returns the desired object, or nil when idx wants none.
	build func(idx *v1alpha1.PackageIndex, opts Options) client.Object
	// name is the object's name when it is not the index's.
	name func(idx *v1alpha1.PackageIndex) string
}

// optional turns a typed nil pointer into a nil interface, so builders can
// say "no object" in their own types.
func optional[T any, P interface {
	*T
	client.Object
}](p P) client.Object {
	if p == nil {
		return nil
	}
	return p
}

// children are applied in this order: the Deployment after the claim it
// mounts and the account it runs as, the Service after the pods it
// selects.
var children = []child{
	{
		empty: func() client.Object { return &corev1.ConfigMap{} },
		build: func(idx *v1alpha1.PackageIndex, _ Options) client.Object { return optional(policyConfigMapFor(idx)) },
		name:  policyConfigMapName,
	},
	{
		empty: func() client.Object { return &corev1.ServiceAccount{} },
		build: func(idx *v1alpha1.PackageIndex, _ Options) client.Object { return optional(serviceAccountFor(idx)) },
	},
	{
		empty: func() client.Object { return &appsv1.Deployment{} },
		build: func(idx *v1alpha1.PackageIndex, o Options) client.Object { return deploymentFor(idx, o) },
	},
	{
		empty: func() client.Object { return &corev1.Service{} },
		build: func(idx *v1alpha1.PackageIndex, _ Options) client.Object { return serviceFor(idx) },
	},
	{
		empty: func() client.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
		build: func(idx *v1alpha1.PackageIndex, _ Options) client.Object { return optional(autoscalerFor(idx)) },
	},
	{
		empty: func() client.Object { return &policyv1.PodDisruptionBudget{} },
		build: func(idx *v1alpha1.PackageIndex, _ Options) client.Object { return optional(disruptionBudgetFor(idx)) },
	},
	{
		empty: func() client.Object { return &networkingv1.Ingress{} },
		build: func(idx *v1alpha1.PackageIndex, _ Options) client.Object { return optional(ingressFor(idx)) },
	},
	{
		empty: func() client.Object { return &networkingv1.NetworkPolicy{} },
		build: func(idx *v1alpha1.PackageIndex, _ Options) client.Object { return optional(networkPolicyFor(idx)) },
	},
}

// +kubebuilder:rbac:groups=index.pkgindex.dev,resources=packageindices,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=index.pkgindex.dev,resources=packageindices/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=index.pkgindex.dev,resources=packageindices/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services;persistentvolumeclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps;serviceaccounts,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterrolebindings,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=system:auth-delegator
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses;networkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=servicemonitors;prometheusrules,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete,namespace=pkgindex-system

// Reconcile fetches a PackageIndex, applies the objects built from it,
// and recomputes its status from what the cluster reports.
func (r *PackageIndexReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	idx := &v1alpha1.PackageIndex{}
	if err := r.Get(ctx, req.NamespacedName, idx); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !idx.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.finalize(ctx, idx)
	}

	var obs observation
	switch {
	case idx.Spec.Suspend:
		obs.suspended = true
	default:
		if err := r.ensureFinalizer(ctx, idx); err != nil {
			return reconcile.Result{}, err
		}
		var err error
		if obs, err = r.checkInputs(ctx, idx); err != nil {
			return reconcile.Result{}, err
		}
		if obs.conflict == "" {
			obs.applyErr = r.applyAll(ctx, idx, &obs)
		}
	}

	if err := r.updateStatus(ctx, idx, obs); err != nil {
		return reconcile.Result{}, errors.Join(obs.applyErr, err)
	}
	if obs.applyErr != nil {
		// Returning the error requeues with backoff.
		return reconcile.Result{}, obs.applyErr
	}
	if obs.conflict != "" || obs.routeSkipped {
		// Someone else's PersistentVolume and CRDs are not watched: look
		// again later.
		return reconcile.Result{RequeueAfter: recheckAfter}, nil
	}
	if obs.welcomeProblem != "" || obs.upstreamProblem != "" || obs.jwksProblem != "" {
		// The cache holds only the operator's own ConfigMaps, so the
		// user's are not watched: look again soon, since the index is
		// Degraded until they are there.
		return reconcile.Result{RequeueAfter: welcomeRecheckAfter}, nil
	}
	return reconcile.Result{}, nil
}

// ensureFinalizer holds an EFS-backed PackageIndex until its
// PersistentVolume, and one whose pods review tokens until its
// ClusterRoleBinding, which no owner reference can collect, is dealt with.
func (r *PackageIndexReconciler) ensureFinalizer(ctx context.Context, idx *v1alpha1.PackageIndex) error {
	if idx.Spec.Storage.EFS == nil && !reviewsTokens(idx) || controllerutil.ContainsFinalizer(idx, Finalizer) {
		return nil
	}
	orig := idx.DeepCopy()
	controllerutil.AddFinalizer(idx, Finalizer)
	if err := r.Patch(ctx, idx, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("adding finalizer to %s: %w", objectKey(idx), err)
	}
	return nil
}

// observation is what a reconcile learnt beyond the objects it reads for
// the status.
type observation struct {
	suspended bool
	// conflict says why storage cannot be used (someone else's volume or
	// claim); nothing is applied then.
	conflict string
	// secretProblem says what is wrong with the auth Secret.
	secretProblem string
	// claimMissing: storage.existingClaim names no claim (yet).
	claimMissing bool
	// argsProblem says why the server would not start with the spec's
	// extra arguments or environment; the Deployment is not changed then.
	argsProblem string
	// welcomeProblem says what is wrong with the welcome page's ConfigMap.
	welcomeProblem string
	// upstreamProblem says what is wrong with the upstream's credentials
	// Secret or CA bundle ConfigMap.
	upstreamProblem string
	// jwksProblem says what is wrong with the first publisher's keys
	// ConfigMap that is not as it should be.
	jwksProblem string
	// routeSkipped: httpRoute is set but the HTTPRoute CRD is not installed.
	routeSkipped bool
	// applyErr is the first error applying or deleting an object.
	applyErr error
}

// checkInputs finds what would make applying wrong or useless: a volume or
// claim of our name that is not ours, a missing claim or auth Secret. The
// error is for failed reads only.
func (r *PackageIndexReconciler) checkInputs(ctx context.Context, idx *v1alpha1.PackageIndex) (observation, error) {
	var obs observation
	if pv := volumeFor(idx); pv != nil {
		cur := &corev1.PersistentVolume{}
		err := r.Get(ctx, types.NamespacedName{Name: pv.Name}, cur)
		switch {
		case err == nil && !ownsVolume(idx, cur):
			obs.conflict = fmt.Sprintf("PersistentVolume %s exists and was not created for this PackageIndex; "+
				"it is left alone: delete or rename it, or use storage.existingClaim", pv.Name)
			return obs, nil
		case err != nil && !apierrors.IsNotFound(err):
			return obs, fmt.Errorf("reading PersistentVolume %s: %w", pv.Name, err)
		}
	}
	if pvc := claimFor(idx); pvc != nil {
		cur := &corev1.PersistentVolumeClaim{}
		err := r.Get(ctx, client.ObjectKeyFromObject(pvc), cur)
		switch {
		case err == nil && !metav1.IsControlledBy(cur, idx):
			obs.conflict = fmt.Sprintf("PersistentVolumeClaim %s exists and was not created for this PackageIndex; "+
				"it is left alone: delete or rename it, or name it in storage.existingClaim", pvc.Name)
			return obs, nil
		case err != nil && !apierrors.IsNotFound(err):
			return obs, fmt.Errorf("reading PersistentVolumeClaim %s: %w", objectKey(pvc), err)
		}
	}
	if name := idx.Spec.Storage.ExistingClaim; name != nil {
		err := r.Get(ctx, types.NamespacedName{Namespace: idx.Namespace, Name: *name}, &corev1.PersistentVolumeClaim{})
		switch {
		case apierrors.IsNotFound(err):
			obs.claimMissing = true
		case err != nil:
			return obs, fmt.Errorf("reading PersistentVolumeClaim %s/%s: %w", idx.Namespace, *name, err)
		}
	}
	if a := idx.Spec.Server.Auth; a != nil {
		s := &corev1.Secret{}
		err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: idx.Namespace, Name: a.SecretName}, s)
		switch {
		case apierrors.IsNotFound(err):
			obs.secretProblem = fmt.Sprintf("Secret %s not found: create it with the htpasswd file under key %q",
				a.SecretName, authKey(a))
		case err != nil:
			return obs, fmt.Errorf("reading Secret %s/%s: %w", idx.Namespace, a.SecretName, err)
		case s.Data[authKey(a)] == nil:
			obs.secretProblem = fmt.Sprintf("Secret %s has no key %q: add the htpasswd file under it or set server.auth.key",
				a.SecretName, authKey(a))
		}
	}
	if w := idx.Spec.Server.Welcome; w != nil {
		var err error
		if obs.welcomeProblem, err = r.configMapKeyProblem(ctx, idx.Namespace, w, "server.welcome", "the page"); err != nil {
			return obs, err
		}
	}
	var err error
	if obs.upstreamProblem, err = r.upstreamProblem(ctx, idx); err != nil {
		return obs, err
	}
	if obs.jwksProblem, err = r.jwksProblem(ctx, idx); err != nil {
		return obs, err
	}
	obs.argsProblem = serverArgsProblem(idx, r.Options.CheckServer)
	return obs, nil
}

// jwksProblem says what is wrong with the first publisher's jwksConfigMap
// that is missing or lacks its key, or "": the pods mount each, and do not
// start without it. The cache holds only the operator's own ConfigMaps,
// so the user's are read from the API server.
func (r *PackageIndexReconciler) jwksProblem(ctx context.Context, idx *v1alpha1.PackageIndex) (string, error) {
	p := idx.Spec.Server.Policy
	if p == nil {
		return "", nil
	}
	for _, pub := range p.Publishers {
		c := pub.JWKSConfigMap
		if c == nil {
			continue
		}
		ref := &v1alpha1.ConfigMapKeyRef{Name: c.Name, Key: jwksKey(c)}
		if problem, err := r.configMapKeyProblem(ctx, idx.Namespace, ref, "jwksConfigMap of publisher "+pub.Name, "the issuer's keys, a JWKS document,"); problem != "" || err != nil {
			return problem, err
		}
	}
	return "", nil
}

// applyAll applies every object idx wants and deletes the owned ones it no
// longer wants, noting in obs what it had to skip. It stops at the first
// error, which the caller reports.
func (r *PackageIndexReconciler) applyAll(ctx context.Context, idx *v1alpha1.PackageIndex, obs *observation) error {
	if pv := volumeFor(idx); pv != nil {
		if err := r.applyVolume(ctx, idx, pv); err != nil {
			return err
		}
	}
	if pvc := claimFor(idx); pvc != nil {
		if err := r.applyOwned(ctx, idx, pvc, &corev1.PersistentVolumeClaim{}); err != nil {
			return err
		}
	}
	if err := r.reconcileTokenReviewBinding(ctx, idx); err != nil {
		return err
	}
	initialReplicas, err := r.autoscaledReplicas(ctx, idx)
	if err != nil {
		return err
	}
	for _, c := range children {
		desired := c.build(idx, r.Options)
		if d, ok := desired.(*appsv1.Deployment); ok {
			if obs.argsProblem != "" {
				// Pods that would crash-loop are worse than the ones
				// running; the status says why nothing changed.
				continue
			}
			if initialReplicas != nil {
				d.Spec.Replicas = initialReplicas
			}
		}
		if desired == nil {
			cur := c.empty()
			cur.SetName(idx.Name)
			if c.name != nil {
				cur.SetName(c.name(idx))
			}
			cur.SetNamespace(idx.Namespace)
			if err := r.deleteOwned(ctx, idx, cur); err != nil {
				return err
			}
			continue
		}
		if err := r.applyOwned(ctx, idx, desired, c.empty()); err != nil {
			return err
		}
	}
	installed, err := r.reconcileOptional(ctx, idx, HTTPRouteGVK, httpRouteFor(idx))
	if err != nil {
		return err
	}
	obs.routeSkipped = !installed && idx.Spec.HTTPRoute != nil
	for _, m := range []struct {
		gvk     schema.GroupVersionKind
		desired *unstructured.Unstructured
		field   string
	}{
		{ServiceMonitorGVK, serviceMonitorFor(idx), "serviceMonitor"},
		{PrometheusRuleGVK, prometheusRuleFor(idx), "prometheusRule"},
	} {
		installed, err := r.reconcileOptional(ctx, idx, m.gvk, m.desired)
		if err != nil {
			return err
		}
		if !installed && m.desired != nil {
			r.event(idx, nil, corev1.EventTypeWarning, m.gvk.Kind+"Unavailable", "Apply",
				"spec.%s is set but the monitoring.coreos.com %s CRD is not installed", m.field, m.gvk.Kind)
		}
	}
	return nil
}

// applyOwned sets idx as the controller of obj and applies it. cur is an
// empty object of the same kind, used to read the current version.
func (r *PackageIndexReconciler) applyOwned(ctx context.Context, idx *v1alpha1.PackageIndex, obj, cur client.Object) error {
	if err := controllerutil.SetControllerReference(idx, obj, r.Scheme()); err != nil {
		return fmt.Errorf("owning %s: %w", objectKey(obj), err)
	}
	before := ""
	err := r.Get(ctx, client.ObjectKeyFromObject(obj), cur)
	if apierrors.IsNotFound(err) && cachedOnlyIfOurs(obj) {
		// The cache holds only objects with our label: one of the same
		// name without it is someone else's, and only the API server
		// tells.
		err = r.APIReader.Get(ctx, client.ObjectKeyFromObject(obj), cur)
	}
	switch {
	case err == nil:
		before = cur.GetResourceVersion()
		if cachedOnlyIfOurs(obj) && !metav1.IsControlledBy(cur, idx) {
			// Owning it would have it garbage-collected with the index,
			// and whoever else uses it would lose it.
			kind, advice := takenAdvice(obj)
			return fmt.Errorf("%s %s exists and was not created for this PackageIndex; it is left alone: %s",
				kind, objectKey(obj), advice)
		}
	case !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err):
		return fmt.Errorf("reading %s: %w", objectKey(obj), err)
	}
	res, err := r.apply(ctx, obj, before)
	if err != nil {
		return err
	}
	r.recordApply(ctx, idx, obj, res)
	return nil
}

// applyVolume applies the static PersistentVolume. A volume of ours that
// was released, because its claim was deleted with an earlier PackageIndex
// of the same name and Retain, is made bindable again by forgetting the old
// claim's uid; its data is what the new claim should see.
func (r *PackageIndexReconciler) applyVolume(ctx context.Context, idx *v1alpha1.PackageIndex, pv *corev1.PersistentVolume) error {
	cur := &corev1.PersistentVolume{}
	before := ""
	err := r.Get(ctx, client.ObjectKeyFromObject(pv), cur)
	switch {
	case err == nil:
		before = cur.GetResourceVersion()
		if cur.Status.Phase == corev1.VolumeReleased && cur.Spec.ClaimRef != nil && cur.Spec.ClaimRef.UID != "" {
			patch := []byte(`{"spec":{"claimRef":{"uid":null,"resourceVersion":null}}}`)
			if err := r.Patch(ctx, cur, client.RawPatch(types.MergePatchType, patch)); err != nil {
				return fmt.Errorf("releasing PersistentVolume %s for a new claim: %w", pv.Name, err)
			}
			r.event(idx, cur, corev1.EventTypeNormal, "VolumeReused", "Reuse",
				"PersistentVolume %s was released; bound again to claim %s", pv.Name, claimName(idx))
		}
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading PersistentVolume %s: %w", pv.Name, err)
	}
	res, err := r.apply(ctx, pv, before)
	if err != nil {
		return err
	}
	r.recordApply(ctx, idx, pv, res)
	return nil
}

// autoscaledReplicas prepares the Deployment's replica count for the
// HorizontalPodAutoscaler, which owns it while autoscaling is on. A new
// Deployment starts at minReplicas rather than the API server's default of
// one; that count is returned for the first apply. Once the Deployment
// exists the operator lets go of the field. Simply leaving it out of the
// next apply would remove it, and the Deployment would fall back to one
// replica until the autoscaler noticed; applying the current count under
// a second manager first keeps the value while the operator lets go.
func (r *PackageIndexReconciler) autoscaledReplicas(ctx context.Context, idx *v1alpha1.PackageIndex) (*int32, error) {
	if idx.Spec.Autoscaling == nil {
		return nil, nil
	}
	// Read from the API server, not the cache: a cache that lags behind
	// the Deployment's creation or its handover would have the apply set
	// the replicas back to the minimum, scaling down what the autoscaler
	// scaled up.
	cur := &appsv1.Deployment{}
	err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: idx.Namespace, Name: idx.Name}, cur)
	if apierrors.IsNotFound(err) {
		return new(minReplicas(idx)), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Deployment %s/%s: %w", idx.Namespace, idx.Name, err)
	}
	if cur.Spec.Replicas == nil || !ownsReplicas(cur.ManagedFields) {
		return nil, nil
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": cur.Name, "namespace": cur.Namespace},
		"spec":       map[string]any{"replicas": int64(*cur.Spec.Replicas)},
	}}
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner+"-handover")); err != nil {
		return nil, fmt.Errorf("handing replicas of Deployment %s to the autoscaler: %w", objectKey(cur), err)
	}
	return nil, nil
}

// ownsReplicas reports whether the operator's apply owns spec.replicas.
func ownsReplicas(fields []metav1.ManagedFieldsEntry) bool {
	for _, f := range fields {
		if f.Manager != FieldOwner || f.Operation != metav1.ManagedFieldsOperationApply || f.FieldsV1 == nil {
			continue
		}
		var set struct {
			Spec map[string]any `json:"f:spec"`
		}
		if err := json.Unmarshal(f.FieldsV1.GetRawBytes(), &set); err != nil {
			continue
		}
		if _, ok := set.Spec["f:replicas"]; ok {
			return true
		}
	}
	return false
}

// deleteOwned deletes cur (name and namespace set) if it exists and idx
// controls it; someone else's object of the same name stays.
func (r *PackageIndexReconciler) deleteOwned(ctx context.Context, idx *v1alpha1.PackageIndex, cur client.Object) error {
	err := r.Get(ctx, client.ObjectKeyFromObject(cur), cur)
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", objectKey(cur), err)
	}
	if !metav1.IsControlledBy(cur, idx) {
		return nil
	}
	if err := r.Delete(ctx, cur); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting %s: %w", objectKey(cur), err)
	}
	r.event(idx, cur, corev1.EventTypeNormal, "Deleted", "Delete", "deleted %s %s, no longer wanted", r.kindOf(cur), cur.GetName())
	return nil
}

// reconcileOptional applies desired, an object of a kind that a CRD which
// may be absent defines, or removes the owned one of that kind when
// desired is nil. installed says whether the kind exists.
func (r *PackageIndexReconciler) reconcileOptional(ctx context.Context, idx *v1alpha1.PackageIndex, gvk schema.GroupVersionKind, desired *unstructured.Unstructured) (installed bool, err error) {
	_, err = r.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking up the %s kind: %w", gvk.Kind, err)
	}
	empty := &unstructured.Unstructured{}
	empty.SetGroupVersionKind(gvk)
	if desired == nil {
		empty.SetName(idx.Name)
		empty.SetNamespace(idx.Namespace)
		return true, r.deleteOwned(ctx, idx, empty)
	}
	return true, r.applyOwned(ctx, idx, desired, empty)
}

// recordApply emits an event when an apply changed something.
func (r *PackageIndexReconciler) recordApply(ctx context.Context, idx *v1alpha1.PackageIndex, obj client.Object, res applyResult) {
	if res == unchanged {
		return
	}
	kind := r.kindOf(obj)
	log.FromContext(ctx).Info("applied", "kind", kind, "object", objectKey(obj), "result", strings.ToLower(res.String()))
	r.event(idx, obj, corev1.EventTypeNormal, res.String(), "Apply", "%s %s %s", res.String(), kind, obj.GetName())
}

// event records an event on idx, about related when not nil.
func (r *PackageIndexReconciler) event(idx *v1alpha1.PackageIndex, related client.Object, eventType, reason, action, note string, args ...any) {
	if r.Recorder == nil {
		return
	}
	r.Recorder.Eventf(idx, related, eventType, reason, action, note, args...)
}

// kindOf is the kind of obj, from its type when its TypeMeta is empty.
func (r *PackageIndexReconciler) kindOf(obj client.Object) string {
	if k := obj.GetObjectKind().GroupVersionKind().Kind; k != "" {
		return k
	}
	gvk, err := r.GroupVersionKindFor(obj)
	if err != nil {
		return fmt.Sprintf("%T", obj)
	}
	return gvk.Kind
}
