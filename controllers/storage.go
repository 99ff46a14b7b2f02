package controllers

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"pkgindex.dev/pkgindex/api/v1alpha1"
)

// efsDriver is the CSI driver of Amazon EFS.
const efsDriver = "efs.csi.aws.com"

// efsVolumeHandle is the EFS CSI driver's volume handle:
// fs-id[:path[:fsap-id]], the path empty when only an access point is given.
func efsVolumeHandle(e *v1alpha1.EFSStorage) string {
	h := e.FileSystemID
	switch {
	case e.AccessPointID != "":
		h += ":" + e.Path + ":" + e.AccessPointID
	case e.Path != "":
		h += ":" + e.Path
	}
	return h
}

// mountOptions are the spec's options or the defaults for EFS.
func mountOptions(idx *v1alpha1.PackageIndex) []string {
	if len(idx.Spec.Storage.MountOptions) > 0 {
		return idx.Spec.Storage.MountOptions
	}
	return DefaultMountOptions()
}

// volumeLabels mark a PersistentVolume as belonging to idx; a cluster-scoped
// object cannot have a namespaced owner, so labels stand in for one.
func volumeLabels(idx *v1alpha1.PackageIndex) map[string]string {
	return mergeLabels(map[string]string{
		LabelIndexName:      idx.Name,
		LabelIndexNamespace: idx.Namespace,
	}, commonLabels(idx))
}

// ownsVolume reports whether pv was created for idx.
func ownsVolume(idx *v1alpha1.PackageIndex, pv *corev1.PersistentVolume) bool {
	return ownsLabels(idx, pv.Labels)
}

// volumeFor builds the static EFS PersistentVolume of idx, or nil when the
// storage is not EFS. Its reclaim policy is always Retain: whatever the
// PackageIndex says, the operator never lets a volume's data be deleted.
func volumeFor(idx *v1alpha1.PackageIndex) *corev1.PersistentVolume {
	e := idx.Spec.Storage.EFS
	if e == nil {
		return nil
	}
	encrypt := e.EncryptInTransit == nil || *e.EncryptInTransit
	return &corev1.PersistentVolume{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   volumeName(idx),
			Labels: volumeLabels(idx),
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: efsCapacity},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			VolumeMode:                    new(corev1.PersistentVolumeFilesystem),
			// Empty, so no dynamic provisioner or default class interferes.
			StorageClassName: "",
			MountOptions:     mountOptions(idx),
			// Reserved for our claim: no other claim can bind it first.
			ClaimRef: &corev1.ObjectReference{
				APIVersion: "v1",
				Kind:       "PersistentVolumeClaim",
				Namespace:  idx.Namespace,
				Name:       claimName(idx),
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				CSI: &corev1.CSIPersistentVolumeSource{
					Driver:       efsDriver,
					VolumeHandle: efsVolumeHandle(e),
					VolumeAttributes: map[string]string{
						"encryptInTransit": strconv.FormatBool(encrypt),
					},
				},
			},
		},
	}
}

// claimFor builds the PersistentVolumeClaim of idx: bound to exactly the
// EFS volume, or a new claim from a class. It is nil for an existing claim,
// which the operator only uses.
func claimFor(idx *v1alpha1.PackageIndex) *corev1.PersistentVolumeClaim {
	s := idx.Spec.Storage
	pvc := &corev1.PersistentVolumeClaim{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      claimName(idx),
			Namespace: idx.Namespace,
			Labels:    commonLabels(idx),
		},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			VolumeMode:  new(corev1.PersistentVolumeFilesystem),
		},
	}
	switch {
	case s.EFS != nil:
		// An empty class and the volume's name bind the claim to our
		// volume and nothing else.
		pvc.Spec.StorageClassName = new("")
		pvc.Spec.VolumeName = volumeName(idx)
		pvc.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: efsCapacity}
	case s.StorageClassName != nil && s.Size != nil:
		pvc.Spec.StorageClassName = new(*s.StorageClassName)
		pvc.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{accessMode(idx)}
		pvc.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: *s.Size}
	default:
		return nil
	}
	return pvc
}

// accessMode is the access mode of a claim made from a class.
func accessMode(idx *v1alpha1.PackageIndex) corev1.PersistentVolumeAccessMode {
	if m := idx.Spec.Storage.AccessMode; m != nil {
		return *m
	}
	return corev1.ReadWriteMany
}
