package controllers

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// applyResult says what an apply did to the object.
type applyResult int

const (
	unchanged applyResult = iota
	created
	updated
)

// String is the verb used in events.
func (a applyResult) String() string {
	switch a {
	case created:
		return "Created"
	case updated:
		return "Updated"
	}
	return "Unchanged"
}

// toApplyConfiguration turns a built object into an apply request body.
// Builders produce typed objects, which are easy to read and test; their
// JSON form has nulls for unset non-pointer fields (creationTimestamp and
// the like), which are dropped so the operator only claims fields it set.
func toApplyConfiguration(obj runtime.Object) (*unstructured.Unstructured, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if ok {
		return u.DeepCopy(), nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %T: %w", obj, err)
	}
	delete(m, "status")
	dropNulls(m)
	return &unstructured.Unstructured{Object: m}, nil
}

// dropNulls removes null values from a JSON object tree in place.
func dropNulls(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNulls(v)
		case []any:
			for _, e := range v {
				if em, ok := e.(map[string]any); ok {
					dropNulls(em)
				}
			}
		}
	}
}

// apply server-side applies obj under FieldOwner, taking over fields that
// a person changed by hand, and reports whether anything changed. before
// is the resource version seen before ("" when the object did not exist);
// an apply that changes nothing keeps the resource version and writes
// nothing to etcd.
func (r *PackageIndexReconciler) apply(ctx context.Context, obj client.Object, before string) (applyResult, error) {
	u, err := toApplyConfiguration(obj)
	if err != nil {
		return unchanged, err
	}
	gvk := u.GroupVersionKind()
	err = r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(FieldOwner), client.ForceOwnership)
	if err != nil {
		return unchanged, fmt.Errorf("applying %s %s: %w", gvk.Kind, objectKey(obj), err)
	}
	switch {
	case u.GetResourceVersion() == before:
		return unchanged, nil
	case before == "":
		return created, nil
	}
	return updated, nil
}

// objectKey is namespace/name, or name for a cluster-scoped object.
func objectKey(obj metav1.Object) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}
