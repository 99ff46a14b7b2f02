package controllers

import (
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// deployment is a Deployment reporting the given counts and conditions.
func deployment(replicas, updated, ready int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Generation: 3},
		Spec:       appsv1.DeploymentSpec{Replicas: new(replicas)},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: 3,
			Replicas:           replicas, UpdatedReplicas: updated, ReadyReplicas: ready, AvailableReplicas: ready,
			Conditions: conds,
		},
	}
}

var (
	availableCond = appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}
	deadlineCond  = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
		Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "pypi-1" has timed out progressing.`}
)

// claim is a claim in phase.
func claim(phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "pypi-packages"},
		Spec:       corev1.PersistentVolumeClaimSpec{VolumeName: "pkgindex-python-pypi"},
		Status:     corev1.PersistentVolumeClaimStatus{Phase: phase},
	}
}

func TestStatusFor(t *testing.T) {
	type want struct{ ready, progressing, degraded string }
	cases := []struct {
		name   string
		obs    observation
		deploy *appsv1.Deployment
		claim  *corev1.PersistentVolumeClaim
		want   want
	}{
		{"nothing yet", observation{}, nil, nil,
			want{"False/Unavailable", "True/RollingOut", "False/AsExpected"}},
		{"claim pending", observation{}, deployment(2, 2, 0), claim(corev1.ClaimPending),
			want{"False/ClaimPending", "True/ClaimPending", "False/AsExpected"}},
		{"rolling out", observation{}, deployment(3, 1, 2, availableCond), claim(corev1.ClaimBound),
			want{"True/Available", "True/RollingOut", "False/AsExpected"}},
		{"all ready", observation{}, deployment(2, 2, 2, availableCond), claim(corev1.ClaimBound),
			want{"True/Available", "False/RolloutComplete", "False/AsExpected"}},
		{"rollout stuck", observation{}, deployment(2, 1, 0, deadlineCond), claim(corev1.ClaimBound),
			want{"False/RolloutFailed", "True/RollingOut", "True/RolloutFailed"}},
		{"secret missing, old pods serve", observation{secretProblem: "Secret x not found"}, deployment(2, 2, 2, availableCond), claim(corev1.ClaimBound),
			want{"True/Available", "False/RolloutComplete", "True/AuthSecretMissing"}},
		{"claim lost", observation{}, deployment(2, 2, 0), claim(corev1.ClaimLost),
			want{"False/ClaimLost", "True/ClaimPending", "True/ClaimLost"}},
		{"existing claim missing", observation{claimMissing: true}, deployment(2, 2, 0), nil,
			want{"False/ClaimMissing", "True/RollingOut", "True/ClaimMissing"}},
		{"storage conflict", observation{conflict: "PersistentVolume x exists"}, nil, nil,
			want{"False/StorageConflict", "False/StorageConflict", "True/StorageConflict"}},
		{"apply failed", observation{applyErr: errors.New("applying Deployment: refused")}, nil, nil,
			want{"False/ApplyFailed", "True/RollingOut", "True/ApplyFailed"}},
		{"suspended", observation{suspended: true}, deployment(2, 2, 2, availableCond), claim(corev1.ClaimBound),
			want{"True/Available", "False/Suspended", "False/AsExpected"}},
		{"suspended before start", observation{suspended: true}, nil, nil,
			want{"False/Suspended", "False/Suspended", "False/AsExpected"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idx := efsIndex("python", "pypi")
			idx.Generation = 5
			st := statusFor(idx, tc.obs, tc.deploy, tc.claim)
			got := func(condType string) string {
				for _, c := range st.Conditions {
					if c.Type == condType {
						if c.ObservedGeneration != 5 || c.Message == "" {
							t.Errorf("%s: observedGeneration %d, message %q", condType, c.ObservedGeneration, c.Message)
						}
						return string(c.Status) + "/" + c.Reason
					}
				}
				return "missing"
			}
			g := want{got(v1alpha1.ConditionReady), got(v1alpha1.ConditionProgressing), got(v1alpha1.ConditionDegraded)}
			if g != tc.want {
				t.Errorf("Ready, Progressing, Degraded = %v, want %v", g, tc.want)
			}
			if st.ObservedGeneration != 5 || st.URL != "http://pypi.python.svc:8080/simple/" {
				t.Errorf("observedGeneration %d url %q", st.ObservedGeneration, st.URL)
			}
		})
	}

	t.Run("unchanged conditions keep their transition time", func(t *testing.T) {
		idx := efsIndex("python", "pypi")
		first := statusFor(idx, observation{}, deployment(2, 2, 2, availableCond), claim(corev1.ClaimBound))
		for i := range first.Conditions {
			first.Conditions[i].LastTransitionTime = metav1.Unix(1, 0)
		}
		idx.Status = first
		second := statusFor(idx, observation{}, deployment(2, 2, 2, availableCond), claim(corev1.ClaimBound))
		for _, c := range second.Conditions {
			if !c.LastTransitionTime.Equal(new(metav1.Unix(1, 0))) {
				t.Errorf("%s transition time moved to %v", c.Type, c.LastTransitionTime)
			}
		}
	})
}
