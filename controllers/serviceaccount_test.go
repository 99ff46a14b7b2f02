package controllers

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// The account the operator creates carries the annotations and goes when
// no longer wanted; an account of that name it did not create is never
// taken over.
func TestServiceAccount(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	role := map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/pypi"}
	idx.Spec.ServiceAccount = &v1alpha1.ServiceAccountSpec{Create: true, Annotations: role}
	deploy := createWithDeployment(t, idx)
	sa := named(&corev1.ServiceAccount{}, ns, "pypi")
	eventually(t, "ServiceAccount", func() error { return get(sa) })
	if sa.Annotations["eks.amazonaws.com/role-arn"] != role["eks.amazonaws.com/role-arn"] || sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Errorf("annotations %v, automount %v", sa.Annotations, sa.AutomountServiceAccountToken)
	}
	pod := deploy.Spec.Template.Spec
	if pod.ServiceAccountName != "pypi" || pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("pods run as %q with automount %v", pod.ServiceAccountName, pod.AutomountServiceAccountToken)
	}

	update(t, idx, func(i *v1alpha1.PackageIndex) { i.Spec.ServiceAccount = &v1alpha1.ServiceAccountSpec{Name: "shared"} })
	waitGone(t, sa)
	eventually(t, "pods on the existing account", func() error {
		d := named(&appsv1.Deployment{}, ns, "pypi")
		if err := get(d); err != nil {
			return err
		}
		if got := d.Spec.Template.Spec.ServiceAccountName; got != "shared" {
			return fmt.Errorf("account %q", got)
		}
		return nil
	})

	other := efsIndex(ns, "taken")
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "taken", Namespace: ns}})
	other.Spec.ServiceAccount = &v1alpha1.ServiceAccountSpec{Create: true}
	create(t, other)
	got := condition(t, other, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonApplyFailed)
	if msg := findCondition(got, v1alpha1.ConditionDegraded).Message; !strings.Contains(msg, "was not created for this PackageIndex") {
		t.Errorf("message %q", msg)
	}
	theirs := named(&corev1.ServiceAccount{}, ns, "taken")
	if err := get(theirs); err != nil || len(theirs.OwnerReferences) != 0 {
		t.Errorf("their account: %v, owners %v", err, theirs.OwnerReferences)
	}
}
