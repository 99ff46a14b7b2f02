package controllers

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// updateStatus reads the Deployment and claim, computes the status and
// writes it only when it differs from the stored one.
func (r *PackageIndexReconciler) updateStatus(ctx context.Context, idx *v1alpha1.PackageIndex, obs observation) error {
	var deploy *appsv1.Deployment
	d := &appsv1.Deployment{}
	switch err := r.Get(ctx, types.NamespacedName{Namespace: idx.Namespace, Name: idx.Name}, d); {
	case err == nil && metav1.IsControlledBy(d, idx):
		deploy = d
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("reading Deployment %s/%s: %w", idx.Namespace, idx.Name, err)
	}
	var claim *corev1.PersistentVolumeClaim
	if obs.conflict == "" {
		c := &corev1.PersistentVolumeClaim{}
		switch err := r.Get(ctx, types.NamespacedName{Namespace: idx.Namespace, Name: claimName(idx)}, c); {
		case err == nil:
			claim = c
		case !apierrors.IsNotFound(err):
			return fmt.Errorf("reading PersistentVolumeClaim %s/%s: %w", idx.Namespace, claimName(idx), err)
		}
	}

	status := statusFor(idx, obs, deploy, claim)
	if equality.Semantic.DeepEqual(status, idx.Status) {
		return nil
	}
	r.recordDegraded(idx, status)
	orig := idx.DeepCopy()
	idx.Status = status
	if err := r.Status().Patch(ctx, idx, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("updating status of %s: %w", objectKey(idx), err)
	}
	return nil
}

// recordDegraded emits a warning when the Degraded reason changes, not on
// every reconcile that finds the same problem.
func (r *PackageIndexReconciler) recordDegraded(idx *v1alpha1.PackageIndex, status v1alpha1.PackageIndexStatus) {
	now := meta.FindStatusCondition(status.Conditions, v1alpha1.ConditionDegraded)
	if now == nil || now.Status != metav1.ConditionTrue {
		return
	}
	was := meta.FindStatusCondition(idx.Status.Conditions, v1alpha1.ConditionDegraded)
	if was != nil && was.Status == now.Status && was.Reason == now.Reason && was.Message == now.Message {
		return
	}
	r.event(idx, nil, corev1.EventTypeWarning, now.Reason, "Reconcile", "%s", now.Message)
}

// statusFor computes the status of idx from what the cluster reports:
// deploy and claim as read (nil when absent) and what the reconcile
// observed. It is a pure function, so every case is a table test.
func statusFor(idx *v1alpha1.PackageIndex, obs observation, deploy *appsv1.Deployment, claim *corev1.PersistentVolumeClaim) v1alpha1.PackageIndexStatus {
	st := v1alpha1.PackageIndexStatus{
		Conditions:         append([]metav1.Condition(nil), idx.Status.Conditions...),
		ObservedGeneration: idx.Generation,
		URL:                indexURL(idx),
		Storage:            storageSummary(idx),
		Selector:           metav1.FormatLabelSelector(&metav1.LabelSelector{MatchLabels: selectorLabels(idx)}),
	}
	if deploy != nil {
		st.Replicas = deploy.Status.Replicas
		st.ReadyReplicas = deploy.Status.ReadyReplicas
	}
	if claim != nil {
		st.VolumeName = claim.Spec.VolumeName
	}

	set := func(condType string, status metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{
			Type:               condType,
			Status:             status,
			Reason:             reason,
			Message:            msg,
			ObservedGeneration: idx.Generation,
		})
	}

	degradedReason, degradedMsg := degradation(obs, deploy, claim, idx)
	progReason, progMsg := progress(obs, deploy, claim, idx)

	// Ready first: it is the summary people and kubectl wait look for.
	switch {
	case available(deploy):
		set(v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable,
			fmt.Sprintf("%d of %d replicas ready; the index answers at %s", st.ReadyReplicas, st.Replicas, st.URL))
	case degradedReason != "":
		set(v1alpha1.ConditionReady, metav1.ConditionFalse, degradedReason, degradedMsg)
	case obs.suspended:
		set(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonSuspended, progMsg)
	case progReason == v1alpha1.ReasonClaimPending:
		set(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonClaimPending, progMsg)
	default:
		set(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonUnavailable,
			"no replica is ready yet: see kubectl describe deployment "+idx.Name)
	}

	if progReason == v1alpha1.ReasonRollingOut || progReason == v1alpha1.ReasonClaimPending {
		set(v1alpha1.ConditionProgressing, metav1.ConditionTrue, progReason, progMsg)
	} else {
		set(v1alpha1.ConditionProgressing, metav1.ConditionFalse, progReason, progMsg)
	}

	if degradedReason != "" {
		set(v1alpha1.ConditionDegraded, metav1.ConditionTrue, degradedReason, degradedMsg)
	} else {
		set(v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected, "nothing needs attention")
	}
	return st
}

// available reports whether the Deployment says it serves.
func available(deploy *appsv1.Deployment) bool {
	if deploy == nil || deploy.Status.ReadyReplicas == 0 {
		return false
	}
	c := deploymentCondition(deploy, appsv1.DeploymentAvailable)
	return c != nil && c.Status == corev1.ConditionTrue
}

// degradation is the first problem that needs a person, or "".
func degradation(obs observation, deploy *appsv1.Deployment, claim *corev1.PersistentVolumeClaim, idx *v1alpha1.PackageIndex) (reason, msg string) {
	switch {
	case obs.conflict != "":
		return v1alpha1.ReasonStorageConflict, obs.conflict
	case obs.applyErr != nil:
		return v1alpha1.ReasonApplyFailed, obs.applyErr.Error()
	case obs.argsProblem != "":
		return v1alpha1.ReasonServerArgsInvalid, obs.argsProblem
	case obs.secretProblem != "":
		return v1alpha1.ReasonAuthSecretMissing, obs.secretProblem
	case obs.welcomeProblem != "":
		return v1alpha1.ReasonWelcomeMissing, obs.welcomeProblem
	case obs.upstreamProblem != "":
		return v1alpha1.ReasonUpstreamInputMissing, obs.upstreamProblem
	case obs.jwksProblem != "":
		return v1alpha1.ReasonJWKSMissing, obs.jwksProblem
	case claim != nil && claim.Status.Phase == corev1.ClaimLost:
		return v1alpha1.ReasonClaimLost, fmt.Sprintf("PersistentVolumeClaim %s lost its volume %s",
			claim.Name, claim.Spec.VolumeName)
	case obs.routeSkipped:
		return v1alpha1.ReasonHTTPRouteSkipped, "spec.httpRoute is set but the Gateway API's HTTPRoute CRD " +
			"(gateway.networking.k8s.io/v1) is not installed, so no route was created; install the Gateway API, " +
			"or use spec.ingress"
	case obs.claimMissing:
		return v1alpha1.ReasonClaimMissing, fmt.Sprintf("PersistentVolumeClaim %s (storage.existingClaim) not found",
			claimName(idx))
	}
	if deploy != nil {
		if c := deploymentCondition(deploy, appsv1.DeploymentProgressing); c != nil &&
			c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return v1alpha1.ReasonRolloutFailed, "the rollout made no progress: " + c.Message
		}
	}
	return "", ""
}

// progress says whether the cluster is still moving towards the spec.
func progress(obs observation, deploy *appsv1.Deployment, claim *corev1.PersistentVolumeClaim, idx *v1alpha1.PackageIndex) (reason, msg string) {
	switch {
	case obs.suspended:
		return v1alpha1.ReasonSuspended, "reconciliation is suspended (spec.suspend); no object is changed"
	case obs.conflict != "":
		return v1alpha1.ReasonStorageConflict, "waiting for the storage conflict to be resolved"
	case claim != nil && claim.Status.Phase != corev1.ClaimBound:
		return v1alpha1.ReasonClaimPending, fmt.Sprintf("PersistentVolumeClaim %s is %s, not yet bound",
			claim.Name, phaseOr(claim.Status.Phase, "Pending"))
	case deploy == nil:
		return v1alpha1.ReasonRollingOut, "creating the Deployment"
	}
	want := int32(0)
	if deploy.Spec.Replicas != nil {
		want = *deploy.Spec.Replicas
	}
	s := deploy.Status
	if s.ObservedGeneration < deploy.Generation || s.UpdatedReplicas < want ||
		s.Replicas > s.UpdatedReplicas || s.AvailableReplicas < s.UpdatedReplicas {
		return v1alpha1.ReasonRollingOut, fmt.Sprintf("%d of %d replicas updated, %d available",
			s.UpdatedReplicas, want, s.AvailableReplicas)
	}
	return v1alpha1.ReasonRolloutComplete, fmt.Sprintf("%d replicas run the current spec", s.UpdatedReplicas)
}

// phaseOr is phase, or def when the API server has not set one yet.
func phaseOr(phase corev1.PersistentVolumeClaimPhase, def string) string {
	if phase == "" {
		return def
	}
	return string(phase)
}

// deploymentCondition finds a condition of a Deployment.
func deploymentCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}
