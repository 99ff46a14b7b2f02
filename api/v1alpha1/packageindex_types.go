package v1alpha1

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// PackageIndexSpec is what a PackageIndex should run: the server image and
// its flags, how many replicas, the shared storage holding the packages, and
// how the index is reached.
// +kubebuilder:validation:XValidation:rule="!has(self.serviceAccount) || !has(self.serviceAccount.name) || !has(self.server) || !has(self.server.policy) || !has(self.server.policy.grants) || !self.server.policy.grants.exists(g, (has(g.serviceAccounts) && size(g.serviceAccounts) > 0) || (has(g.namespaces) && size(g.namespaces) > 0))",message="a policy that grants to serviceAccounts or namespaces has the operator bind system:auth-delegator to the pods' account, which must then be its own: use serviceAccount.create: true (or leave serviceAccount unset), not an existing account other pods may run as"
type PackageIndexSpec struct {
	// image runs the index server; empty means the operator's own image
	// (its --image flag), so an operator upgrade also upgrades the indexes.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// imagePullPolicy of the server container.
	// +optional
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`

	// imagePullSecrets name Secrets in this namespace used to pull image.
	// +optional
	// +listType=atomic
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`

	// replicas is the fixed number of server pods. Ignored while
	// autoscaling is set: then the HorizontalPodAutoscaler alone owns the
	// replica count.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=0
	Replicas *int32 `json:"replicas,omitempty"`

	// autoscaling, when set, creates a HorizontalPodAutoscaler that scales
	// the server between minReplicas and maxReplicas.
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`

	// storage is where the packages live, shared by every replica. The
	// source (efs, storageClassName or existingClaim) cannot be changed once
	// set: pointing an index elsewhere would orphan its data.
	// +required
	Storage StorageSpec `json:"storage"`

	// server holds the index server's own settings, passed as its flags.
	// +optional
	// +kubebuilder:default={}
	Server ServerSpec `json:"server,omitempty"`

	// resources of the server container. The defaults suit a small Go
	// server; raise memory for trees with hundreds of thousands of files.
	// +optional
	// +kubebuilder:default={requests:{cpu:"100m",memory:"64Mi"},limits:{memory:"512Mi"}}
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// runAs is the user and group the server runs as. With an EFS access
	// point, use the access point's POSIX user so files stay writable.
	// +optional
	// +kubebuilder:default={}
	RunAs RunAsSpec `json:"runAs,omitempty"`

	// service exposes the replicas inside the cluster.
	// +optional
	// +kubebuilder:default={}
	Service ServiceSpec `json:"service,omitempty"`

	// podDisruptionBudget limits voluntary evictions; it is created only
	// when more than one replica runs.
	// +optional
	// +kubebuilder:default={}
	PodDisruptionBudget PodDisruptionBudgetSpec `json:"podDisruptionBudget,omitempty"`

	// nodeSelector of the server pods.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// tolerations of the server pods.
	// +optional
	// +listType=atomic
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// affinity of the server pods.
	// +optional
	Affinity *corev1.Affinity `json:"affinity,omitempty"`

	// topologySpreadConstraints of the server pods. Empty means spread
	// across zones and nodes, best effort (ScheduleAnyway), so one zone or
	// node going away leaves replicas elsewhere.
	// +optional
	// +listType=atomic
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`

	// podAnnotations are added to the server pods.
	// +optional
	PodAnnotations map[string]string `json:"podAnnotations,omitempty"`

	// podLabels are added to the server pods; they cannot replace the
	// labels the operator selects pods by.
	// +optional
	PodLabels map[string]string `json:"podLabels,omitempty"`

	// priorityClassName of the server pods.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// suspend pauses reconciliation: the operator changes no object of
	// this index until it is unset, and reports the pause in the status.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// upstream, when set, serves projects that have no local files from
	// other Simple API indexes (PyPI, another pkgindex, Artifactory),
	// through a cache on the packages volume that every replica shares.
	// A project with local files is served from them alone unless
	// upstream.merge names it. It excludes server.fallbackURL.
	// +optional
	Upstream *UpstreamSpec `json:"upstream,omitempty"`

	// ingress, when set, routes HTTP hosts to the Service.
	// +optional
	Ingress *IngressSpec `json:"ingress,omitempty"`

	// httpRoute, when set, routes hosts to the Service through a Gateway
	// API HTTPRoute, if the gateway.networking.k8s.io CRD is installed;
	// without it the index is Degraded (HTTPRouteSkipped).
	// +optional
	HTTPRoute *HTTPRouteSpec `json:"httpRoute,omitempty"`

	// networkPolicy, when set, admits traffic to the server port only, and
	// only from the selected namespaces.
	// +optional
	NetworkPolicy *NetworkPolicySpec `json:"networkPolicy,omitempty"`

	// prometheusRule, when set, creates a Prometheus Operator
	// PrometheusRule with the index's alerts (unavailable, pods not ready,
	// 5xx ratio, uploads refused for storage, storage slow, and with an
	// upstream its errors, stale answers, failed fetches and latency), if the
	// monitoring.coreos.com CRD exists. The alerts read the metrics the
	// serviceMonitor scrapes, and kube-state-metrics for the pods.
	// +optional
	PrometheusRule *PrometheusRuleSpec `json:"prometheusRule,omitempty"`

	// serviceAccount the server pods run as: an existing one, or one the
	// operator creates with annotations (e.g. eks.amazonaws.com/role-arn).
	// Unset means the namespace's default account, or, when
	// server.policy grants to service accounts or namespaces, one the
	// operator creates; such a policy refuses an existing account. No API token is mounted unless automountToken says
	// so or the policy needs the server to review tokens, the only call it
	// makes to the API server.
	// +optional
	ServiceAccount *ServiceAccountSpec `json:"serviceAccount,omitempty"`

	// serviceMonitor, when set, creates a Prometheus Operator
	// ServiceMonitor for /metrics, if the monitoring.coreos.com CRD exists.
	// +optional
	ServiceMonitor *ServiceMonitorSpec `json:"serviceMonitor,omitempty"`
}

// ServiceAccountSpec names or creates the server pods' ServiceAccount.
// +kubebuilder:validation:XValidation:rule="(has(self.create) && self.create) != has(self.name)",message="serviceAccount needs either name (an existing account, which the operator only uses) or create: true (an account named after the index)"
// +kubebuilder:validation:XValidation:rule="!has(self.annotations) || (has(self.create) && self.create)",message="serviceAccount.annotations apply to the account the operator creates (create: true); annotate an existing account yourself"
type ServiceAccountSpec struct {
	// create makes a ServiceAccount named after the index, owned by it.
	// +optional
	Create bool `json:"create,omitempty"`

	// name of an existing ServiceAccount in this namespace.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`

	// annotations of the created ServiceAccount.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// automountToken mounts the account's API token in the pods, for a
	// sidecar or an identity webhook that needs it.
	// +optional
	AutomountToken bool `json:"automountToken,omitempty"`
}

// UpstreamSpec is the pull-through cache of upstream indexes; the fields
// map to the server's --upstream-* flags.
type UpstreamSpec struct {
	// urls are the Simple API roots asked, in order, for a project with
	// no local files, e.g. https://pypi.org/simple/. An upstream's 404
	// passes to the next; one that fails stops the search.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.all(u, isURL(u) && (u.startsWith('https://') || u.startsWith('http://')))",message="upstream.urls must be http or https URLs such as https://pypi.org/simple/"
	// +kubebuilder:validation:XValidation:rule="!self.exists(u, u.matches('^https?://[^/?#]*@'))",message="upstream.urls must not hold credentials: they would show in the pods' command line; use upstream.credentialsSecret"
	URLs []string `json:"urls"`

	// credentialsSecret is a Secret in this namespace with the user and
	// password sent to the upstreams. They reach the server as its
	// PKGINDEX_UPSTREAM_USER and PKGINDEX_UPSTREAM_PASSWORD environment
	// (userKey and passwordKey), or as a mounted credentials file
	// (fileKey) of "URL user:password" lines for upstreams that each need
	// their own; never on the command line. The server reads them when a
	// pod starts: after changing the Secret, restart the pods.
	// +optional
	CredentialsSecret *UpstreamCredentials `json:"credentialsSecret,omitempty"`

	// caBundle is a ConfigMap key holding the PEM certificates the
	// upstreams' are checked against (--upstream-ca), for an upstream
	// with a private authority; unset means the image's system roots.
	// +optional
	CABundle *ConfigMapKeyRef `json:"caBundle,omitempty"`

	// ttl is how long a cached upstream page is served before it is
	// revalidated with the upstream (--upstream-ttl); 0 revalidates every
	// time. When the upstream fails, the cached page is served anyway.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$|^0$`
	TTL *metav1.Duration `json:"ttl,omitempty"`

	// timeout is the longest wait for an upstream to connect, answer,
	// send a page, or send more of a file (--upstream-timeout).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="upstream.timeout must be more than 0"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// merge are projects with local files whose upstream files are added
	// to their pages (--upstream-merge); a local file wins over an
	// upstream file of the same name. Any other project with local files
	// is served from them alone, so a name published upstream by someone
	// else never replaces a private one (dependency confusion).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`
	Merge []string `json:"merge,omitempty"`

	// deny are projects never fetched from an upstream (--upstream-deny),
	// e.g. private names that have no release yet.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`
	Deny []string `json:"deny,omitempty"`

	// cacheSize bounds the bytes of cached upstream files on the volume
	// (--upstream-cache-size); the least recently used go first, never an
	// uploaded file. Unset means no limit.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!quantity(string(self)).isLessThan(quantity('0'))",message="upstream.cacheSize must be 0 (no limit) or more"
	CacheSize *resource.Quantity `json:"cacheSize,omitempty"`

	// maxPageSize refuses larger upstream project pages
	// (--upstream-max-page-size).
	// +optional
	// +kubebuilder:validation:XValidation:rule="quantity(string(self)).isGreaterThan(quantity('0'))",message="upstream.maxPageSize must be more than 0: no page could be read"
	MaxPageSize *resource.Quantity `json:"maxPageSize,omitempty"`

	// maxFetches is how many upstream requests a replica runs at once
	// (--upstream-max-fetches).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1024
	MaxFetches *int32 `json:"maxFetches,omitempty"`
}

// UpstreamCredentials names the keys of a Secret holding upstream
// credentials: a user and a password for every upstream, or a file.
// +kubebuilder:validation:XValidation:rule="!has(self.fileKey) || (!has(self.userKey) && !has(self.passwordKey))",message="upstream.credentialsSecret: fileKey (a credentials file) excludes userKey and passwordKey (one user and password for every upstream)"
type UpstreamCredentials struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// userKey is the key of the user name; username when unset.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	UserKey string `json:"userKey,omitempty"`

	// passwordKey is the key of the password; password when unset.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	PasswordKey string `json:"passwordKey,omitempty"`

	// fileKey is the key of a credentials file, mounted into the pods:
	// "URL user:password" lines, one per upstream, and optionally a
	// "user:password" line for the others.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	FileKey string `json:"fileKey,omitempty"`
}

// AutoscalingSpec configures the HorizontalPodAutoscaler.
// +kubebuilder:validation:XValidation:rule="self.minReplicas <= self.maxReplicas",message="autoscaling.minReplicas must not be greater than autoscaling.maxReplicas"
// +kubebuilder:validation:XValidation:rule="has(self.targetCPUUtilizationPercentage) || has(self.targetMemoryUtilizationPercentage)",message="autoscaling needs targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage"
type AutoscalingSpec struct {
	// minReplicas is the fewest pods the autoscaler keeps.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	MinReplicas *int32 `json:"minReplicas,omitempty"`

	// maxReplicas is the most pods the autoscaler starts.
	// +required
	// +kubebuilder:validation:Minimum=1
	MaxReplicas int32 `json:"maxReplicas"`

	// targetCPUUtilizationPercentage is the average CPU use, in percent of
	// the request, the autoscaler aims for.
	// +optional
	// +kubebuilder:default=75
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	TargetCPUUtilizationPercentage *int32 `json:"targetCPUUtilizationPercentage,omitempty"`

	// targetMemoryUtilizationPercentage is the average memory use, in
	// percent of the request, the autoscaler aims for; unset means memory
	// does not drive scaling.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	TargetMemoryUtilizationPercentage *int32 `json:"targetMemoryUtilizationPercentage,omitempty"`

	// behavior tunes how fast the autoscaler scales up and down.
	// +optional
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
}

// ReclaimPolicy says what happens to the storage when a PackageIndex is
// deleted. Data on the file system is never deleted by the operator.
// +kubebuilder:validation:Enum=Retain;Delete
type ReclaimPolicy string

const (
	// ReclaimRetain keeps the PersistentVolume; it is released and can be
	// bound again by hand.
	ReclaimRetain ReclaimPolicy = "Retain"
	// ReclaimDelete removes the PersistentVolume object the operator
	// created. The files on EFS stay.
	ReclaimDelete ReclaimPolicy = "Delete"
)

// StorageSpec is the shared, ReadWriteMany storage holding the packages.
// +kubebuilder:validation:XValidation:rule="[has(self.efs), has(self.storageClassName), has(self.existingClaim)].filter(x, x).size() == 1",message="storage needs exactly one of efs, storageClassName (with size) or existingClaim"
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(self.size)",message="storage.size goes with storage.storageClassName, and only with it"
// +kubebuilder:validation:XValidation:rule="!has(self.accessMode) || has(self.storageClassName)",message="storage.accessMode applies to a claim made from storage.storageClassName; an EFS volume is ReadWriteMany and an existing claim has its own"
// +kubebuilder:validation:XValidation:rule="(has(self.accessMode) ? self.accessMode : 'ReadWriteMany') == (has(oldSelf.accessMode) ? oldSelf.accessMode : 'ReadWriteMany')",message="storage.accessMode is immutable: a claim's access mode cannot change; create a new PackageIndex instead"
// +kubebuilder:validation:XValidation:rule="!has(self.mountOptions) || has(self.efs)",message="storage.mountOptions apply to efs only; set mount options of a class on its StorageClass"
// +kubebuilder:validation:XValidation:rule="(has(self.efs) ? has(oldSelf.efs) && self.efs == oldSelf.efs : !has(oldSelf.efs)) && (has(self.storageClassName) ? has(oldSelf.storageClassName) && self.storageClassName == oldSelf.storageClassName : !has(oldSelf.storageClassName)) && (has(self.existingClaim) ? has(oldSelf.existingClaim) && self.existingClaim == oldSelf.existingClaim : !has(oldSelf.existingClaim))",message="storage source is immutable: changing efs, storageClassName or existingClaim would orphan the packages; create a new PackageIndex instead"
type StorageSpec struct {
	// efs serves the packages from an Amazon EFS file system through a
	// static PersistentVolume of the EFS CSI driver (efs.csi.aws.com) and a
	// claim bound to exactly that volume.
	// +optional
	EFS *EFSStorage `json:"efs,omitempty"`

	// storageClassName claims a new ReadWriteMany volume of size from this
	// class (NFS, CephFS, EFS dynamic provisioning, ...).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`

	// size of the claim made from storageClassName.
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`

	// accessMode of the claim made from storageClassName. ReadWriteMany
	// (unset) lets replicas on any node share the packages;
	// ReadWriteOnce, for a class with nothing else (a block volume), is
	// allowed only with one replica and no autoscaling, and rolls out by
	// stopping the old pod before starting the new one.
	// +optional
	// +kubebuilder:validation:Enum=ReadWriteMany;ReadWriteOnce
	AccessMode *corev1.PersistentVolumeAccessMode `json:"accessMode,omitempty"`

	// existingClaim names a ReadWriteMany PersistentVolumeClaim in this
	// namespace that the operator uses but never changes or deletes.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ExistingClaim *string `json:"existingClaim,omitempty"`

	// mountOptions of the EFS volume. Empty means AWS's recommended NFS
	// options plus lookupcache=positive, so a file another replica just
	// uploaded is never answered with a cached 404 (docs/consistency.md).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	MountOptions []string `json:"mountOptions,omitempty"`

	// reclaimPolicy says what happens to the PersistentVolume the operator
	// created when the PackageIndex is deleted: Retain keeps it (released),
	// Delete removes the PersistentVolume object. Files are never deleted.
	// +optional
	// +kubebuilder:default=Retain
	ReclaimPolicy ReclaimPolicy `json:"reclaimPolicy,omitempty"`
}

// EFSStorage points at an Amazon EFS file system, optionally through an
// access point and below a path.
type EFSStorage struct {
	// fileSystemID is the file system, fs- and hexadecimal digits.
	// +required
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^fs-[0-9a-f]{8,40}$')",message="efs.fileSystemID must look like fs-0123456789abcdef0"
	FileSystemID string `json:"fileSystemID"`

	// accessPointID is an EFS access point, fsap- and hexadecimal digits.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^fsap-[0-9a-f]{8,40}$')",message="efs.accessPointID must look like fsap-0123456789abcdef0"
	AccessPointID string `json:"accessPointID,omitempty"`

	// path below the file system's (or access point's) root to serve.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/') && !self.contains(':')",message="efs.path must be absolute and must not contain ':'"
	Path string `json:"path,omitempty"`

	// encryptInTransit mounts through TLS.
	// +optional
	// +kubebuilder:default=true
	EncryptInTransit *bool `json:"encryptInTransit,omitempty"`
}

// AuthAction is a server action that can require a password.
// +kubebuilder:validation:Enum=update;download;list
type AuthAction string

const (
	// AuthUpdate covers uploads and removals.
	AuthUpdate AuthAction = "update"
	// AuthDownload covers package file downloads.
	AuthDownload AuthAction = "download"
	// AuthList covers the Simple API and other listings.
	AuthList AuthAction = "list"
)

// AuthSpec names the htpasswd file, kept in a Secret, and the actions that
// need a password. The server re-reads the file when the Secret changes,
// so changing passwords does not restart pods.
type AuthSpec struct {
	// secretName is a Secret in this namespace holding the htpasswd file.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`

	// key of the htpasswd file in the Secret.
	// +optional
	// +kubebuilder:default=htpasswd
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`

	// actions that need a password.
	// +optional
	// +listType=set
	// +kubebuilder:default={update}
	Actions []AuthAction `json:"actions,omitempty"`
}

// PolicyRight is a right a policy grants.
// +kubebuilder:validation:Enum=upload;yank;remove;status;download;list;"*"
type PolicyRight string

// PolicySpec is the server's policy file; see docs/access.md.
type PolicySpec struct {
	// audience identity tokens of publishers and service accounts must be
	// issued for; pkgindex when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Audience string `json:"audience,omitempty"`

	// grants give rights over project patterns to identities. Within the
	// grants naming an identity the same way, the most specific matching
	// pattern decides; see docs/access.md.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1000
	Grants []PolicyGrant `json:"grants,omitempty"`

	// publishers are OIDC trusted publishers that grants may name.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=100
	Publishers []PolicyPublisher `json:"publishers,omitempty"`
}

// PolicyGrant gives rights over projects to identities.
// +kubebuilder:validation:XValidation:rule="(has(self.anyone) && self.anyone) || (has(self.users) && size(self.users) > 0) || (has(self.serviceAccounts) && size(self.serviceAccounts) > 0) || (has(self.namespaces) && size(self.namespaces) > 0) || (has(self.publishers) && size(self.publishers) > 0)",message="a grant must name users, serviceAccounts, namespaces, publishers, or anyone: true"
type PolicyGrant struct {
	// projects are PEP 503 names or patterns in which * stands for any
	// run of characters; * alone is every project.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9._*-]+$`
	Projects []string `json:"projects"`

	// rights granted; * is all of them.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	Rights []PolicyRight `json:"rights"`

	// users are htpasswd user names.
	// +optional
	// +listType=set
	Users []string `json:"users,omitempty"`

	// A pattern checks the names, not a CEL rule: one over every account
	// of up to 1000 grants exceeds the API server's cost budget for the
	// schema.

	// serviceAccounts are <namespace>/<name>, or the API server's
	// system:serviceaccount:<namespace>:<name>; the operator writes both as
	// the first into the policy file.
	// +optional
	// +listType=set
	// +kubebuilder:validation:items:Pattern=`^([a-z0-9.-]+/[a-z0-9.-]+|system:serviceaccount:[a-z0-9.-]+:[a-z0-9.-]+)$`
	ServiceAccounts []string `json:"serviceAccounts,omitempty"`

	// namespaces grant to every service account of these namespaces.
	// +optional
	// +listType=set
	Namespaces []string `json:"namespaces,omitempty"`

	// publishers are names of the policy's publishers.
	// +optional
	// +listType=set
	Publishers []string `json:"publishers,omitempty"`

	// anyone grants to every request, with or without credentials.
	// +optional
	Anyone bool `json:"anyone,omitempty"`
}

// ConfigMapKey names a key of a ConfigMap in the index's namespace.
type ConfigMapKey struct {
	// name of the ConfigMap.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key in it.
	// +optional
	// +kubebuilder:default=jwks.json
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// PolicyPublisher is an OIDC trusted publisher: tokens of an issuer whose
// claims match every rule.
// +kubebuilder:validation:XValidation:rule="!(has(self.jwksURL) && has(self.jwksConfigMap))",message="publishers[]: jwksURL and jwksConfigMap exclude each other"
type PolicyPublisher struct {
	// name the grants use.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// issuer is the OIDC issuer URL, e.g.
	// https://token.actions.githubusercontent.com.
	// +required
	// +kubebuilder:validation:XValidation:rule="isURL(self) && self.startsWith('https://')",message="publishers[].issuer must be an https URL"
	Issuer string `json:"issuer"`

	// jwksURL is where the issuer's keys are; the one its discovery
	// document names when empty.
	// +optional
	// +kubebuilder:validation:XValidation:rule="isURL(self) && self.startsWith('https://')",message="publishers[].jwksURL must be an https URL"
	JWKSURL string `json:"jwksURL,omitempty"`

	// jwksConfigMap holds the issuer's keys (a JWKS document) for a
	// cluster that cannot reach the issuer; it is mounted into the pods.
	// +optional
	JWKSConfigMap *ConfigMapKey `json:"jwksConfigMap,omitempty"`

	// claims must all match: claim name to pattern, * standing for any
	// run of characters.
	// +required
	// +kubebuilder:validation:MinProperties=1
	Claims map[string]string `json:"claims"`
}

// HashAlgorithm is the digest the server puts in links and JSON.
// +kubebuilder:validation:Enum=md5;sha1;sha224;sha256;sha384;sha512;none
type HashAlgorithm string

// LogFormat is the server's log encoding.
// +kubebuilder:validation:Enum=text;json
type LogFormat string

// LogLevel is the least severe server log line written.
// +kubebuilder:validation:Enum=debug;info;warn;error
type LogLevel string

// ServerSpec maps to `pkgindex serve` flags.
// +kubebuilder:validation:XValidation:rule="!has(self.policy) || !has(self.writers) || size(self.writers) == 0",message="server.writers and server.policy cannot both be set: with a policy, the policy alone decides who may upload (grant upload to those users there)"
type ServerSpec struct {
	// auth requires passwords (htpasswd) for some actions.
	// +optional
	Auth *AuthSpec `json:"auth,omitempty"`

	// policy says who may do what to which project (--policy): htpasswd
	// users, service accounts, namespaces and OIDC trusted publishers get
	// rights over project name patterns. The operator writes it into a
	// ConfigMap named after the index, which the server reloads when it
	// changes, and, when a grant names a service account or a namespace,
	// lets the pods review tokens (their ServiceAccount, the one
	// serviceAccount names or else one of the index's name, bound to
	// system:auth-delegator). With a policy, auth.actions and writers are
	// not consulted; auth still names the htpasswd file.
	// +optional
	Policy *PolicySpec `json:"policy,omitempty"`

	// overwrite lets an upload replace an existing file (--overwrite).
	// +optional
	Overwrite bool `json:"overwrite,omitempty"`

	// fallbackURL redirects requests for unknown projects there
	// (--fallback-url), e.g. https://pypi.org/simple.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && (self.startsWith('http://') || self.startsWith('https://'))",message="server.fallbackURL must be an http or https URL"
	FallbackURL string `json:"fallbackURL,omitempty"`

	// hashAlgorithm is the digest in links and JSON (--hash-algo).
	// +optional
	// +kubebuilder:default=sha256
	HashAlgorithm HashAlgorithm `json:"hashAlgorithm,omitempty"`

	// maxUploadSize refuses larger uploads (--max-upload-size).
	// +optional
	MaxUploadSize *resource.Quantity `json:"maxUploadSize,omitempty"`

	// cacheControl is the max-age, in seconds, sent with package files
	// (--cache-control).
	// +optional
	// +kubebuilder:validation:Minimum=0
	CacheControl *int32 `json:"cacheControl,omitempty"`

	// logFormat of the server (--log-format).
	// +optional
	// +kubebuilder:default=json
	LogFormat LogFormat `json:"logFormat,omitempty"`

	// logLevel of the server (--log-level).
	// +optional
	// +kubebuilder:default=info
	LogLevel LogLevel `json:"logLevel,omitempty"`

	// layout is where a project's files lie on the volume (--layout).
	// per-project: in the root and in <root>/<project>/, as uploads write
	// them; a request checks the root and the project's directory only,
	// so on EFS its cost does not grow with the index. any: pypiserver's,
	// anywhere below the root; every request checks every directory, one
	// EFS round trip each. Choose any for a tree moved over from
	// pypiserver with deeper directories: the per-project layout does not
	// serve files nested deeper or lying in another project's directory.
	// +optional
	// +kubebuilder:default=per-project
	Layout Layout `json:"layout,omitempty"`

	// writers are the users of the password file allowed to upload,
	// remove, yank and set a project's status (--writers); empty means
	// every user of the file. Only meaningful with auth.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.all(w, !w.contains(',') && !w.contains(':'))",message="server.writers are user names of the password file: no ',' or ':'"
	Writers []string `json:"writers,omitempty"`

	// welcome is an HTML page, from a ConfigMap key, shown at the index's
	// root instead of the built-in one (--welcome); pypiserver's
	// placeholders work. The server reads it when a pod starts, so a
	// changed page shows after the next rollout.
	// +optional
	Welcome *ConfigMapKeyRef `json:"welcome,omitempty"`

	// serverBaseURL is the path prefix the index is served under
	// (--server-base-url), e.g. /pypi behind a proxy that does not strip
	// it. The probes, the metrics path, the Ingress and the status URL
	// follow it.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^(/[A-Za-z0-9._~-]+)*/?$') && !self.contains('/./') && !self.contains('/../') && !self.endsWith('/..') && !self.endsWith('/.')",message="server.serverBaseURL must be a plain absolute path such as /pypi: letters, digits, '.', '_', '~', '-' between slashes"
	ServerBaseURL string `json:"serverBaseURL,omitempty"`

	// extraRoots are further package directories, each from a
	// PersistentVolumeClaim mounted read-only and served after the
	// packages volume, which alone receives uploads: a tree moved over
	// from an older index, kept where it is.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	ExtraRoots []ExtraRoot `json:"extraRoots,omitempty"`

	// extraArgs are further `pkgindex serve` flags, each one argument:
	// --flag or --flag=value. The operator parses them, with the spec's
	// own, as the server would, and refuses ones the server would not
	// start with (Degraded, ServerArgsInvalid) instead of rolling out pods
	// that crash. The listen address and the roots are the operator's, and
	// what has a field (passwords, welcome page, base URL) is set there.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=4096
	// +kubebuilder:validation:XValidation:rule="self.all(a, a.startsWith('-'))",message="server.extraArgs must each be one flag, --flag or --flag=value, so the operator can check it; values go after '='"
	// +kubebuilder:validation:XValidation:rule="!self.exists(a, a.matches('^--?(root|listen|port|host|interface|p|i|H)(=.*)?$'))",message="server.extraArgs must not set --root, --listen or their aliases: the operator owns the package directories and the port the probes and the Service use; use storage and server.extraRoots"
	// +kubebuilder:validation:XValidation:rule="!self.exists(a, a.matches('^--?(passwords|P|welcome|server-base-url|log-file|version)(=.*)?$'))",message="server.extraArgs must not set --passwords, --welcome, --server-base-url, --log-file or --version: use server.auth, server.welcome and server.serverBaseURL, which mount the files and move the probes these need; the root file system is read-only, and --version exits"
	ExtraArgs []string `json:"extraArgs,omitempty"`

	// env is added to the server container's environment, e.g. a
	// PKGINDEX_* setting taken from a Secret. The listen address and the
	// roots are the operator's.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="!self.exists(e, e.name in ['PKGINDEX_ROOT', 'PKGINDEX_LISTEN', 'PKGINDEX_PORT', 'PKGINDEX_HOST', 'PKGINDEX_INTERFACE'])",message="server.env must not set PKGINDEX_ROOT, PKGINDEX_LISTEN, PKGINDEX_PORT, PKGINDEX_HOST or PKGINDEX_INTERFACE: the operator owns the package directories and the port the probes and the Service use"
	// +kubebuilder:validation:XValidation:rule="!self.exists(e, e.name in ['PKGINDEX_PASSWORDS', 'PKGINDEX_WELCOME', 'PKGINDEX_SERVER_BASE_URL', 'PKGINDEX_LOG_FILE'])",message="server.env must not set PKGINDEX_PASSWORDS, PKGINDEX_WELCOME, PKGINDEX_SERVER_BASE_URL or PKGINDEX_LOG_FILE: use server.auth, server.welcome and server.serverBaseURL, which mount the files and move the probes these need; the root file system is read-only"
	Env []corev1.EnvVar `json:"env,omitempty"`
}

// ConfigMapKeyRef names one key of a ConfigMap in the index's namespace.
type ConfigMapKeyRef struct {
	// name of the ConfigMap.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key in the ConfigMap.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// ExtraRoot is a read-only package directory from a claim.
type ExtraRoot struct {
	// name tells the roots apart; the directory is mounted at
	// /roots/<name> in the pod.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=58
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// claimName is a PersistentVolumeClaim in this namespace; the operator
	// mounts it read-only and never changes it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ClaimName string `json:"claimName"`

	// subPath below the claim's root to serve.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('/') && !self.split('/').exists(p, p == '..')",message="extraRoots[].subPath must be relative and must not contain '..'"
	SubPath string `json:"subPath,omitempty"`
}

// Layout is where a project's files lie below the package directory.
// +kubebuilder:validation:Enum=per-project;any
type Layout string

// Layouts the server knows.
const (
	LayoutPerProject Layout = "per-project"
	LayoutAny        Layout = "any"
)

// RunAsSpec is the POSIX identity of the server process. The pod's fsGroup
// is the group, so volumes that honour fsGroup are writable too.
type RunAsSpec struct {
	// user id; must not be 0.
	// +optional
	// +kubebuilder:default=65532
	// +kubebuilder:validation:Minimum=1
	User *int64 `json:"user,omitempty"`

	// group id, also the pod's fsGroup.
	// +optional
	// +kubebuilder:default=65532
	// +kubebuilder:validation:Minimum=1
	Group *int64 `json:"group,omitempty"`
}

// ServiceSpec shapes the Service in front of the replicas.
type ServiceSpec struct {
	// type of the Service.
	// +optional
	// +kubebuilder:default=ClusterIP
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	Type corev1.ServiceType `json:"type,omitempty"`

	// port of the Service.
	// +optional
	// +kubebuilder:default=8080
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port *int32 `json:"port,omitempty"`

	// annotations of the Service, e.g. for a cloud load balancer.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// PodDisruptionBudgetSpec shapes the PodDisruptionBudget.
type PodDisruptionBudgetSpec struct {
	// enabled creates the budget when more than one replica runs.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// maxUnavailable pods during voluntary disruptions.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:XIntOrString
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
}

// IngressSpec routes hosts to the index through an Ingress.
// +kubebuilder:validation:XValidation:rule="has(self.host) != has(self.hosts)",message="ingress needs host (one host) or hosts (several, each with its paths and TLS), not both"
// +kubebuilder:validation:XValidation:rule="!has(self.tlsSecretName) || has(self.host)",message="ingress.tlsSecretName goes with ingress.host; with hosts, give each its tlsSecretName"
type IngressSpec struct {
	// className of the Ingress controller. With nginx (a class named nginx
	// or nginx-...), the request body limit annotation follows
	// server.maxUploadSize: nginx's default of 1 MiB refuses most uploads.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ClassName *string `json:"className,omitempty"`

	// host the index is served at, on every path below server.serverBaseURL.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host,omitempty"`

	// tlsSecretName names a TLS Secret for host; empty means plain HTTP.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	TLSSecretName string `json:"tlsSecretName,omitempty"`

	// hosts the index is served at, each with its own paths and TLS
	// Secret.
	// +optional
	// +listType=map
	// +listMapKey=host
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	Hosts []IngressHost `json:"hosts,omitempty"`

	// annotations of the Ingress; they win over the ones the operator
	// sets.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// IngressHost is one host of an Ingress.
type IngressHost struct {
	// host name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`

	// paths (prefixes) routed to the index; empty means
	// server.serverBaseURL, or / without it.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.all(p, p.startsWith('/'))",message="ingress.hosts[].paths must start with '/'"
	Paths []string `json:"paths,omitempty"`

	// tlsSecretName names a TLS Secret for this host; empty means plain
	// HTTP.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	TLSSecretName string `json:"tlsSecretName,omitempty"`
}

// HTTPRouteSpec routes hosts to the index through a Gateway API HTTPRoute.
type HTTPRouteSpec struct {
	// parentRefs are the Gateways (or listeners of them, by sectionName)
	// the route attaches to.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	ParentRefs []ParentReference `json:"parentRefs"`

	// hostnames the route matches; empty means the Gateway's.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	Hostnames []string `json:"hostnames,omitempty"`

	// annotations of the HTTPRoute.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ParentReference names a Gateway, as the Gateway API's parentRefs do.
type ParentReference struct {
	// group of the parent; empty means gateway.networking.k8s.io.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Group *string `json:"group,omitempty"`

	// kind of the parent; empty means Gateway.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Kind *string `json:"kind,omitempty"`

	// namespace of the parent; empty means the index's.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace *string `json:"namespace,omitempty"`

	// name of the parent.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// sectionName is a listener of the Gateway.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	SectionName *string `json:"sectionName,omitempty"`
}

// NetworkPolicySpec admits traffic to the server port from some
// namespaces, and limits what the pods may connect to.
type NetworkPolicySpec struct {
	// fromNamespaces selects the namespaces whose pods may connect; unset
	// means only this namespace, {} means every namespace.
	// +optional
	FromNamespaces *metav1.LabelSelector `json:"fromNamespaces,omitempty"`

	// egress says what the pods may connect to. Restricted (the default)
	// allows DNS, the ports of upstream.urls, and the HTTPS ports of the
	// policy's OIDC issuers whose keys are fetched; nothing at all else.
	// While the policy grants to service accounts or namespaces, the
	// pods must reach the API server, whose address and port differ from
	// cluster to cluster, so egress is left open then. Unrestricted leaves
	// egress open always, e.g. for a sidecar of a service mesh.
	// +optional
	// +kubebuilder:default=Restricted
	Egress EgressMode `json:"egress,omitempty"`
}

// EgressMode is how the NetworkPolicy treats the pods' outgoing traffic.
// +kubebuilder:validation:Enum=Restricted;Unrestricted
type EgressMode string

// Egress modes.
const (
	EgressRestricted   EgressMode = "Restricted"
	EgressUnrestricted EgressMode = "Unrestricted"
)

// ServiceMonitorSpec shapes the Prometheus Operator ServiceMonitor.
type ServiceMonitorSpec struct {
	// interval between scrapes.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Pattern=`^[0-9]+(ms|s|m|h)$`
	Interval string `json:"interval,omitempty"`

	// labels of the ServiceMonitor, for a Prometheus serviceMonitorSelector.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// PrometheusRuleSpec shapes the Prometheus Operator PrometheusRule.
type PrometheusRuleSpec struct {
	// labels of the PrometheusRule, for a Prometheus ruleSelector.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// alertLabels are added to every alert, e.g. the team an
	// Alertmanager route sends them to.
	// +optional
	AlertLabels map[string]string `json:"alertLabels,omitempty"`
}

// Condition types of a PackageIndex.
const (
	// ConditionReady summarises: the index answers through its Service.
	ConditionReady = "Ready"
	// ConditionProgressing is true while the operator or a rollout is
	// still moving the cluster towards the spec.
	ConditionProgressing = "Progressing"
	// ConditionDegraded is true when something needs a person: a missing
	// Secret, a storage conflict, a failed rollout or a refused change.
	ConditionDegraded = "Degraded"
)

// Condition reasons, CamelCase as Kubernetes requires.
const (
	// ReasonAvailable: the Deployment reports enough ready replicas.
	ReasonAvailable = "Available"
	// ReasonUnavailable: no replica is ready yet.
	ReasonUnavailable = "Unavailable"
	// ReasonRollingOut: the Deployment is replacing or adding pods.
	ReasonRollingOut = "RollingOut"
	// ReasonRolloutComplete: every replica runs the current template.
	ReasonRolloutComplete = "RolloutComplete"
	// ReasonRolloutFailed: the Deployment exceeded its progress deadline.
	ReasonRolloutFailed = "RolloutFailed"
	// ReasonClaimPending: the PersistentVolumeClaim is not bound yet.
	ReasonClaimPending = "ClaimPending"
	// ReasonClaimMissing: storage.existingClaim names no claim.
	ReasonClaimMissing = "ClaimMissing"
	// ReasonClaimLost: the claim's volume is gone.
	ReasonClaimLost = "ClaimLost"
	// ReasonStorageConflict: a PersistentVolume or claim of the name the
	// operator would use exists and belongs to someone else.
	ReasonStorageConflict = "StorageConflict"
	// ReasonServerArgsInvalid: server.extraArgs or server.env hold a
	// setting the server would not start with; the Deployment is left as
	// it was.
	ReasonServerArgsInvalid = "ServerArgsInvalid"
	// ReasonWelcomeMissing: server.welcome names a ConfigMap or key that is
	// absent.
	ReasonWelcomeMissing = "WelcomeMissing"
	// ReasonJWKSMissing: a publisher's jwksConfigMap names a ConfigMap or
	// key that is absent, so the pods cannot start.
	ReasonJWKSMissing = "JWKSMissing"
	// ReasonHTTPRouteSkipped: httpRoute is set but the Gateway API's
	// HTTPRoute CRD is not installed.
	ReasonHTTPRouteSkipped = "HTTPRouteSkipped"
	// ReasonAuthSecretMissing: server.auth names a Secret that is absent,
	// or lacks the key.
	ReasonAuthSecretMissing = "AuthSecretMissing"
	// ReasonUpstreamInputMissing: upstream.credentialsSecret or
	// upstream.caBundle names a Secret, ConfigMap or key that is absent,
	// so new pods cannot start.
	ReasonUpstreamInputMissing = "UpstreamInputMissing"
	// ReasonApplyFailed: the API server refused an object the operator
	// built.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonSuspended: spec.suspend is set; nothing is changed.
	ReasonSuspended = "Suspended"
	// ReasonAsExpected: nothing is wrong.
	ReasonAsExpected = "AsExpected"
)

// PackageIndexStatus is what the operator last saw in the cluster.
type PackageIndexStatus struct {
	// conditions: Ready (the summary), Progressing and Degraded.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// replicas is the number of server pods.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// readyReplicas is the number of server pods ready to serve.
	// +optional
	ReadyReplicas int32 `json:"readyReplicas,omitempty"`

	// selector of the server pods, for the scale subresource.
	// +optional
	Selector string `json:"selector,omitempty"`

	// url of the Simple API inside the cluster.
	// +optional
	URL string `json:"url,omitempty"`

	// storage summarises the storage source, e.g. efs:fs-0123456789abcdef0.
	// +optional
	Storage string `json:"storage,omitempty"`

	// volumeName is the PersistentVolume holding the packages.
	// +optional
	VolumeName string `json:"volumeName,omitempty"`
}

// PackageIndex runs a private Python package index: replicas of
// `pkgindex serve` on shared storage, behind a Service.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:subresource:scale:specpath=.spec.replicas,statuspath=.status.replicas,selectorpath=.status.selector
// +kubebuilder:resource:shortName=pkgidx,categories=all
// +kubebuilder:validation:XValidation:rule="!has(self.spec.storage.accessMode) || self.spec.storage.accessMode != 'ReadWriteOnce' || (!has(self.spec.autoscaling) && has(self.spec.replicas) && self.spec.replicas <= 1)",message="storage.accessMode ReadWriteOnce needs replicas: 1 and no autoscaling: a ReadWriteOnce volume is mounted by one node at a time, so further replicas elsewhere would never start"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.upstream) || !has(self.spec.server) || !has(self.spec.server.fallbackURL)",message="spec.upstream and spec.server.fallbackURL exclude each other: the upstream serves unknown projects itself, where the fallback would redirect them"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.upstream) || !has(self.spec.upstream.credentialsSecret) || !has(self.spec.server) || !has(self.spec.server.env) || !self.spec.server.env.exists(e, e.name in ['PKGINDEX_UPSTREAM_USER', 'PKGINDEX_UPSTREAM_PASSWORD', 'PKGINDEX_UPSTREAM_CREDENTIALS'])",message="server.env must not set PKGINDEX_UPSTREAM_USER, PKGINDEX_UPSTREAM_PASSWORD or PKGINDEX_UPSTREAM_CREDENTIALS beside upstream.credentialsSecret, which sets them"
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="metadata.name must be at most 63 lower-case letters, digits and '-', starting with a letter: it names the Service and is used as a label value"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Replicas",type=integer,JSONPath=`.status.readyReplicas`
// +kubebuilder:printcolumn:name="Storage",type=string,JSONPath=`.status.storage`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.url`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PackageIndex struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired index.
	// +required
	Spec PackageIndexSpec `json:"spec"`

	// status is the index as last observed.
	// +optional
	Status PackageIndexStatus `json:"status,omitempty"`
}

// PackageIndexList is a list of PackageIndex.
// +kubebuilder:object:root=true
type PackageIndexList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the PackageIndexes.
	Items []PackageIndex `json:"items"`
}
