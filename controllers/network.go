package controllers

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// ServiceMonitorGVK is the Prometheus Operator's ServiceMonitor; it is
// built as unstructured so the operator does not depend on its Go types
// and runs where the CRD is absent.
var ServiceMonitorGVK = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}

// serviceFor builds the Service in front of the server pods.
func serviceFor(idx *v1alpha1.PackageIndex) *corev1.Service {
	svcType := idx.Spec.Service.Type
	if svcType == "" {
		svcType = corev1.ServiceTypeClusterIP
	}
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: withAnnotations(objectMeta(idx), idx.Spec.Service.Annotations),
		Spec: corev1.ServiceSpec{
			Type:     svcType,
			Selector: selectorLabels(idx),
			Ports: []corev1.ServicePort{{
				Name:       portName,
				Port:       servicePort(idx),
				TargetPort: intstr.FromString(portName),
				Protocol:   corev1.ProtocolTCP,
			}},
		},
	}
}

// networkPolicyFor builds a policy admitting only the server port, only
// from the selected namespaces, and, unless egress must stay open, letting
// the pods connect only to what they need; nil when none is asked for.
func networkPolicyFor(idx *v1alpha1.PackageIndex) *networkingv1.NetworkPolicy {
	np := idx.Spec.NetworkPolicy
	if np == nil {
		return nil
	}
	// Without a namespace selector, a peer with only a pod selector means
	// "pods of this namespace".
	peer := networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}}
	if np.FromNamespaces != nil {
		peer = networkingv1.NetworkPolicyPeer{NamespaceSelector: np.FromNamespaces}
	}
	policy := &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: objectMeta(idx),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: selectorLabels(idx)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				// A policy sees pod ports, not Service ports.
				Ports: []networkingv1.NetworkPolicyPort{tcpPort(serverPort)},
				From:  []networkingv1.NetworkPolicyPeer{peer},
			}},
		},
	}
	if restrictsEgress(idx) {
		policy.Spec.PolicyTypes = append(policy.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		policy.Spec.Egress = egressRules(idx)
	}
	return policy
}

// restrictsEgress reports whether the NetworkPolicy limits the pods'
// connections. It does not when the policy grants to service accounts:
// the pods then create TokenReviews, and the API server's address and
// port as a pod's packets carry them (after the Service's translation)
// differ from cluster to cluster, so any rule for it would be a guess
// that breaks uploads where it is wrong.
func restrictsEgress(idx *v1alpha1.PackageIndex) bool {
	np := idx.Spec.NetworkPolicy
	return np != nil && np.Egress != v1alpha1.EgressUnrestricted && !reviewsTokens(idx)
}

// egressRules allow DNS anywhere, and the TCP ports of the upstreams and
// of the OIDC issuers whose keys are fetched to any address: a
// NetworkPolicy knows addresses, not host names, and an upstream's
// addresses (a CDN's) change.
func egressRules(idx *v1alpha1.PackageIndex) []networkingv1.NetworkPolicyEgressRule {
	rules := []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{
		{Protocol: new(corev1.ProtocolUDP), Port: new(intstr.FromInt32(53))},
		tcpPort(53),
	}}}
	var ports []networkingv1.NetworkPolicyPort
	for _, p := range egressPorts(idx) {
		ports = append(ports, tcpPort(p))
	}
	if len(ports) > 0 {
		rules = append(rules, networkingv1.NetworkPolicyEgressRule{Ports: ports})
	}
	return rules
}

// egressPorts are the TCP ports the server connects to, each once: the
// upstreams', and for each OIDC publisher whose keys are not in a
// ConfigMap, its keys URL's or else its issuer's, and 443 for the keys
// URL the issuer's discovery document names.
func egressPorts(idx *v1alpha1.PackageIndex) []int32 {
	ports := upstreamPorts(idx)
	add := func(p int32) {
		if p != 0 && !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	if p := idx.Spec.Server.Policy; p != nil {
		for _, pub := range p.Publishers {
			switch {
			case pub.JWKSConfigMap != nil:
			case pub.JWKSURL != "":
				add(urlPort(pub.JWKSURL))
			default:
				add(urlPort(pub.Issuer))
				add(443)
			}
		}
	}
	return ports
}

// tcpPort is a NetworkPolicy port of TCP.
func tcpPort(p int32) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: new(corev1.ProtocolTCP), Port: new(intstr.FromInt32(p))}
}

// serviceMonitorFor builds the ServiceMonitor scraping /metrics, or nil
// when none is asked for.
func serviceMonitorFor(idx *v1alpha1.PackageIndex) *unstructured.Unstructured {
	sm := idx.Spec.ServiceMonitor
	if sm == nil {
		return nil
	}
	interval := sm.Interval
	if interval == "" {
		interval = "30s"
	}
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ServiceMonitorGVK)
	u.SetName(idx.Name)
	u.SetNamespace(idx.Namespace)
	u.SetLabels(mergeLabels(commonLabels(idx), sm.Labels))
	matchLabels := map[string]any{}
	for k, v := range selectorLabels(idx) {
		matchLabels[k] = v
	}
	u.Object["spec"] = map[string]any{
		"selector": map[string]any{"matchLabels": matchLabels},
		"endpoints": []any{map[string]any{
			"port":     portName,
			"path":     basePath(idx) + "/metrics",
			"interval": interval,
		}},
	}
	return u
}
