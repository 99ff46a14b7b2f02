package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"pkgindex.dev/pkgindex/api/v1alpha1"
	"pkgindex.dev/pkgindex/server/flags"
)

// preStopSeconds is how long a stopping server pod keeps serving before
// it is sent SIGTERM, for its endpoint's removal to reach every node.
const preStopSeconds = 5

// defaultUser is the uid and gid when the schema default is missing (an
// object built in a test rather than read from the API server).
const defaultUser = 65532

// serverArgs are the `pkgindex serve` arguments for idx. They are the whole
// server configuration, so their hash is what rolls the pods.
func serverArgs(idx *v1alpha1.PackageIndex) []string {
	s := idx.Spec.Server
	args := []string{"serve"}
	for _, r := range roots(idx) {
		args = append(args, flags.Arg(flags.Root, r))
	}
	args = append(args, flags.Arg(flags.Listen, listenAddr))
	if s.HashAlgorithm != "" {
		args = append(args, flags.Arg(flags.HashAlgo, string(s.HashAlgorithm)))
	}
	if s.LogFormat != "" {
		args = append(args, flags.Arg(flags.LogFormat, string(s.LogFormat)))
	}
	if s.LogLevel != "" {
		args = append(args, flags.Arg(flags.LogLevel, string(s.LogLevel)))
	}
	// An object the API server did not default (a builder test, an older
	// CRD) runs in the layout the CRD defaults to.
	layout := s.Layout
	if layout == "" {
		layout = v1alpha1.LayoutPerProject
	}
	args = append(args, flags.Arg(flags.Layout, string(layout)))
	if s.FallbackURL != "" {
		args = append(args, flags.Arg(flags.FallbackURL, s.FallbackURL))
	}
	if s.CacheControl != nil {
		args = append(args, flags.Arg(flags.CacheControl, strconv.Itoa(int(*s.CacheControl))))
	}
	if s.MaxUploadSize != nil {
		args = append(args, flags.Arg(flags.MaxUploadSize, strconv.FormatInt(s.MaxUploadSize.Value(), 10)))
	}
	if s.Overwrite {
		args = append(args, flags.On(flags.Overwrite))
	}
	if a := s.Auth; a != nil {
		actions := make([]string, 0, len(a.Actions))
		for _, act := range a.Actions {
			actions = append(actions, string(act))
		}
		if len(actions) == 0 {
			actions = append(actions, string(v1alpha1.AuthUpdate))
		}
		args = append(args,
			flags.Arg(flags.Passwords, authDir+"/"+authKey(a)),
			flags.Arg(flags.Authenticate, strings.Join(actions, ",")))
	}
	if s.Policy != nil {
		args = append(args, flags.Arg(flags.Policy, policyDir+"/"+policyKey))
	}
	if len(s.Writers) > 0 {
		args = append(args, flags.Arg(flags.Writers, strings.Join(s.Writers, ",")))
	}
	if w := s.Welcome; w != nil {
		args = append(args, flags.Arg(flags.Welcome, welcomeDir+"/"+w.Key))
	}
	if s.ServerBaseURL != "" {
		args = append(args, flags.Arg(flags.ServerBaseURL, s.ServerBaseURL))
	}
	args = append(args, upstreamArgs(idx)...)
	// Last, so that they can change what the fields above set, the way a
	// command line's later flag wins.
	return append(args, s.ExtraArgs...)
}

// listenAddr is where the server listens in its pod.
var listenAddr = ":" + strconv.Itoa(serverPort)

// roots are the server's package directories in the pod: the packages
// volume first, since the first root receives uploads, then the
// read-only extra roots.
func roots(idx *v1alpha1.PackageIndex) []string {
	out := []string{dataDir}
	for _, r := range idx.Spec.Server.ExtraRoots {
		out = append(out, extraRootsDir+"/"+r.Name)
	}
	return out
}

// authKey is the Secret key of the htpasswd file.
func authKey(a *v1alpha1.AuthSpec) string {
	if a.Key == "" {
		return "htpasswd"
	}
	return a.Key
}

// configHash identifies the server configuration: its arguments and where
// the htpasswd file comes from, but not the file's content, which the
// server reloads by itself.
func configHash(idx *v1alpha1.PackageIndex) string {
	h := sha256.New()
	for _, a := range serverArgs(idx) {
		fmt.Fprintf(h, "%s\x00", a)
	}
	if a := idx.Spec.Server.Auth; a != nil {
		fmt.Fprintf(h, "auth:%s/%s\x00", a.SecretName, authKey(a))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// image is the server image of idx.
func image(idx *v1alpha1.PackageIndex, opts Options) string {
	if idx.Spec.Image != "" {
		return idx.Spec.Image
	}
	return opts.Image
}

// runAs is the uid and gid of the server process.
func runAs(idx *v1alpha1.PackageIndex) (uid, gid int64) {
	uid, gid = defaultUser, defaultUser
	if u := idx.Spec.RunAs.User; u != nil {
		uid = *u
	}
	if g := idx.Spec.RunAs.Group; g != nil {
		gid = *g
	}
	return uid, gid
}

// topologySpread is the spec's constraints, or a best-effort spread across
// zones and then nodes, so a zone or node outage leaves replicas elsewhere.
func topologySpread(idx *v1alpha1.PackageIndex) []corev1.TopologySpreadConstraint {
	if len(idx.Spec.TopologySpreadConstraints) > 0 {
		return idx.Spec.TopologySpreadConstraints
	}
	out := make([]corev1.TopologySpreadConstraint, 0, 2)
	for _, key := range []string{corev1.LabelTopologyZone, corev1.LabelHostname} {
		out = append(out, corev1.TopologySpreadConstraint{
			MaxSkew:           1,
			TopologyKey:       key,
			WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector:     &metav1.LabelSelector{MatchLabels: selectorLabels(idx)},
		})
	}
	return out
}

// defaultResources apply when the schema default is missing.
func resources(idx *v1alpha1.PackageIndex) corev1.ResourceRequirements {
	if r := idx.Spec.Resources; r != nil {
		return *r
	}
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("100m"),
			corev1.ResourceMemory: resource.MustParse("64Mi"),
		},
		Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
}

// strategy is how the Deployment replaces pods. A new pod must be ready
// before an old one goes, so a rollout never lowers capacity; but a
// ReadWriteOnce volume cannot be mounted by the new pod while the old one,
// maybe on another node, holds it, so there the old pod goes first.
func strategy(idx *v1alpha1.PackageIndex) appsv1.DeploymentStrategy {
	if idx.Spec.Storage.StorageClassName != nil && accessMode(idx) == corev1.ReadWriteOnce {
		return appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
	return appsv1.DeploymentStrategy{
		Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxUnavailable: new(intstr.FromInt32(0)),
			MaxSurge:       new(intstr.FromInt32(1)),
		},
	}
}

// configMapKeyVolume mounts one key of a ConfigMap read-only in dir. The
// volume is the directory, not a subPath, so the kubelet's updates reach
// it.
func configMapKeyVolume(name string, ref *v1alpha1.ConfigMapKeyRef, dir string) (corev1.Volume, corev1.VolumeMount) {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name},
				Items:                []corev1.KeyToPath{{Key: ref.Key, Path: ref.Key}},
				DefaultMode:          new(int32(0o444)),
			},
		}},
		corev1.VolumeMount{Name: name, MountPath: dir, ReadOnly: true}
}

// deploymentFor builds the server Deployment of idx.
func deploymentFor(idx *v1alpha1.PackageIndex, opts Options) *appsv1.Deployment {
	uid, gid := runAs(idx)
	labels := commonLabels(idx)
	podAnnotations := mergeLabels(map[string]string{AnnotationConfigHash: configHash(idx)}, idx.Spec.PodAnnotations)

	volumes := []corev1.Volume{
		{Name: "packages", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName(idx)},
		}},
		// The root file system is read-only; uploads are staged here.
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "packages", MountPath: dataDir},
		{Name: "tmp", MountPath: "/tmp"},
	}
	if a := idx.Spec.Server.Auth; a != nil {
		volumes = append(volumes, corev1.Volume{Name: "auth", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{
				SecretName:  a.SecretName,
				Items:       []corev1.KeyToPath{{Key: authKey(a), Path: authKey(a)}},
				DefaultMode: new(int32(0o440)),
			},
		}})
		// No subPath: the kubelet updates a Secret volume in place only
		// when it is mounted as a directory.
		mounts = append(mounts, corev1.VolumeMount{Name: "auth", MountPath: authDir, ReadOnly: true})
	}
	if idx.Spec.Server.Policy != nil {
		volumes = append(volumes, corev1.Volume{Name: "policy", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: policyConfigMapName(idx)},
				DefaultMode:          new(int32(0o444)),
			},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: "policy", MountPath: policyDir, ReadOnly: true})
	}
	for i, name := range jwksConfigMaps(idx) {
		vol := fmt.Sprintf("jwks-%d", i)
		volumes = append(volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: name},
				DefaultMode:          new(int32(0o444)),
			},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: vol, MountPath: jwksDir + "/" + name, ReadOnly: true})
	}
	if w := idx.Spec.Server.Welcome; w != nil {
		v, m := configMapKeyVolume("welcome", w, welcomeDir)
		volumes, mounts = append(volumes, v), append(mounts, m)
	}
	for _, r := range idx.Spec.Server.ExtraRoots {
		name := "root-" + r.Name
		volumes = append(volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: r.ClaimName, ReadOnly: true},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: extraRootsDir + "/" + r.Name, SubPath: r.SubPath, ReadOnly: true})
	}

	upVols, upMounts := upstreamVolumes(idx)
	volumes, mounts = append(volumes, upVols...), append(mounts, upMounts...)

	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: basePath(idx) + path, Port: intstr.FromString(portName),
			}},
			PeriodSeconds:    period,
			FailureThreshold: failures,
		}
	}

	container := corev1.Container{
		Name:            containerName,
		Image:           image(idx, opts),
		ImagePullPolicy: idx.Spec.ImagePullPolicy,
		Args:            serverArgs(idx),
		Ports: []corev1.ContainerPort{{
			Name: portName, ContainerPort: serverPort, Protocol: corev1.ProtocolTCP,
		}},
		// /readyz fails while a root is unreadable (EFS not mounted yet),
		// so traffic goes only to pods that can answer from the volume.
		ReadinessProbe: probe("/readyz", 5, 2),
		LivenessProbe:  probe("/healthz", 10, 6),
		// A pod leaves its Services' endpoints while it is told to stop,
		// not before: kube-proxy and load balancers learn of it a moment
		// later. Serving on through that moment keeps new connections
		// routed to it from being refused during a rollout or an eviction;
		// then the server's own shutdown grace lets in-flight requests end.
		Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
			Sleep: &corev1.SleepAction{Seconds: preStopSeconds},
		}},
		// The operator's first; the schema keeps server.env from naming
		// them again.
		Env:          append(upstreamEnv(idx), idx.Spec.Server.Env...),
		Resources:    resources(idx),
		VolumeMounts: mounts,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: new(false),
			ReadOnlyRootFilesystem:   new(true),
			RunAsNonRoot:             new(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}

	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(idx),
		Spec: appsv1.DeploymentSpec{
			Replicas: desiredReplicas(idx),
			Selector: &metav1.LabelSelector{MatchLabels: selectorLabels(idx)},
			Strategy: strategy(idx),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{
					Labels:      mergeLabels(labels, idx.Spec.PodLabels),
					Annotations: podAnnotations,
				},
				Spec: corev1.PodSpec{
					Containers:         []corev1.Container{container},
					Volumes:            volumes,
					ImagePullSecrets:   idx.Spec.ImagePullSecrets,
					ServiceAccountName: serviceAccountName(idx),
					// The API server copies serviceAccountName into the
					// deprecated field and back; owning both lets the
					// name go again when no account is asked for.
					DeprecatedServiceAccount:     serviceAccountName(idx),
					AutomountServiceAccountToken: new(automountToken(idx)),
					EnableServiceLinks:           new(false),
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot: new(true),
						RunAsUser:    new(uid),
						RunAsGroup:   new(gid),
						FSGroup:      new(gid),
						// Skip the recursive chown of a large tree on every
						// start; EFS access points enforce ownership anyway.
						FSGroupChangePolicy: new(corev1.FSGroupChangeOnRootMismatch),
						SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					NodeSelector:              idx.Spec.NodeSelector,
					Tolerations:               idx.Spec.Tolerations,
					Affinity:                  idx.Spec.Affinity,
					TopologySpreadConstraints: topologySpread(idx),
					PriorityClassName:         idx.Spec.PriorityClassName,
					// The pre-stop pause, then the server gives in-flight
					// requests 20s after SIGTERM.
					TerminationGracePeriodSeconds: new(int64(30)),
				},
			},
		},
	}
}
