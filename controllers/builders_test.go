package controllers

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/")

// crdSchema is the structural schema of the generated CRD, so builder
// tests see a PackageIndex with the defaults the API server would fill in.
func crdSchema(t *testing.T) *structuralschema.Structural {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "config", "crd", "bases", "index.pkgindex.dev_packageindices.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
		t.Fatalf("reading the CRD: %v", err)
	}
	var props apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(
		crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &props, nil); err != nil {
		t.Fatalf("converting the schema: %v", err)
	}
	s, err := structuralschema.NewStructural(&props)
	if err != nil {
		t.Fatalf("structural schema: %v", err)
	}
	return s
}

// defaulted returns idx with the CRD's schema defaults applied.
func defaulted(t *testing.T, s *structuralschema.Structural, idx *v1alpha1.PackageIndex) *v1alpha1.PackageIndex {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(idx)
	if err != nil {
		t.Fatal(err)
	}
	defaulting.Default(u, s)
	out := &v1alpha1.PackageIndex{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// goldenCases are PackageIndexes that between them set every spec field
// that changes a built object.
func goldenCases() map[string]*v1alpha1.PackageIndex {
	meta := metav1.ObjectMeta{Name: "pypi", Namespace: "python"}
	return map[string]*v1alpha1.PackageIndex{
		// Only what is required; everything else from the schema defaults.
		"efs-defaults": {ObjectMeta: meta, Spec: v1alpha1.PackageIndexSpec{
			Storage: v1alpha1.StorageSpec{EFS: &v1alpha1.EFSStorage{FileSystemID: "fs-0123456789abcdef0"}},
		}},
		"efs-access-point": {ObjectMeta: meta, Spec: v1alpha1.PackageIndexSpec{
			Replicas: new(int32(1)),
			Storage: v1alpha1.StorageSpec{
				EFS: &v1alpha1.EFSStorage{
					FileSystemID:     "fs-0123456789abcdef0",
					AccessPointID:    "fsap-0123456789abcdef0",
					Path:             "/python",
					EncryptInTransit: new(false),
				},
				MountOptions:  []string{"nfsvers=4.1", "hard", "lookupcache=positive"},
				ReclaimPolicy: v1alpha1.ReclaimDelete,
			},
			RunAs: v1alpha1.RunAsSpec{User: new(int64(1001)), Group: new(int64(1001))},
			// Only this namespace may connect.
			NetworkPolicy: &v1alpha1.NetworkPolicySpec{},
		}},
		"class-autoscaling": {ObjectMeta: meta, Spec: v1alpha1.PackageIndexSpec{
			Storage: v1alpha1.StorageSpec{
				StorageClassName: new("efs-dynamic"),
				Size:             new(resource.MustParse("100Gi")),
			},
			Autoscaling: &v1alpha1.AutoscalingSpec{
				MinReplicas:                       new(int32(3)),
				MaxReplicas:                       10,
				TargetCPUUtilizationPercentage:    new(int32(60)),
				TargetMemoryUtilizationPercentage: new(int32(80)),
				Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
					ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: new(int32(600))},
				},
			},
			PodDisruptionBudget: v1alpha1.PodDisruptionBudgetSpec{MaxUnavailable: new(intstr.FromString("50%"))},
			// Several hosts; nginx's body limit from the server's default.
			Ingress: &v1alpha1.IngressSpec{
				ClassName: new("nginx"),
				Hosts: []v1alpha1.IngressHost{
					{Host: "pypi.example.com", TLSSecretName: "pypi-tls"},
					{Host: "pypi.internal", Paths: []string{"/simple", "/packages"}},
				},
			},
			HTTPRoute: &v1alpha1.HTTPRouteSpec{
				ParentRefs: []v1alpha1.ParentReference{{Name: "shared", Namespace: new("gateways"), SectionName: new("https")}},
				Hostnames:  []string{"pypi.example.com"},
			},
		}},
		// A block volume for a single replica, running as an existing
		// account.
		"class-read-write-once": {ObjectMeta: meta, Spec: v1alpha1.PackageIndexSpec{
			Replicas: new(int32(1)),
			Storage: v1alpha1.StorageSpec{
				StorageClassName: new("gp3"),
				Size:             new(resource.MustParse("20Gi")),
				AccessMode:       new(corev1.ReadWriteOnce),
			},
			ServiceAccount: &v1alpha1.ServiceAccountSpec{Name: "pypi-reader"},
		}},
		// A pull-through cache of two upstreams, one user and password for
		// both from a Secret, behind a NetworkPolicy that opens their ports.
		"class-upstream": {ObjectMeta: meta, Spec: v1alpha1.PackageIndexSpec{
			Storage: v1alpha1.StorageSpec{
				StorageClassName: new("nfs"),
				Size:             new(resource.MustParse("200Gi")),
			},
			Upstream: &v1alpha1.UpstreamSpec{
				URLs:              []string{"https://pypi.org/simple/", "http://mirror.example:8081/simple/"},
				CredentialsSecret: &v1alpha1.UpstreamCredentials{Name: "pypi-upstream", PasswordKey: "token"},
				CABundle:          &v1alpha1.ConfigMapKeyRef{Name: "corp-ca", Key: "ca.pem"},
				TTL:               &metav1.Duration{Duration: 5 * time.Minute},
				Timeout:           &metav1.Duration{Duration: 20 * time.Second},
				Merge:             []string{"acme-numpy-patches"},
				Deny:              []string{"acme-internal"},
				CacheSize:         new(resource.MustParse("150Gi")),
				MaxPageSize:       new(resource.MustParse("32Mi")),
				MaxFetches:        new(int32(8)),
			},
			NetworkPolicy:  &v1alpha1.NetworkPolicySpec{FromNamespaces: &metav1.LabelSelector{}},
			ServiceMonitor: &v1alpha1.ServiceMonitorSpec{},
			PrometheusRule: &v1alpha1.PrometheusRuleSpec{},
		}},
		// The upstream's credentials as a file, one line per upstream.
		"efs-upstream-credentials-file": {ObjectMeta: meta, Spec: v1alpha1.PackageIndexSpec{
			Storage: v1alpha1.StorageSpec{EFS: &v1alpha1.EFSStorage{FileSystemID: "fs-0123456789abcdef0"}},
			Upstream: &v1alpha1.UpstreamSpec{
				URLs:              []string{"https://artifactory.example/api/pypi/pypi/simple/", "https://pypi.org/simple/"},
				CredentialsSecret: &v1alpha1.UpstreamCredentials{Name: "upstreams", FileKey: "credentials"},
			},
		}},
		// Every optional knob at once.
		"existing-claim-everything": {ObjectMeta: meta, Spec: v1alpha1.PackageIndexSpec{
			Image:            "registry.example/pkgindex:1.2.3",
			ImagePullPolicy:  corev1.PullAlways,
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}},
			Replicas:         new(int32(4)),
			Storage:          v1alpha1.StorageSpec{ExistingClaim: new("shared-packages")},
			Server: v1alpha1.ServerSpec{
				Auth: &v1alpha1.AuthSpec{
					SecretName: "pypi-users",
					Key:        "users",
					Actions:    []v1alpha1.AuthAction{v1alpha1.AuthUpdate, v1alpha1.AuthDownload},
				},
				Overwrite:     true,
				FallbackURL:   "https://pypi.org/simple",
				HashAlgorithm: "sha512",
				MaxUploadSize: new(resource.MustParse("100Mi")),
				CacheControl:  new(int32(3600)),
				LogFormat:     "text",
				LogLevel:      "debug",
				Policy: &v1alpha1.PolicySpec{
					Audience: "pypi.example.com",
					Grants: []v1alpha1.PolicyGrant{
						{Projects: []string{"*"}, Rights: []v1alpha1.PolicyRight{"list", "download"}, Anyone: true},
						{Projects: []string{"acme-*"}, Rights: []v1alpha1.PolicyRight{"upload", "yank"}, Users: []string{"alice"}, Namespaces: []string{"ci"}},
						{Projects: []string{"acme-lib"}, Rights: []v1alpha1.PolicyRight{"upload"}, ServiceAccounts: []string{"ci/builder"}, Publishers: []string{"acme-release"}},
					},
					Publishers: []v1alpha1.PolicyPublisher{{
						Name: "acme-release", Issuer: "https://token.actions.githubusercontent.com",
						JWKSURL: "https://token.actions.githubusercontent.com/.well-known/jwks",
						Claims:  map[string]string{"repository": "acme/lib", "ref": "refs/tags/*"},
					}, {
						Name: "tools-gitlab", Issuer: "https://gitlab.example.com",
						JWKSConfigMap: &v1alpha1.ConfigMapKey{Name: "gitlab-keys"},
						Claims:        map[string]string{"project_path": "platform/tools"},
					}},
				},
				Welcome:       &v1alpha1.ConfigMapKeyRef{Name: "pypi-pages", Key: "welcome.html"},
				ServerBaseURL: "/pypi",
				ExtraRoots:    []v1alpha1.ExtraRoot{{Name: "legacy", ClaimName: "old-pypiserver", SubPath: "packages"}},
				ExtraArgs:     []string{"--storage-timeout=30s"},
				Env: []corev1.EnvVar{{Name: "PKGINDEX_TRUST_PROXY", Value: "true"}, {Name: "GOMEMLIMIT",
					ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory"}}}},
			},
			Resources: &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")},
			},
			Service: v1alpha1.ServiceSpec{
				Type:        corev1.ServiceTypeLoadBalancer,
				Port:        new(int32(80)),
				Annotations: map[string]string{"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"},
			},
			PodDisruptionBudget: v1alpha1.PodDisruptionBudgetSpec{Enabled: new(false)},
			NodeSelector:        map[string]string{"kubernetes.io/arch": "arm64"},
			Tolerations:         []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "python", Effect: corev1.TaintEffectNoSchedule}},
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{"web"}}},
				}}},
			}},
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
				MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/instance": "pypi"}},
			}},
			PodAnnotations:    map[string]string{"prometheus.io/scrape": "true"},
			PodLabels:         map[string]string{"team": "python", "app.kubernetes.io/name": "ignored"},
			PriorityClassName: "important",
			Ingress: &v1alpha1.IngressSpec{
				ClassName:     new("nginx"),
				Host:          "pypi.example.com",
				TLSSecretName: "pypi-tls",
				Annotations:   map[string]string{"nginx.ingress.kubernetes.io/proxy-body-size": "100m"},
			},
			NetworkPolicy: &v1alpha1.NetworkPolicySpec{FromNamespaces: &metav1.LabelSelector{
				MatchLabels: map[string]string{"pkgindex-client": "true"},
			}},
			ServiceMonitor: &v1alpha1.ServiceMonitorSpec{Labels: map[string]string{"release": "prometheus"}},
			PrometheusRule: &v1alpha1.PrometheusRuleSpec{
				Labels:      map[string]string{"release": "prometheus"},
				AlertLabels: map[string]string{"team": "python"},
			},
			ServiceAccount: &v1alpha1.ServiceAccountSpec{
				Create:         true,
				Annotations:    map[string]string{"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/pypi"},
				AutomountToken: true,
			},
		}},
	}
}

// render is every object built for idx, as YAML documents in apply order.
func render(t *testing.T, idx *v1alpha1.PackageIndex) []byte {
	t.Helper()
	var objs []runtime.Object
	if pv := volumeFor(idx); pv != nil {
		objs = append(objs, pv)
	}
	if pvc := claimFor(idx); pvc != nil {
		objs = append(objs, pvc)
	}
	for _, c := range children {
		if o := c.build(idx, Options{Image: testImage}); o != nil {
			objs = append(objs, o)
		}
	}
	if hr := httpRouteFor(idx); hr != nil {
		objs = append(objs, hr)
	}
	if sm := serviceMonitorFor(idx); sm != nil {
		objs = append(objs, sm)
	}
	if b := tokenReviewBindingFor(idx); b != nil {
		objs = append(objs, b)
	}
	if pr := prometheusRuleFor(idx); pr != nil {
		objs = append(objs, pr)
	}
	var buf bytes.Buffer
	for _, o := range objs {
		// The apply body, exactly as the API server receives it.
		u, err := toApplyConfiguration(o)
		if err != nil {
			t.Fatal(err)
		}
		out, err := yaml.Marshal(u.Object)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(out)
	}
	return buf.Bytes()
}

func TestBuildersGolden(t *testing.T) {
	s := crdSchema(t)
	for name, idx := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			got := render(t, defaulted(t, s, idx))
			path := filepath.Join("testdata", name+".yaml")
			if *updateGolden {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./controllers -run TestBuildersGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("objects for %s differ from %s (rerun with -update and review the diff):\n%s", name, path, lineDiff(string(want), string(got)))
			}
		})
	}
}

// lineDiff lists the lines only in want (-) or only in got (+), enough
// to see what changed without a diff library.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

func TestEFSVolumeHandle(t *testing.T) {
	cases := []struct {
		name string
		efs  v1alpha1.EFSStorage
		want string
	}{
		{"file system", v1alpha1.EFSStorage{FileSystemID: "fs-1"}, "fs-1"},
		{"path", v1alpha1.EFSStorage{FileSystemID: "fs-1", Path: "/a/b"}, "fs-1:/a/b"},
		{"access point", v1alpha1.EFSStorage{FileSystemID: "fs-1", AccessPointID: "fsap-2"}, "fs-1::fsap-2"},
		{"path and access point", v1alpha1.EFSStorage{FileSystemID: "fs-1", Path: "/a", AccessPointID: "fsap-2"}, "fs-1:/a:fsap-2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := efsVolumeHandle(&tc.efs); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConfigHash(t *testing.T) {
	base := func() *v1alpha1.PackageIndex {
		idx := goldenCases()["efs-defaults"]
		idx.Spec.Server.Auth = &v1alpha1.AuthSpec{SecretName: "users"}
		return idx
	}
	want := configHash(base())
	cases := []struct {
		name   string
		change func(*v1alpha1.PackageIndex)
		rolls  bool
	}{
		{"server flag", func(i *v1alpha1.PackageIndex) { i.Spec.Server.Overwrite = true }, true},
		{"auth secret", func(i *v1alpha1.PackageIndex) { i.Spec.Server.Auth.SecretName = "others" }, true},
		{"auth actions", func(i *v1alpha1.PackageIndex) { i.Spec.Server.Auth.Actions = []v1alpha1.AuthAction{"list"} }, true},
		{"replicas", func(i *v1alpha1.PackageIndex) { i.Spec.Replicas = new(int32(7)) }, false},
		{"service", func(i *v1alpha1.PackageIndex) { i.Spec.Service.Port = new(int32(81)) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idx := base()
			tc.change(idx)
			if got := configHash(idx) != want; got != tc.rolls {
				t.Errorf("hash changed: %v, want %v", got, tc.rolls)
			}
		})
	}
}

func TestDisruptionBudgetOnlyWithSeveralReplicas(t *testing.T) {
	cases := []struct {
		name string
		spec v1alpha1.PackageIndexSpec
		want bool
	}{
		{"default two", v1alpha1.PackageIndexSpec{}, true},
		{"one replica", v1alpha1.PackageIndexSpec{Replicas: new(int32(1))}, false},
		{"disabled", v1alpha1.PackageIndexSpec{PodDisruptionBudget: v1alpha1.PodDisruptionBudgetSpec{Enabled: new(false)}}, false},
		{"autoscaling floor one", v1alpha1.PackageIndexSpec{Autoscaling: &v1alpha1.AutoscalingSpec{MinReplicas: new(int32(1)), MaxReplicas: 5}}, false},
		{"autoscaling floor three", v1alpha1.PackageIndexSpec{Replicas: new(int32(1)), Autoscaling: &v1alpha1.AutoscalingSpec{MinReplicas: new(int32(3)), MaxReplicas: 5}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idx := &v1alpha1.PackageIndex{Spec: tc.spec}
			if got := disruptionBudgetFor(idx) != nil; got != tc.want {
				t.Errorf("budget built: %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOwnsReplicas(t *testing.T) {
	entry := func(manager string, op metav1.ManagedFieldsOperationType, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, FieldsV1: metav1.NewFieldsV1(fields)}
	}
	cases := []struct {
		name   string
		fields []metav1.ManagedFieldsEntry
		want   bool
	}{
		{"ours", []metav1.ManagedFieldsEntry{entry(FieldOwner, metav1.ManagedFieldsOperationApply, `{"f:spec":{"f:replicas":{}}}`)}, true},
		{"ours without replicas", []metav1.ManagedFieldsEntry{entry(FieldOwner, metav1.ManagedFieldsOperationApply, `{"f:spec":{"f:template":{}}}`)}, false},
		{"autoscaler's", []metav1.ManagedFieldsEntry{entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:replicas":{}}}`)}, false},
		{"none", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ownsReplicas(tc.fields); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIngressBodyLimit(t *testing.T) {
	cases := []struct {
		name    string
		ingress v1alpha1.IngressSpec
		upload  string // server.maxUploadSize, "" for unset
		want    string // the nginx annotation, "" for none
	}{
		{"nginx, server default", v1alpha1.IngressSpec{ClassName: new("nginx")}, "", "105906176"},
		{"nginx, own size", v1alpha1.IngressSpec{ClassName: new("nginx-internal")}, "1Gi", "1074790400"},
		{"annotation given", v1alpha1.IngressSpec{ClassName: new("nginx"), Annotations: map[string]string{nginxBodySize: "0"}}, "1Gi", "0"},
		{"another class", v1alpha1.IngressSpec{ClassName: new("traefik")}, "1Gi", ""},
		{"no class", v1alpha1.IngressSpec{}, "1Gi", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idx := &v1alpha1.PackageIndex{Spec: v1alpha1.PackageIndexSpec{Ingress: &tc.ingress}}
			idx.Spec.Ingress.Host = "pypi.example.com"
			if tc.upload != "" {
				idx.Spec.Server.MaxUploadSize = new(resource.MustParse(tc.upload))
			}
			if got := ingressFor(idx).Annotations[nginxBodySize]; got != tc.want {
				t.Errorf("%s = %q, want %q", nginxBodySize, got, tc.want)
			}
		})
	}
}
