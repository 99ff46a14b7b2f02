package controllers

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// autoscalerFor builds the HorizontalPodAutoscaler of idx, or nil when
// autoscaling is off.
func autoscalerFor(idx *v1alpha1.PackageIndex) *autoscalingv2.HorizontalPodAutoscaler {
	a := idx.Spec.Autoscaling
	if a == nil {
		return nil
	}
	utilization := func(name corev1.ResourceName, pct int32) autoscalingv2.MetricSpec {
		return autoscalingv2.MetricSpec{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name: name,
				Target: autoscalingv2.MetricTarget{
					Type:               autoscalingv2.UtilizationMetricType,
					AverageUtilization: new(pct),
				},
			},
		}
	}
	var metrics []autoscalingv2.MetricSpec
	if a.TargetCPUUtilizationPercentage != nil {
		metrics = append(metrics, utilization(corev1.ResourceCPU, *a.TargetCPUUtilizationPercentage))
	}
	if a.TargetMemoryUtilizationPercentage != nil {
		metrics = append(metrics, utilization(corev1.ResourceMemory, *a.TargetMemoryUtilizationPercentage))
	}
	return &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: objectMeta(idx),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				APIVersion: "apps/v1",
				Kind:       "Deployment",
				Name:       idx.Name,
			},
			MinReplicas: new(minReplicas(idx)),
			MaxReplicas: a.MaxReplicas,
			Metrics:     metrics,
			Behavior:    a.Behavior,
		},
	}
}

// disruptionBudgetFor builds the PodDisruptionBudget of idx, or nil when it
// is disabled or at most one replica runs: a budget on a single pod would
// block every node drain.
func disruptionBudgetFor(idx *v1alpha1.PackageIndex) *policyv1.PodDisruptionBudget {
	p := idx.Spec.PodDisruptionBudget
	if (p.Enabled != nil && !*p.Enabled) || minReplicas(idx) < 2 {
		return nil
	}
	maxUnavailable := intstr.FromInt32(1)
	if p.MaxUnavailable != nil {
		maxUnavailable = *p.MaxUnavailable
	}
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: objectMeta(idx),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: &maxUnavailable,
			Selector:       &metav1.LabelSelector{MatchLabels: selectorLabels(idx)},
		},
	}
}
