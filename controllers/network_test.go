package controllers

import (
	"slices"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// The pods' egress is limited to DNS and the TCP ports of what the server
// fetches from, unless the policy needs the API server or the spec says
// to leave it open.
func TestNetworkPolicyEgress(t *testing.T) {
	upstream := &v1alpha1.UpstreamSpec{URLs: []string{"https://pypi.org/simple/", "http://mirror:8081/simple/", "https://files.example/simple/"}}
	grantTo := func(g v1alpha1.PolicyGrant) *v1alpha1.PolicySpec {
		g.Projects, g.Rights = []string{"*"}, []v1alpha1.PolicyRight{"upload"}
		return &v1alpha1.PolicySpec{Grants: []v1alpha1.PolicyGrant{g}}
	}
	publisher := func(p v1alpha1.PolicyPublisher) *v1alpha1.PolicySpec {
		p.Name, p.Claims = "ci", map[string]string{"repository": "acme/lib"}
		pol := grantTo(v1alpha1.PolicyGrant{Publishers: []string{"ci"}})
		pol.Publishers = []v1alpha1.PolicyPublisher{p}
		return pol
	}
	cases := []struct {
		name     string
		egress   v1alpha1.EgressMode
		upstream *v1alpha1.UpstreamSpec
		policy   *v1alpha1.PolicySpec
		// ports are the TCP ports opened besides DNS; nil with open for
		// no egress rules at all.
		ports []int32
		open  bool
	}{
		{name: "nothing fetched: DNS only", ports: []int32{}},
		{name: "upstreams' ports", upstream: upstream, ports: []int32{443, 8081}},
		{name: "restricted said", egress: v1alpha1.EgressRestricted, upstream: upstream, ports: []int32{443, 8081}},
		{name: "unrestricted", egress: v1alpha1.EgressUnrestricted, upstream: upstream, open: true},
		{name: "token reviews need the API server", upstream: upstream,
			policy: grantTo(v1alpha1.PolicyGrant{ServiceAccounts: []string{"ci/builder"}}), open: true},
		{name: "namespaces need it too", policy: grantTo(v1alpha1.PolicyGrant{Namespaces: []string{"ci"}}), open: true},
		{name: "htpasswd users need nothing", policy: grantTo(v1alpha1.PolicyGrant{Users: []string{"alice"}}), ports: []int32{}},
		{name: "issuer discovery", policy: publisher(v1alpha1.PolicyPublisher{Issuer: "https://gitlab.example:8443"}), ports: []int32{8443, 443}},
		{name: "keys URL", upstream: upstream,
			policy: publisher(v1alpha1.PolicyPublisher{Issuer: "https://issuer", JWKSURL: "https://keys.example:9443/jwks"}), ports: []int32{443, 8081, 9443}},
		{name: "keys in a ConfigMap", policy: publisher(v1alpha1.PolicyPublisher{Issuer: "https://issuer",
			JWKSConfigMap: &v1alpha1.ConfigMapKey{Name: "keys"}}), ports: []int32{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idx := &v1alpha1.PackageIndex{Spec: v1alpha1.PackageIndexSpec{
				NetworkPolicy: &v1alpha1.NetworkPolicySpec{Egress: tc.egress},
				Upstream:      tc.upstream,
				Server:        v1alpha1.ServerSpec{Policy: tc.policy},
			}}
			np := networkPolicyFor(idx)
			restricts := slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
			if restricts == tc.open {
				t.Fatalf("policy types %v, want egress restricted: %v", np.Spec.PolicyTypes, !tc.open)
			}
			if tc.open {
				if len(np.Spec.Egress) > 0 {
					t.Errorf("egress rules %v with egress open", np.Spec.Egress)
				}
				return
			}
			rules := np.Spec.Egress
			if len(rules) == 0 || len(rules[0].To) > 0 || !slices.ContainsFunc(rules[0].Ports, func(p networkingv1.NetworkPolicyPort) bool {
				return p.Port.IntVal == 53 && string(*p.Protocol) == "UDP"
			}) {
				t.Fatalf("first rule %v, want DNS to anywhere", rules)
			}
			got := []int32{}
			for _, r := range rules[1:] {
				if len(r.To) > 0 {
					t.Errorf("rule %v names destinations; host names cannot be", r)
				}
				for _, p := range r.Ports {
					if string(*p.Protocol) != "TCP" {
						t.Errorf("port %v not TCP", p)
					}
					got = append(got, p.Port.IntVal)
				}
			}
			if !slices.Equal(got, tc.ports) {
				t.Errorf("TCP ports %v, want %v", got, tc.ports)
			}
		})
	}
}
