// Package v1alpha1 holds the PackageIndex API, group index.pkgindex.dev:
// the spec a platform team writes to get a private Python index on shared
// storage, and the status the operator reports back.
//
// +kubebuilder:object:generate=true
// +groupName=index.pkgindex.dev
package v1alpha1
