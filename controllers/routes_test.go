package controllers

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// gatewayCRD is the HTTPRoute CRD the Gateway API module ships, so the
// route the operator builds meets the real schema and its validation.
func gatewayCRD(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Fatalf("finding the sigs.k8s.io/gateway-api module: %v", err)
	}
	return filepath.Join(dir, "config", "crd", "standard", "gateway.networking.k8s.io_httproutes.yaml")
}

// An HTTPRoute asked for where the Gateway API is not installed is
// reported, not created; once the CRD is there the route is.
func TestHTTPRouteOnlyWithItsCRD(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	idx.Spec.Server.ServerBaseURL = "/pypi"
	idx.Spec.HTTPRoute = &v1alpha1.HTTPRouteSpec{
		ParentRefs: []v1alpha1.ParentReference{{Name: "shared", Namespace: new("gateways")}},
		Hostnames:  []string{"pypi.example.com"},
	}
	createWithDeployment(t, idx)
	got := condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonHTTPRouteSkipped)
	if msg := findCondition(got, v1alpha1.ConditionDegraded).Message; !strings.Contains(msg, "HTTPRoute CRD") {
		t.Errorf("message %q", msg)
	}

	if err := env.InstallCRDs(gatewayCRD(t)); err != nil {
		t.Fatal(err)
	}
	update(t, idx, func(i *v1alpha1.PackageIndex) {
		i.Spec.HTTPRoute.Hostnames = []string{"pypi.example.com", "pypi.internal"}
	})
	condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(HTTPRouteGVK)
	named(u, ns, "pypi")
	var route gatewayv1.HTTPRoute
	eventually(t, "HTTPRoute", func() error {
		if err := get(u); err != nil {
			return err
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &route); err != nil {
			return err
		}
		if len(route.Spec.Hostnames) != 2 {
			return fmt.Errorf("hostnames %v", route.Spec.Hostnames)
		}
		return nil
	})
	r := route.Spec.Rules
	if len(r) != 1 || len(r[0].BackendRefs) != 1 || string(r[0].BackendRefs[0].Name) != "pypi" ||
		*r[0].BackendRefs[0].Port != 8080 || *r[0].Matches[0].Path.Value != "/pypi" {
		t.Errorf("rules %+v", r)
	}
	if p := route.Spec.ParentRefs; len(p) != 1 || p[0].Name != "shared" || *p[0].Namespace != "gateways" {
		t.Errorf("parentRefs %+v", p)
	}

	update(t, idx, func(i *v1alpha1.PackageIndex) { i.Spec.HTTPRoute = nil })
	waitGone(t, u)
}
