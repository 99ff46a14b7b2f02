package controllers

import (
	"fmt"
	"maps"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// FieldOwner is the one server-side apply field manager of the operator.
const FieldOwner = "pkgindex-operator"

// Labels the operator sets. The app.kubernetes.io ones follow the
// recommended labels; the index.pkgindex.dev ones mark the cluster-scoped
// PersistentVolume, which cannot carry an owner reference, as ours.
const (
	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
	labelManagedBy = "app.kubernetes.io/managed-by"
	labelComponent = "app.kubernetes.io/component"

	// LabelIndexName and LabelIndexNamespace name the PackageIndex a
	// PersistentVolume belongs to.
	LabelIndexName      = "index.pkgindex.dev/name"
	LabelIndexNamespace = "index.pkgindex.dev/namespace"

	// AnnotationConfigHash on the pod template changes whenever the
	// server's configuration does, which rolls the pods.
	AnnotationConfigHash = "index.pkgindex.dev/config-hash"

	// Finalizer holds a PackageIndex until its PersistentVolume has been
	// dealt with according to the reclaim policy.
	Finalizer = "index.pkgindex.dev/volume"
)

// Paths and ports inside the server pod.
const (
	containerName = "pkgindex"
	dataDir       = "/data"
	authDir       = "/etc/pkgindex/auth"
	welcomeDir    = "/etc/pkgindex/welcome"
	extraRootsDir = "/roots"
	serverPort    = 8080
	portName      = "http"
)

// efsCapacity is written on the static PersistentVolume and its claim only
// because the API requires a size: EFS is elastic and ignores it.
var efsCapacity = resource.MustParse("1Ti")

// DefaultMountOptions returns the EFS mount options used when none are
// given: AWS's recommended NFS options, plus lookupcache=positive so a file
// another replica just uploaded is not answered with a cached "no such
// file". Each call gives a new slice, since every PersistentVolume built
// holds its own.
func DefaultMountOptions() []string {
	return []string{
		"nfsvers=4.1", "rsize=1048576", "wsize=1048576", "hard", "timeo=600", "retrans=2", "noresvport",
		"lookupcache=positive",
	}
}

// Options are the operator-wide inputs to the builders.
type Options struct {
	// Image runs the server when a PackageIndex names none.
	Image string
	// CheckServer checks the server's command line and environment
	// before they reach a pod; nil checks nothing.
	CheckServer ServerCheck
}

// selectorLabels select the server pods of idx; they never change, since a
// Deployment's selector is immutable.
func selectorLabels(idx *v1alpha1.PackageIndex) map[string]string {
	return map[string]string{
		labelName:     "pkgindex",
		labelInstance: idx.Name,
	}
}

// commonLabels go on every object built for idx.
func commonLabels(idx *v1alpha1.PackageIndex) map[string]string {
	l := selectorLabels(idx)
	l[labelManagedBy] = FieldOwner
	l[labelComponent] = "index"
	return l
}

// objectMeta names a namespaced object after idx, with the common labels.
func objectMeta(idx *v1alpha1.PackageIndex) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: idx.Name, Namespace: idx.Namespace, Labels: commonLabels(idx)}
}

// withAnnotations returns m with annotations set.
func withAnnotations(m metav1.ObjectMeta, annotations map[string]string) metav1.ObjectMeta {
	m.Annotations = annotations
	return m
}

// volumeName is the cluster-scoped PersistentVolume of an EFS index; the
// namespace is part of it because two namespaces may both have an index
// called "pypi".
func volumeName(idx *v1alpha1.PackageIndex) string {
	return fmt.Sprintf("pkgindex-%s-%s", idx.Namespace, idx.Name)
}

// claimName is the PersistentVolumeClaim the pods mount.
func claimName(idx *v1alpha1.PackageIndex) string {
	if c := idx.Spec.Storage.ExistingClaim; c != nil {
		return *c
	}
	return idx.Name + "-packages"
}

// servicePort is the port of the Service, defaulted by the schema.
func servicePort(idx *v1alpha1.PackageIndex) int32 {
	if p := idx.Spec.Service.Port; p != nil {
		return *p
	}
	return serverPort
}

// indexURL is the in-cluster address of the Simple API.
func indexURL(idx *v1alpha1.PackageIndex) string {
	return fmt.Sprintf("http://%s.%s.svc:%d%s/simple/", idx.Name, idx.Namespace, servicePort(idx), basePath(idx))
}

// basePath is the path prefix every route of the server has, "" or one
// such as /pypi, normalised as the server normalises --server-base-url.
func basePath(idx *v1alpha1.PackageIndex) string {
	p := strings.Trim(idx.Spec.Server.ServerBaseURL, "/")
	if p == "" {
		return ""
	}
	return "/" + p
}

// storageSummary is a short description of the storage source for the
// printer column.
func storageSummary(idx *v1alpha1.PackageIndex) string {
	s := idx.Spec.Storage
	switch {
	case s.EFS != nil:
		return "efs:" + s.EFS.FileSystemID
	case s.StorageClassName != nil:
		return "class:" + *s.StorageClassName
	case s.ExistingClaim != nil:
		return "claim:" + *s.ExistingClaim
	}
	return ""
}

// mergeLabels returns extra with base on top, so user labels never replace
// the ones the operator selects by.
func mergeLabels(base, extra map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(extra))
	maps.Copy(out, extra)
	maps.Copy(out, base)
	return out
}

// desiredReplicas is the replica count the operator sets, or nil when the
// HorizontalPodAutoscaler owns it.
func desiredReplicas(idx *v1alpha1.PackageIndex) *int32 {
	if idx.Spec.Autoscaling != nil {
		return nil
	}
	if idx.Spec.Replicas == nil {
		return new(int32(2))
	}
	return new(*idx.Spec.Replicas)
}

// minReplicas is the fewest pods that run: the autoscaler's floor, or the
// fixed count.
func minReplicas(idx *v1alpha1.PackageIndex) int32 {
	if a := idx.Spec.Autoscaling; a != nil {
		if a.MinReplicas != nil {
			return *a.MinReplicas
		}
		return 2
	}
	return *desiredReplicas(idx)
}
