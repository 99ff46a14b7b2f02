package controllers

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// named returns an empty obj with name and namespace set, for get.
func named[T client.Object](obj T, ns, name string) T {
	obj.SetNamespace(ns)
	obj.SetName(name)
	return obj
}

func TestCreateBuildsEveryObject(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	idx.Spec.Storage.EFS.AccessPointID = "fsap-0123456789abcdef0"
	idx.Spec.Ingress = &v1alpha1.IngressSpec{Host: "pypi.example.com", TLSSecretName: "pypi-tls"}
	idx.Spec.NetworkPolicy = &v1alpha1.NetworkPolicySpec{}
	idx.Spec.Upstream = &v1alpha1.UpstreamSpec{URLs: []string{"https://pypi.org/simple/"}}
	create(t, idx)

	deploy := named(&appsv1.Deployment{}, ns, "pypi")
	eventually(t, "Deployment", func() error { return get(deploy) })
	c := deploy.Spec.Template.Spec.Containers[0]
	if c.Image != testImage {
		t.Errorf("image %q, want the operator's %q", c.Image, testImage)
	}
	wantArgs := []string{"serve", "--root=/data", "--listen=:8080", "--hash-algo=sha256", "--log-format=json", "--log-level=info", "--layout=per-project", "--upstream=https://pypi.org/simple/"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args %q, want %q", c.Args, wantArgs)
	}
	if r := deploy.Spec.Replicas; r == nil || *r != 2 {
		t.Errorf("replicas %v, want the default 2", r)
	}
	if !metav1.IsControlledBy(deploy, getIndex(t, idx)) {
		t.Errorf("Deployment not controlled by the PackageIndex: %v", deploy.OwnerReferences)
	}
	if got := deploy.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName; got != "pypi-packages" {
		t.Errorf("claim %q", got)
	}

	pv := named(&corev1.PersistentVolume{}, "", "pkgindex-"+ns+"-pypi")
	eventually(t, "PersistentVolume", func() error { return get(pv) })
	if got, want := pv.Spec.CSI.VolumeHandle, "fs-0123456789abcdef0::fsap-0123456789abcdef0"; got != want {
		t.Errorf("volumeHandle %q, want %q", got, want)
	}
	if got := pv.Spec.CSI.VolumeAttributes["encryptInTransit"]; got != "true" {
		t.Errorf("encryptInTransit %q, want the default true", got)
	}
	if !slices.Equal(pv.Spec.MountOptions, DefaultMountOptions()) {
		t.Errorf("mountOptions %q", pv.Spec.MountOptions)
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
		t.Errorf("PV reclaim policy %s: the operator must never let data be deleted", pv.Spec.PersistentVolumeReclaimPolicy)
	}

	pvc := named(&corev1.PersistentVolumeClaim{}, ns, "pypi-packages")
	eventually(t, "PersistentVolumeClaim", func() error { return get(pvc) })
	if pvc.Spec.VolumeName != pv.Name || pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != "" {
		t.Errorf("claim not pinned to the volume: volumeName %q class %v", pvc.Spec.VolumeName, pvc.Spec.StorageClassName)
	}

	svc := named(&corev1.Service{}, ns, "pypi")
	pdb := named(&policyv1.PodDisruptionBudget{}, ns, "pypi")
	ing := named(&networkingv1.Ingress{}, ns, "pypi")
	np := named(&networkingv1.NetworkPolicy{}, ns, "pypi")
	for _, obj := range []client.Object{svc, pdb, ing, np} {
		eventually(t, fmt.Sprintf("%T", obj), func() error { return get(obj) })
	}
	// The API server took the egress rules: DNS, then the upstream's port.
	if e := np.Spec.Egress; len(e) != 2 || len(e[1].Ports) != 1 || e[1].Ports[0].Port.IntVal != 443 {
		t.Errorf("NetworkPolicy egress %+v, want DNS and port 443", e)
	}
	if err := get(named(&autoscalingv2.HorizontalPodAutoscaler{}, ns, "pypi")); !apierrors.IsNotFound(err) {
		t.Errorf("HPA without autoscaling: %v", err)
	}

	got := condition(t, idx, v1alpha1.ConditionProgressing, metav1.ConditionTrue, v1alpha1.ReasonClaimPending)
	if want := "http://pypi." + ns + ".svc:8080/simple/"; got.Status.URL != want {
		t.Errorf("url %q, want %q", got.Status.URL, want)
	}
	if got.Status.Storage != "efs:fs-0123456789abcdef0" {
		t.Errorf("storage %q", got.Status.Storage)
	}
	if !slices.Contains(got.Finalizers, Finalizer) {
		t.Errorf("finalizers %q", got.Finalizers)
	}
}

// createWithDeployment creates idx and waits for its Deployment.
func createWithDeployment(t *testing.T, idx *v1alpha1.PackageIndex) *appsv1.Deployment {
	t.Helper()
	create(t, idx)
	deploy := named(&appsv1.Deployment{}, idx.Namespace, idx.Name)
	eventually(t, "Deployment", func() error { return get(deploy) })
	return deploy
}

// waitReplicas waits until deploy asks for n replicas.
func waitReplicas(t *testing.T, deploy *appsv1.Deployment, n int32) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d replicas", n), func() error {
		if err := get(deploy); err != nil {
			return err
		}
		if *deploy.Spec.Replicas != n {
			return fmt.Errorf("replicas %d", *deploy.Spec.Replicas)
		}
		return nil
	})
}

// waitGone waits until obj no longer exists.
func waitGone(t *testing.T, obj client.Object) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s gone", obj, objectKey(obj)), func() error {
		if err := get(obj); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there: %v", err)
		}
		return nil
	})
}

// getIndex reads idx as stored.
func getIndex(t *testing.T, idx *v1alpha1.PackageIndex) *v1alpha1.PackageIndex {
	t.Helper()
	cur := named(&v1alpha1.PackageIndex{}, idx.Namespace, idx.Name)
	if err := get(cur); err != nil {
		t.Fatalf("reading %s: %v", objectKey(idx), err)
	}
	return cur
}

func TestSpecChangeUpdatesObjects(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	deploy := createWithDeployment(t, idx)
	hash := deploy.Spec.Template.Annotations[AnnotationConfigHash]

	update(t, idx, func(i *v1alpha1.PackageIndex) {
		i.Spec.Server.HashAlgorithm = "sha512"
		i.Spec.Server.FallbackURL = "https://pypi.org/simple"
		i.Spec.Service.Port = new(int32(80))
		i.Spec.Replicas = new(int32(3))
		i.Spec.Storage.MountOptions = []string{"nfsvers=4.1", "lookupcache=positive"}
	})
	eventually(t, "Deployment updated", func() error {
		if err := get(deploy); err != nil {
			return err
		}
		args := deploy.Spec.Template.Spec.Containers[0].Args
		if !slices.Contains(args, "--hash-algo=sha512") || !slices.Contains(args, "--fallback-url=https://pypi.org/simple") {
			return fmt.Errorf("args %q", args)
		}
		if *deploy.Spec.Replicas != 3 {
			return fmt.Errorf("replicas %d", *deploy.Spec.Replicas)
		}
		if deploy.Spec.Template.Annotations[AnnotationConfigHash] == hash {
			return errors.New("config hash unchanged, pods would not roll")
		}
		return nil
	})
	eventually(t, "Service port", func() error {
		svc := named(&corev1.Service{}, ns, "pypi")
		if err := get(svc); err != nil {
			return err
		}
		if p := svc.Spec.Ports[0].Port; p != 80 {
			return fmt.Errorf("port %d", p)
		}
		return nil
	})
	eventually(t, "PV mount options", func() error {
		pv := named(&corev1.PersistentVolume{}, "", "pkgindex-"+ns+"-pypi")
		if err := get(pv); err != nil {
			return err
		}
		if len(pv.Spec.MountOptions) != 2 {
			return fmt.Errorf("mountOptions %q", pv.Spec.MountOptions)
		}
		return nil
	})
	got := condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
	if got.Status.URL != "http://pypi."+ns+".svc:80/simple/" {
		t.Errorf("url %q", got.Status.URL)
	}
}

func TestAutoscalingOnAndOff(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	idx.Spec.Replicas = new(int32(3))
	deploy := createWithDeployment(t, idx)

	update(t, idx, func(i *v1alpha1.PackageIndex) {
		i.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: new(int32(2)), MaxReplicas: 6}
	})
	hpa := named(&autoscalingv2.HorizontalPodAutoscaler{}, ns, "pypi")
	eventually(t, "HPA", func() error { return get(hpa) })
	if hpa.Spec.MaxReplicas != 6 || *hpa.Spec.MinReplicas != 2 || hpa.Spec.ScaleTargetRef.Name != "pypi" {
		t.Errorf("HPA spec %+v", hpa.Spec)
	}
	if u := hpa.Spec.Metrics[0].Resource.Target.AverageUtilization; u == nil || *u != 75 {
		t.Errorf("cpu target %v, want the default 75", u)
	}
	waitHandedOver(t, deploy)
	if *deploy.Spec.Replicas != 3 {
		t.Errorf("replicas fell to %d during the hand-over", *deploy.Spec.Replicas)
	}

	// The autoscaler changes the count; the operator must leave it.
	update(t, deploy, func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32(5)) })
	if _, err := reconciler.Reconcile(context.Background(), reconcile.Request{NamespacedName: client.ObjectKeyFromObject(idx)}); err != nil {
		t.Fatal(err)
	}
	if err := get(deploy); err != nil || *deploy.Spec.Replicas != 5 {
		t.Errorf("replicas %d after the autoscaler set 5 (%v)", *deploy.Spec.Replicas, err)
	}

	update(t, idx, func(i *v1alpha1.PackageIndex) { i.Spec.Autoscaling = nil })
	waitGone(t, hpa)
	waitReplicas(t, deploy, 3)
}

func TestDeletedDeploymentComesBack(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	deploy := createWithDeployment(t, efsIndex(ns, "pypi"))
	uid := deploy.UID
	if err := k8s.Delete(context.Background(), deploy); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Deployment recreated", func() error {
		if err := get(deploy); err != nil {
			return err
		}
		if deploy.UID == uid {
			return errors.New("still the old one")
		}
		return nil
	})

	// A hand edit is put back too.
	update(t, deploy, func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "evil:latest" })
	eventually(t, "image restored", func() error {
		if err := get(deploy); err != nil {
			return err
		}
		if img := deploy.Spec.Template.Spec.Containers[0].Image; img != testImage {
			return fmt.Errorf("image %q", img)
		}
		return nil
	})
}

func TestInvalidObjectsRefused(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	cases := []struct {
		name   string
		change func(*v1alpha1.PackageIndex)
		want   string
	}{
		{"no storage", func(i *v1alpha1.PackageIndex) { i.Spec.Storage.EFS = nil },
			"storage needs exactly one of efs, storageClassName (with size) or existingClaim"},
		{"two storage sources", func(i *v1alpha1.PackageIndex) { i.Spec.Storage.ExistingClaim = new("data") },
			"storage needs exactly one of efs, storageClassName (with size) or existingClaim"},
		{"class without size", func(i *v1alpha1.PackageIndex) {
			i.Spec.Storage.EFS = nil
			i.Spec.Storage.StorageClassName = new("nfs")
		}, "storage.size goes with storage.storageClassName, and only with it"},
		{"bad file system id", func(i *v1alpha1.PackageIndex) { i.Spec.Storage.EFS.FileSystemID = "fs-xyz" },
			"efs.fileSystemID must look like fs-0123456789abcdef0"},
		{"bad access point id", func(i *v1alpha1.PackageIndex) { i.Spec.Storage.EFS.AccessPointID = "ap-0123456789abcdef0" },
			"efs.accessPointID must look like fsap-0123456789abcdef0"},
		{"relative path", func(i *v1alpha1.PackageIndex) { i.Spec.Storage.EFS.Path = "packages" },
			"efs.path must be absolute and must not contain ':'"},
		{"mount options without efs", func(i *v1alpha1.PackageIndex) {
			i.Spec.Storage.EFS = nil
			i.Spec.Storage.ExistingClaim = new("data")
			i.Spec.Storage.MountOptions = []string{"hard"}
		}, "storage.mountOptions apply to efs only"},
		{"min above max", func(i *v1alpha1.PackageIndex) {
			i.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: new(int32(5)), MaxReplicas: 3}
		}, "autoscaling.minReplicas must not be greater than autoscaling.maxReplicas"},
		{"default min above max", func(i *v1alpha1.PackageIndex) {
			i.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MaxReplicas: 1}
		}, "autoscaling.minReplicas must not be greater than autoscaling.maxReplicas"},
		{"fallback not a URL", func(i *v1alpha1.PackageIndex) { i.Spec.Server.FallbackURL = "pypi.org" },
			"server.fallbackURL must be an http or https URL"},
		{"name not a DNS label", func(i *v1alpha1.PackageIndex) { i.Name = "9-" + strings.Repeat("x", 62) },
			"metadata.name must be at most 63 lower-case letters"},
		{"unknown hash", func(i *v1alpha1.PackageIndex) { i.Spec.Server.HashAlgorithm = "crc32" },
			`spec.server.hashAlgorithm: Unsupported value: "crc32"`},
		{"unknown right", func(i *v1alpha1.PackageIndex) {
			i.Spec.Server.Policy = &v1alpha1.PolicySpec{Grants: []v1alpha1.PolicyGrant{{Projects: []string{"*"}, Rights: []v1alpha1.PolicyRight{"publish"}, Anyone: true}}}
		}, `Unsupported value: "publish"`},
		{"grant to nobody", func(i *v1alpha1.PackageIndex) {
			i.Spec.Server.Policy = &v1alpha1.PolicySpec{Grants: []v1alpha1.PolicyGrant{{Projects: []string{"*"}, Rights: []v1alpha1.PolicyRight{"list"}}}}
		}, "a grant must name users, serviceAccounts, namespaces, publishers, or anyone: true"},
		{"bad project pattern", func(i *v1alpha1.PackageIndex) {
			i.Spec.Server.Policy = &v1alpha1.PolicySpec{Grants: []v1alpha1.PolicyGrant{{Projects: []string{"a/b"}, Rights: []v1alpha1.PolicyRight{"list"}, Anyone: true}}}
		}, "spec.server.policy.grants[0].projects[0]"},
		{"service account in neither form", func(i *v1alpha1.PackageIndex) {
			i.Spec.Server.Policy = &v1alpha1.PolicySpec{Grants: []v1alpha1.PolicyGrant{{Projects: []string{"*"}, Rights: []v1alpha1.PolicyRight{"upload"},
				ServiceAccounts: []string{"ci/builder", "system:serviceaccount:ci"}}}}
		}, "spec.server.policy.grants[0].serviceAccounts[1]"},
		{"two key sources", func(i *v1alpha1.PackageIndex) {
			i.Spec.Server.Policy = &v1alpha1.PolicySpec{Publishers: []v1alpha1.PolicyPublisher{{
				Name: "gh", Issuer: "https://token.actions.githubusercontent.com", JWKSURL: "https://example.com/jwks",
				JWKSConfigMap: &v1alpha1.ConfigMapKey{Name: "keys"}, Claims: map[string]string{"repository": "a/b"},
			}}}
		}, "jwksURL and jwksConfigMap exclude each other"},
		{"issuer not https", func(i *v1alpha1.PackageIndex) {
			i.Spec.Server.Policy = &v1alpha1.PolicySpec{Publishers: []v1alpha1.PolicyPublisher{{
				Name: "gh", Issuer: "http://issuer", Claims: map[string]string{"repository": "a/b"},
			}}}
		}, "publishers[].issuer must be an https URL"},
		{"read-write-once with two replicas", func(i *v1alpha1.PackageIndex) {
			i.Spec.Storage = v1alpha1.StorageSpec{StorageClassName: new("gp3"), Size: new(resource.MustParse("1Gi")), AccessMode: new(corev1.ReadWriteOnce)}
		}, "storage.accessMode ReadWriteOnce needs replicas: 1 and no autoscaling: a ReadWriteOnce volume is mounted by one node at a time"},
		{"read-write-once with autoscaling", func(i *v1alpha1.PackageIndex) {
			i.Spec.Replicas = new(int32(1))
			i.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: new(int32(1)), MaxReplicas: 3}
			i.Spec.Storage = v1alpha1.StorageSpec{StorageClassName: new("gp3"), Size: new(resource.MustParse("1Gi")), AccessMode: new(corev1.ReadWriteOnce)}
		}, "storage.accessMode ReadWriteOnce needs replicas: 1 and no autoscaling"},
		{"access mode with efs", func(i *v1alpha1.PackageIndex) { i.Spec.Storage.AccessMode = new(corev1.ReadWriteMany) },
			"storage.accessMode applies to a claim made from storage.storageClassName"},
		{"service account both named and created", func(i *v1alpha1.PackageIndex) {
			i.Spec.ServiceAccount = &v1alpha1.ServiceAccountSpec{Create: true, Name: "x"}
		}, "serviceAccount needs either name"},
		{"annotations on an existing account", func(i *v1alpha1.PackageIndex) {
			i.Spec.ServiceAccount = &v1alpha1.ServiceAccountSpec{Name: "x", Annotations: map[string]string{"a": "b"}}
		}, "serviceAccount.annotations apply to the account the operator creates"},
		{"extra root argument", func(i *v1alpha1.PackageIndex) { i.Spec.Server.ExtraArgs = []string{"--root=/elsewhere"} },
			"server.extraArgs must not set --root, --listen or their aliases"},
		{"extra port argument", func(i *v1alpha1.PackageIndex) { i.Spec.Server.ExtraArgs = []string{"-p=9000"} },
			"server.extraArgs must not set --root, --listen or their aliases"},
		{"extra password file argument", func(i *v1alpha1.PackageIndex) { i.Spec.Server.ExtraArgs = []string{"-P=/etc/passwd"} },
			"server.extraArgs must not set --passwords, --welcome, --server-base-url, --log-file or --version"},
		{"base URL from env", func(i *v1alpha1.PackageIndex) {
			i.Spec.Server.Env = []corev1.EnvVar{{Name: "PKGINDEX_SERVER_BASE_URL", Value: "/x"}}
		}, "server.env must not set PKGINDEX_PASSWORDS, PKGINDEX_WELCOME, PKGINDEX_SERVER_BASE_URL"},
		{"extra argument's value apart", func(i *v1alpha1.PackageIndex) { i.Spec.Server.ExtraArgs = []string{"--writers", "alice"} },
			"server.extraArgs must each be one flag"},
		{"listen from env", func(i *v1alpha1.PackageIndex) {
			i.Spec.Server.Env = []corev1.EnvVar{{Name: "PKGINDEX_LISTEN", Value: ":9000"}}
		}, "server.env must not set PKGINDEX_ROOT, PKGINDEX_LISTEN"},
		{"base URL not a path", func(i *v1alpha1.PackageIndex) { i.Spec.Server.ServerBaseURL = "https://example.com/pypi" },
			"server.serverBaseURL must be a plain absolute path"},
		{"extra root climbing out", func(i *v1alpha1.PackageIndex) {
			i.Spec.Server.ExtraRoots = []v1alpha1.ExtraRoot{{Name: "old", ClaimName: "old", SubPath: "a/../../b"}}
		}, "extraRoots[].subPath must be relative and must not contain '..'"},
		{"an existing account for token reviews", func(i *v1alpha1.PackageIndex) {
			i.Spec.ServiceAccount = &v1alpha1.ServiceAccountSpec{Name: "default"}
			i.Spec.Server.Policy = &v1alpha1.PolicySpec{Grants: []v1alpha1.PolicyGrant{{Projects: []string{"*"}, Rights: []v1alpha1.PolicyRight{"upload"}, Namespaces: []string{"ci"}}}}
		}, "must then be its own: use serviceAccount.create: true"},
		{"writers with a policy", func(i *v1alpha1.PackageIndex) {
			i.Spec.Server.Writers = []string{"alice"}
			i.Spec.Server.Policy = &v1alpha1.PolicySpec{Grants: []v1alpha1.PolicyGrant{{Projects: []string{"*"}, Rights: []v1alpha1.PolicyRight{"upload"}, Users: []string{"alice"}}}}
		}, "server.writers and server.policy cannot both be set"},
		{"upstream not a URL", func(i *v1alpha1.PackageIndex) {
			i.Spec.Upstream = &v1alpha1.UpstreamSpec{URLs: []string{"pypi.org/simple/"}}
		}, "upstream.urls must be http or https URLs"},
		{"upstream with a password in its URL", func(i *v1alpha1.PackageIndex) {
			i.Spec.Upstream = &v1alpha1.UpstreamSpec{URLs: []string{"https://ci:s3cret@pypi.example/simple/"}}
		}, "upstream.urls must not hold credentials"},
		{"upstream without URLs", func(i *v1alpha1.PackageIndex) { i.Spec.Upstream = &v1alpha1.UpstreamSpec{} },
			"spec.upstream.urls"},
		{"upstream beside a fallback", func(i *v1alpha1.PackageIndex) {
			i.Spec.Upstream = &v1alpha1.UpstreamSpec{URLs: []string{"https://pypi.org/simple/"}}
			i.Spec.Server.FallbackURL = "https://pypi.org/simple/"
		}, "spec.upstream and spec.server.fallbackURL exclude each other"},
		{"upstream credentials file and keys", func(i *v1alpha1.PackageIndex) {
			i.Spec.Upstream = &v1alpha1.UpstreamSpec{URLs: []string{"https://pypi.org/simple/"},
				CredentialsSecret: &v1alpha1.UpstreamCredentials{Name: "s", FileKey: "f", UserKey: "u"}}
		}, "fileKey (a credentials file) excludes userKey and passwordKey"},
		{"upstream credentials in env too", func(i *v1alpha1.PackageIndex) {
			i.Spec.Upstream = &v1alpha1.UpstreamSpec{URLs: []string{"https://pypi.org/simple/"},
				CredentialsSecret: &v1alpha1.UpstreamCredentials{Name: "s"}}
			i.Spec.Server.Env = []corev1.EnvVar{{Name: "PKGINDEX_UPSTREAM_PASSWORD", Value: "x"}}
		}, "server.env must not set PKGINDEX_UPSTREAM_USER"},
		{"upstream timeout zero", func(i *v1alpha1.PackageIndex) {
			i.Spec.Upstream = &v1alpha1.UpstreamSpec{URLs: []string{"https://pypi.org/simple/"}, Timeout: &metav1.Duration{}}
		}, "spec.upstream.timeout"},
		{"upstream cache size negative", func(i *v1alpha1.PackageIndex) {
			i.Spec.Upstream = &v1alpha1.UpstreamSpec{URLs: []string{"https://pypi.org/simple/"}, CacheSize: new(resource.MustParse("-1Gi"))}
		}, "upstream.cacheSize must be 0 (no limit) or more"},
		{"upstream page size zero", func(i *v1alpha1.PackageIndex) {
			i.Spec.Upstream = &v1alpha1.UpstreamSpec{URLs: []string{"https://pypi.org/simple/"}, MaxPageSize: new(resource.MustParse("0"))}
		}, "upstream.maxPageSize must be more than 0"},
		{"upstream merge name not a project", func(i *v1alpha1.PackageIndex) {
			i.Spec.Upstream = &v1alpha1.UpstreamSpec{URLs: []string{"https://pypi.org/simple/"}, Merge: []string{"a b"}}
		}, "spec.upstream.merge[0]"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idx := efsIndex(ns, fmt.Sprintf("bad%d", i))
			tc.change(idx)
			err := k8s.Create(context.Background(), idx)
			if err == nil {
				t.Fatalf("created; want refusal with %q", tc.want)
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, tc.want)
			}
		})
	}

	// The golden cases' upstreams pass every rule above.
	t.Run("upstream accepted", func(t *testing.T) {
		for i, name := range []string{"class-upstream", "efs-upstream-credentials-file"} {
			idx := efsIndex(ns, fmt.Sprintf("upstream%d", i))
			idx.Spec.Upstream = goldenCases()[name].Spec.Upstream
			if err := k8s.Create(context.Background(), idx); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	})

	t.Run("storage immutable", func(t *testing.T) {
		idx := efsIndex(ns, "moving")
		create(t, idx)
		for _, change := range []func(*v1alpha1.PackageIndex){
			func(i *v1alpha1.PackageIndex) { i.Spec.Storage.EFS.FileSystemID = "fs-fedcba9876543210f" },
			func(i *v1alpha1.PackageIndex) { i.Spec.Storage.EFS.Path = "/elsewhere" },
			func(i *v1alpha1.PackageIndex) {
				i.Spec.Storage.EFS = nil
				i.Spec.Storage.ExistingClaim = new("other")
			},
		} {
			want := "storage source is immutable"
			eventually(t, "refusal", func() error {
				cur := getIndex(t, idx)
				change(cur)
				err := k8s.Update(context.Background(), cur)
				switch {
				case apierrors.IsConflict(err):
					return err // raced with the operator; read again
				case err == nil || !strings.Contains(err.Error(), want):
					t.Errorf("update error %v, want %q", err, want)
				}
				return nil
			})
		}
		// One replica on a ReadWriteOnce claim is fine; its mode stays.
		rwo := efsIndex(ns, "single")
		rwo.Spec.Replicas = new(int32(1))
		rwo.Spec.Storage = v1alpha1.StorageSpec{StorageClassName: new("gp3"), Size: new(resource.MustParse("1Gi")), AccessMode: new(corev1.ReadWriteOnce)}
		create(t, rwo)
		eventually(t, "refusal", func() error {
			cur := getIndex(t, rwo)
			cur.Spec.Storage.AccessMode = nil
			err := k8s.Update(context.Background(), cur)
			switch {
			case apierrors.IsConflict(err):
				return err
			case err == nil || !strings.Contains(err.Error(), "storage.accessMode is immutable"):
				t.Errorf("update error %v, want the access mode kept", err)
			}
			return nil
		})
		// Everything else may change.
		update(t, idx, func(i *v1alpha1.PackageIndex) { i.Spec.Storage.ReclaimPolicy = v1alpha1.ReclaimDelete })
	})
}

func TestMissingSecretIsDegraded(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "private")
	idx.Spec.Server.Auth = &v1alpha1.AuthSpec{SecretName: "private-htpasswd"}
	create(t, idx)
	got := condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonAuthSecretMissing)
	if msg := findCondition(got, v1alpha1.ConditionDegraded).Message; !strings.Contains(msg, "private-htpasswd") {
		t.Errorf("message %q does not name the Secret", msg)
	}

	// The Deployment is still applied: the old pods keep serving while the
	// new ones wait for the Secret.
	deploy := named(&appsv1.Deployment{}, ns, "private")
	eventually(t, "Deployment", func() error { return get(deploy) })
	args := deploy.Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, "--passwords=/etc/pkgindex/auth/htpasswd") || !slices.Contains(args, "--authenticate=update") {
		t.Errorf("args %q", args)
	}

	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "private-htpasswd", Namespace: ns},
		Data:       map[string][]byte{"wrong": []byte("x")},
	})
	eventually(t, "message naming the missing key", func() error {
		got := condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonAuthSecretMissing)
		if msg := findCondition(got, v1alpha1.ConditionDegraded).Message; !strings.Contains(msg, `no key "htpasswd"`) {
			return fmt.Errorf("message %q does not name the key", msg)
		}
		return nil
	})

	hash := deploy.Spec.Template.Annotations[AnnotationConfigHash]
	s := named(&corev1.Secret{}, ns, "private-htpasswd")
	update(t, s, func(s *corev1.Secret) { s.Data = map[string][]byte{"htpasswd": []byte("alice:$2y$05$abc")} })
	condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
	if err := get(deploy); err != nil {
		t.Fatal(err)
	}
	if deploy.Spec.Template.Annotations[AnnotationConfigHash] != hash {
		t.Error("htpasswd content change rolled the pods; the server reloads it")
	}
}

// findCondition finds a condition of idx.
func findCondition(idx *v1alpha1.PackageIndex, condType string) metav1.Condition {
	for _, c := range idx.Status.Conditions {
		if c.Type == condType {
			return c
		}
	}
	return metav1.Condition{}
}

// markAvailable makes the Deployment and claim report what a working
// cluster would: envtest runs no controllers that set status.
func markAvailable(t *testing.T, ns, name string) {
	t.Helper()
	deploy := named(&appsv1.Deployment{}, ns, name)
	eventually(t, "Deployment", func() error { return get(deploy) })
	eventually(t, "Deployment status", func() error {
		if err := get(deploy); err != nil {
			return err
		}
		n := *deploy.Spec.Replicas
		deploy.Status = appsv1.DeploymentStatus{
			ObservedGeneration: deploy.Generation,
			Replicas:           n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
			},
		}
		return k8s.Status().Update(context.Background(), deploy)
	})
	pvc := named(&corev1.PersistentVolumeClaim{}, ns, name+"-packages")
	pv := named(&corev1.PersistentVolume{}, "", "pkgindex-"+ns+"-"+name)
	eventually(t, "volume bound", func() error {
		if err := get(pv); err != nil {
			return err
		}
		pv.Status.Phase = corev1.VolumeBound
		return k8s.Status().Update(context.Background(), pv)
	})
	eventually(t, "claim bound", func() error {
		if err := get(pvc); err != nil {
			return err
		}
		pvc.Status.Phase = corev1.ClaimBound
		pvc.Status.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
		pvc.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Ti")}
		return k8s.Status().Update(context.Background(), pvc)
	})
}

func TestAvailableDeploymentIsReady(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	create(t, idx)
	condition(t, idx, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonClaimPending)
	markAvailable(t, ns, "pypi")
	got := condition(t, idx, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	condition(t, idx, v1alpha1.ConditionProgressing, metav1.ConditionFalse, v1alpha1.ReasonRolloutComplete)
	if got.Status.ReadyReplicas != 2 || got.Status.Replicas != 2 {
		t.Errorf("replicas %d ready %d", got.Status.Replicas, got.Status.ReadyReplicas)
	}
	if got.Status.VolumeName != "pkgindex-"+ns+"-pypi" {
		t.Errorf("volumeName %q", got.Status.VolumeName)
	}
	if got.Status.Selector != "app.kubernetes.io/instance=pypi,app.kubernetes.io/name=pkgindex" {
		t.Errorf("selector %q", got.Status.Selector)
	}
}

func TestUnchangedReconcileWritesNothing(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	idx.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MaxReplicas: 4}
	idx.Spec.Ingress = &v1alpha1.IngressSpec{Host: "pypi.example.com"}
	create(t, idx)
	markAvailable(t, ns, "pypi")
	// Settled: the status reflects the bound claim, the last change made.
	condition(t, idx, v1alpha1.ConditionReady, metav1.ConditionTrue, v1alpha1.ReasonAvailable)
	condition(t, idx, v1alpha1.ConditionProgressing, metav1.ConditionFalse, v1alpha1.ReasonRolloutComplete)

	objects := []client.Object{
		named(&v1alpha1.PackageIndex{}, ns, "pypi"),
		named(&appsv1.Deployment{}, ns, "pypi"),
		named(&corev1.Service{}, ns, "pypi"),
		named(&corev1.PersistentVolumeClaim{}, ns, "pypi-packages"),
		named(&corev1.PersistentVolume{}, "", "pkgindex-"+ns+"-pypi"),
		named(&autoscalingv2.HorizontalPodAutoscaler{}, ns, "pypi"),
		named(&policyv1.PodDisruptionBudget{}, ns, "pypi"),
		named(&networkingv1.Ingress{}, ns, "pypi"),
	}
	versions := func() []string {
		var v []string
		for _, o := range objects {
			if err := get(o); err != nil {
				t.Fatalf("reading %s: %v", objectKey(o), err)
			}
			v = append(v, fmt.Sprintf("%T %s", o, o.GetResourceVersion()))
		}
		return v
	}
	before := versions()
	for range 3 {
		if _, err := reconciler.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: ns, Name: "pypi"}}); err != nil {
			t.Fatal(err)
		}
	}
	if after := versions(); !slices.Equal(before, after) {
		t.Errorf("a reconcile of an unchanged index wrote:\nbefore %q\nafter  %q", before, after)
	}
}

func TestDeletionFollowsReclaimPolicy(t *testing.T) {
	needEnv(t)
	for _, policy := range []v1alpha1.ReclaimPolicy{v1alpha1.ReclaimRetain, v1alpha1.ReclaimDelete} {
		t.Run(string(policy), func(t *testing.T) {
			ns := newNamespace(t)
			idx := efsIndex(ns, "pypi")
			idx.Spec.Storage.ReclaimPolicy = policy
			create(t, idx)
			pv := named(&corev1.PersistentVolume{}, "", "pkgindex-"+ns+"-pypi")
			eventually(t, "PersistentVolume", func() error { return get(pv) })
			condition(t, idx, v1alpha1.ConditionProgressing, metav1.ConditionTrue, v1alpha1.ReasonClaimPending)

			if err := k8s.Delete(context.Background(), idx); err != nil {
				t.Fatal(err)
			}
			waitGone(t, named(&v1alpha1.PackageIndex{}, ns, "pypi"))
			// The API server's StorageObjectInUseProtection admission adds
			// the kubernetes.io/pv-protection finalizer, so a deleted volume
			// stays until no claim uses it; being marked deleted is the
			// operator's part.
			err := get(pv)
			switch policy {
			case v1alpha1.ReclaimRetain:
				if err != nil || pv.DeletionTimestamp != nil {
					t.Errorf("Retain: PersistentVolume deleted (%v, deletionTimestamp %v)", err, pv.DeletionTimestamp)
				}
				reuseRetainedVolume(t, ns, pv)
			case v1alpha1.ReclaimDelete:
				if err == nil && pv.DeletionTimestamp == nil {
					t.Error("Delete: PersistentVolume not deleted")
				} else if err != nil && !apierrors.IsNotFound(err) {
					t.Error(err)
				}
			}
		})
	}
}

// reuseRetainedVolume checks that a PackageIndex created again with the
// same name binds the volume its predecessor retained. envtest runs no
// garbage collector or volume controller, so the test does their part:
// it removes the old claim and marks the volume Released.
func reuseRetainedVolume(t *testing.T, ns string, pv *corev1.PersistentVolume) {
	t.Helper()
	pvc := named(&corev1.PersistentVolumeClaim{}, ns, "pypi-packages")
	update(t, pvc, func(c *corev1.PersistentVolumeClaim) { c.Finalizers = nil })
	if err := k8s.Delete(context.Background(), pvc); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	waitGone(t, pvc)
	update(t, pv, func(v *corev1.PersistentVolume) { v.Spec.ClaimRef.UID = "0ld-c1a1m" })
	pv.Status.Phase = corev1.VolumeReleased
	if err := k8s.Status().Update(context.Background(), pv); err != nil {
		t.Fatal(err)
	}

	idx := efsIndex(ns, "pypi")
	create(t, idx)
	condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
	eventually(t, "old claim forgotten", func() error {
		if err := get(pv); err != nil {
			return err
		}
		if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != "" || pv.Spec.ClaimRef.Name != "pypi-packages" {
			return fmt.Errorf("claimRef %+v", pv.Spec.ClaimRef)
		}
		return nil
	})
}

func TestForeignVolumeLeftAlone(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	foreign := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pkgindex-" + ns + "-pypi", Labels: map[string]string{"team": "data"}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				NFS: &corev1.NFSVolumeSource{Server: "nfs.example", Path: "/other"},
			},
		},
	}
	create(t, foreign)
	rv := foreign.ResourceVersion

	idx := efsIndex(ns, "pypi")
	idx.Spec.Storage.ReclaimPolicy = v1alpha1.ReclaimDelete
	create(t, idx)
	got := condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonStorageConflict)
	if msg := findCondition(got, v1alpha1.ConditionDegraded).Message; !strings.Contains(msg, foreign.Name) {
		t.Errorf("message %q does not name the volume", msg)
	}
	condition(t, idx, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonStorageConflict)
	if err := get(foreign); err != nil || foreign.ResourceVersion != rv {
		t.Errorf("foreign PersistentVolume touched (rv %s → %s): %v", rv, foreign.ResourceVersion, err)
	}
	// Nothing that would mount storage is created.
	for _, obj := range []client.Object{
		named(&appsv1.Deployment{}, ns, "pypi"),
		named(&corev1.PersistentVolumeClaim{}, ns, "pypi-packages"),
	} {
		if err := get(obj); !apierrors.IsNotFound(err) {
			t.Errorf("%T created despite the conflict: %v", obj, err)
		}
	}

	// Deleting the index, even with Delete, leaves the foreign volume.
	if err := k8s.Delete(context.Background(), idx); err != nil {
		t.Fatal(err)
	}
	waitGone(t, named(&v1alpha1.PackageIndex{}, ns, "pypi"))
	if err := get(foreign); err != nil || foreign.ResourceVersion != rv {
		t.Errorf("foreign PersistentVolume touched on deletion (rv %s → %s): %v", rv, foreign.ResourceVersion, err)
	}
}

// userClaim is a claim someone other than the operator made.
func userClaim(ns, name string, mode corev1.PersistentVolumeAccessMode) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{mode},
			Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")},
			},
		},
	}
}

func TestForeignClaimLeftAlone(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	foreign := userClaim(ns, "pypi-packages", corev1.ReadWriteOnce)
	create(t, foreign)
	idx := efsIndex(ns, "pypi")
	idx.Spec.Storage.EFS = nil
	idx.Spec.Storage.StorageClassName = new("nfs")
	idx.Spec.Storage.Size = new(resource.MustParse("10Gi"))
	create(t, idx)
	condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonStorageConflict)
	cur := named(&corev1.PersistentVolumeClaim{}, ns, "pypi-packages")
	if err := get(cur); err != nil || cur.ResourceVersion != foreign.ResourceVersion || len(cur.OwnerReferences) > 0 {
		t.Errorf("foreign claim touched: %v %v", err, cur.OwnerReferences)
	}

	// Once its owner removes it, the index makes its own claim at once,
	// not at the next periodic look. (No controller removes the claim
	// protection finalizer in envtest, so the test does.)
	update(t, cur, func(c *corev1.PersistentVolumeClaim) { c.Finalizers = nil })
	if err := k8s.Delete(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	eventually(t, "own claim", func() error {
		own := named(&corev1.PersistentVolumeClaim{}, ns, "pypi-packages")
		if err := get(own); err != nil {
			return err
		}
		if !metav1.IsControlledBy(own, getIndex(t, idx)) {
			return errors.New("not controlled by the index")
		}
		return nil
	})
	condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
}

func TestSuspendChangesNothing(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	deploy := createWithDeployment(t, idx)

	update(t, idx, func(i *v1alpha1.PackageIndex) { i.Spec.Suspend = true })
	condition(t, idx, v1alpha1.ConditionProgressing, metav1.ConditionFalse, v1alpha1.ReasonSuspended)
	update(t, idx, func(i *v1alpha1.PackageIndex) { i.Spec.Replicas = new(int32(4)) })
	condition(t, idx, v1alpha1.ConditionProgressing, metav1.ConditionFalse, v1alpha1.ReasonSuspended)
	if err := get(deploy); err != nil || *deploy.Spec.Replicas != 2 {
		t.Errorf("suspended index changed the Deployment: replicas %d (%v)", *deploy.Spec.Replicas, err)
	}

	update(t, idx, func(i *v1alpha1.PackageIndex) { i.Spec.Suspend = false })
	waitReplicas(t, deploy, 4)
}

func TestAutoscaledIndexStartsAtMinReplicas(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	idx.Spec.Autoscaling = &v1alpha1.AutoscalingSpec{MinReplicas: new(int32(3)), MaxReplicas: 5}
	deploy := createWithDeployment(t, idx)
	waitReplicas(t, deploy, 3)
	waitHandedOver(t, deploy)
	waitReplicas(t, deploy, 3)
}

// waitHandedOver waits until the operator no longer applies the
// Deployment's spec.replicas.
func waitHandedOver(t *testing.T, deploy *appsv1.Deployment) {
	t.Helper()
	eventually(t, "replicas handed to the HPA", func() error {
		if err := get(deploy); err != nil {
			return err
		}
		if ownsReplicas(deploy.ManagedFields) {
			return errors.New("the operator still applies spec.replicas")
		}
		return nil
	})
}

func TestServiceMonitorOnlyWithItsCRD(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	idx.Spec.ServiceMonitor = &v1alpha1.ServiceMonitorSpec{Labels: map[string]string{"release": "prometheus"}}
	createWithDeployment(t, idx)
	condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)

	if err := env.InstallCRDs(filepath.Join("testdata", "crds", "servicemonitors.yaml"),
		filepath.Join("testdata", "crds", "prometheusrules.yaml")); err != nil {
		t.Fatal(err)
	}
	// Any change to the index makes the operator look again.
	update(t, idx, func(i *v1alpha1.PackageIndex) {
		i.Spec.ServiceMonitor.Interval = "15s"
		i.Spec.PrometheusRule = &v1alpha1.PrometheusRuleSpec{Labels: map[string]string{"release": "prometheus"}}
	})
	rule := &unstructured.Unstructured{}
	rule.SetGroupVersionKind(PrometheusRuleGVK)
	named(rule, ns, "pypi")
	eventually(t, "PrometheusRule", func() error { return get(rule) })
	if groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups"); len(groups) != 1 || rule.GetLabels()["release"] != "prometheus" {
		t.Errorf("PrometheusRule groups %v, labels %v", groups, rule.GetLabels())
	}
	sm := &unstructured.Unstructured{}
	sm.SetGroupVersionKind(ServiceMonitorGVK)
	named(sm, ns, "pypi")
	// A reconcile that read the index before the update may create it
	// with the old interval first.
	eventually(t, "ServiceMonitor", func() error {
		if err := get(sm); err != nil {
			return err
		}
		endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		if len(endpoints) != 1 || endpoints[0].(map[string]any)["interval"] != "15s" {
			return fmt.Errorf("endpoints %v", endpoints)
		}
		return nil
	})
	if sm.GetLabels()["release"] != "prometheus" {
		t.Errorf("labels %v", sm.GetLabels())
	}

	update(t, idx, func(i *v1alpha1.PackageIndex) {
		i.Spec.ServiceMonitor = nil
		i.Spec.PrometheusRule = nil
	})
	waitGone(t, sm)
	waitGone(t, rule)
}

func TestScaleSubresource(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	deploy := createWithDeployment(t, efsIndex(ns, "pypi"))
	idx := named(&v1alpha1.PackageIndex{}, ns, "pypi")
	scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: 5}}
	// What kubectl scale pkgidx/pypi --replicas=5 does.
	eventually(t, "scaling", func() error {
		return k8s.SubResource("scale").Update(context.Background(), idx, client.WithSubResourceBody(scale))
	})
	waitReplicas(t, deploy, 5)
}

func TestEventsTellWhatChanged(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	createWithDeployment(t, efsIndex(ns, "pypi"))
	eventually(t, "events", func() error {
		var list eventsv1.EventList
		if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			return err
		}
		var notes []string
		for _, e := range list.Items {
			if e.Regarding.Kind == "PackageIndex" && e.Reason == "Created" {
				notes = append(notes, e.Note)
			}
		}
		for _, want := range []string{"Created Deployment pypi", "Created Service pypi", "Created PersistentVolumeClaim pypi-packages"} {
			if !slices.Contains(notes, want) {
				return fmt.Errorf("no event %q in %q", want, notes)
			}
		}
		return nil
	})
}

func TestExistingClaimIsUsedNotManaged(t *testing.T) {
	needEnv(t)
	ns := newNamespace(t)
	idx := efsIndex(ns, "pypi")
	idx.Spec.Storage.EFS = nil
	idx.Spec.Storage.ExistingClaim = new("shared")
	deploy := createWithDeployment(t, idx)
	if got := deploy.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName; got != "shared" {
		t.Errorf("claim %q, want the existing one", got)
	}
	got := condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionTrue, v1alpha1.ReasonClaimMissing)
	if got.Status.Storage != "claim:shared" || slices.Contains(got.Finalizers, Finalizer) {
		t.Errorf("storage %q finalizers %q", got.Status.Storage, got.Finalizers)
	}
	if err := get(named(&corev1.PersistentVolumeClaim{}, ns, "pypi-packages")); !apierrors.IsNotFound(err) {
		t.Errorf("a claim was created beside the existing one: %v", err)
	}

	shared := userClaim(ns, "shared", corev1.ReadWriteMany)
	create(t, shared)
	condition(t, idx, v1alpha1.ConditionDegraded, metav1.ConditionFalse, v1alpha1.ReasonAsExpected)
	if err := get(shared); err != nil || len(shared.OwnerReferences) > 0 || len(shared.ManagedFields) != 1 {
		t.Errorf("existing claim changed: %v owners %v managers %d", err, shared.OwnerReferences, len(shared.ManagedFields))
	}
}

func TestNamespaceFlagLimitsTheWatch(t *testing.T) {
	needEnv(t)
	watched, other := newNamespace(t), newNamespace(t)
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	// The manager's cache, as --namespace configures it.
	opts := managerOptions(ManagerConfig{Namespace: watched}, scheme, logr.Discard()).Cache
	opts.Scheme = scheme
	c, err := cache.New(restConfig, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cache: %v", err)
		}
	})
	// Reading before the cache has started is an error, not a wait.
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the cache did not start")
	}
	var list v1alpha1.PackageIndexList
	if err := c.List(ctx, &list, client.InNamespace(watched)); err != nil {
		t.Errorf("listing the watched namespace: %v", err)
	}
	if err := c.List(ctx, &list, client.InNamespace(other)); err == nil {
		t.Errorf("listing namespace %s outside --namespace %s worked", other, watched)
	}
	// PersistentVolumes are cluster-scoped and still seen.
	var pvs corev1.PersistentVolumeList
	if err := c.List(ctx, &pvs); err != nil {
		t.Errorf("listing PersistentVolumes: %v", err)
	}
}
