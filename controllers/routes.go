package controllers

import (
	"maps"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// HTTPRouteGVK is the Gateway API's HTTPRoute; like the ServiceMonitor it
// is built as unstructured, so the operator runs where the CRD is absent.
var HTTPRouteGVK = schema.GroupVersionKind{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"}

// nginxBodySize is the ingress-nginx annotation bounding a request body.
const nginxBodySize = "nginx.ingress.kubernetes.io/proxy-body-size"

// defaultMaxUpload is the server's --max-upload-size default, which an
// unset server.maxUploadSize leaves in force.
const defaultMaxUpload = 100 << 20

// formOverhead is room in a request body for an upload's form fields
// besides the file: the metadata and a long description.
const formOverhead = 1 << 20

// routePaths are the paths of a host: the ones given, or the server's
// base path.
func routePaths(idx *v1alpha1.PackageIndex, given []string) []string {
	if len(given) > 0 {
		return given
	}
	if p := basePath(idx); p != "" {
		return []string{p}
	}
	return []string{"/"}
}

// ingressAnnotations are the spec's annotations over the ones the operator
// derives: with nginx, a body limit that lets the largest upload the
// server accepts through.
func ingressAnnotations(idx *v1alpha1.PackageIndex) map[string]string {
	in := idx.Spec.Ingress
	out := map[string]string{}
	if c := in.ClassName; c != nil && (*c == "nginx" || strings.HasPrefix(*c, "nginx-")) {
		limit := int64(defaultMaxUpload)
		if m := idx.Spec.Server.MaxUploadSize; m != nil {
			limit = m.Value()
		}
		out[nginxBodySize] = strconv.FormatInt(limit+formOverhead, 10)
	}
	maps.Copy(out, in.Annotations)
	if len(out) == 0 {
		return nil
	}
	return out
}

// ingressFor builds the Ingress of idx, or nil when none is asked for.
func ingressFor(idx *v1alpha1.PackageIndex) *networkingv1.Ingress {
	in := idx.Spec.Ingress
	if in == nil {
		return nil
	}
	hosts := in.Hosts
	if in.Host != "" {
		hosts = []v1alpha1.IngressHost{{Host: in.Host, TLSSecretName: in.TLSSecretName}}
	}
	backend := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: idx.Name,
		Port: networkingv1.ServiceBackendPort{Name: portName},
	}}
	ing := &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: withAnnotations(objectMeta(idx), ingressAnnotations(idx)),
		Spec:       networkingv1.IngressSpec{IngressClassName: in.ClassName},
	}
	for _, h := range hosts {
		var paths []networkingv1.HTTPIngressPath
		for _, p := range routePaths(idx, h.Paths) {
			paths = append(paths, networkingv1.HTTPIngressPath{Path: p, PathType: new(networkingv1.PathTypePrefix), Backend: backend})
		}
		ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{
			Host:             h.Host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}},
		})
		if h.TLSSecretName != "" {
			ing.Spec.TLS = append(ing.Spec.TLS, networkingv1.IngressTLS{Hosts: []string{h.Host}, SecretName: h.TLSSecretName})
		}
	}
	return ing
}

// httpRouteFor builds the HTTPRoute of idx, or nil when none is asked for.
func httpRouteFor(idx *v1alpha1.PackageIndex) *unstructured.Unstructured {
	hr := idx.Spec.HTTPRoute
	if hr == nil {
		return nil
	}
	parents := make([]any, 0, len(hr.ParentRefs))
	for _, p := range hr.ParentRefs {
		ref := map[string]any{"name": p.Name}
		for key, v := range map[string]*string{"group": p.Group, "kind": p.Kind, "namespace": p.Namespace, "sectionName": p.SectionName} {
			if v != nil {
				ref[key] = *v
			}
		}
		parents = append(parents, ref)
	}
	spec := map[string]any{"parentRefs": parents}
	if len(hr.Hostnames) > 0 {
		names := make([]any, 0, len(hr.Hostnames))
		for _, h := range hr.Hostnames {
			names = append(names, h)
		}
		spec["hostnames"] = names
	}
	spec["rules"] = []any{map[string]any{
		"matches": []any{map[string]any{
			"path": map[string]any{"type": "PathPrefix", "value": routePaths(idx, nil)[0]},
		}},
		"backendRefs": []any{map[string]any{
			"name": idx.Name,
			"port": int64(servicePort(idx)),
		}},
	}}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(HTTPRouteGVK)
	u.SetName(idx.Name)
	u.SetNamespace(idx.Namespace)
	u.SetLabels(commonLabels(idx))
	if len(hr.Annotations) > 0 {
		u.SetAnnotations(hr.Annotations)
	}
	return u
}
