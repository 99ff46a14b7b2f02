package controllers

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"pkgindex.dev/pkgindex/api/v1alpha1"
	"pkgindex.dev/pkgindex/server/flags"
)

// Where the upstream's files are mounted in the server pod: each a
// directory of the Secret's or ConfigMap's keys. The server reads them at
// start, so a change shows after the next rollout.
const (
	upstreamCredentialsDir = "/etc/pkgindex/upstream-credentials"
	upstreamCADir          = "/etc/pkgindex/upstream-ca"
)

// The server's environment variables of one user and password for every
// upstream (server/upstream's EnvUser and EnvPassword; the operator does
// not import the server).
const (
	envUpstreamUser     = "PKGINDEX_UPSTREAM_USER"
	envUpstreamPassword = "PKGINDEX_UPSTREAM_PASSWORD"
)

// upstreamArgs are the server flags of spec.upstream, none without it.
func upstreamArgs(idx *v1alpha1.PackageIndex) []string {
	u := idx.Spec.Upstream
	if u == nil {
		return nil
	}
	var args []string
	for _, raw := range u.URLs {
		args = append(args, flags.Arg(flags.Upstream, raw))
	}
	if c := u.CredentialsSecret; c != nil && c.FileKey != "" {
		args = append(args, flags.Arg(flags.UpstreamCredentials, upstreamCredentialsDir+"/"+c.FileKey))
	}
	if ca := u.CABundle; ca != nil {
		args = append(args, flags.Arg(flags.UpstreamCA, upstreamCADir+"/"+ca.Key))
	}
	if u.TTL != nil {
		args = append(args, flags.Arg(flags.UpstreamTTL, u.TTL.Duration.String()))
	}
	if u.Timeout != nil {
		args = append(args, flags.Arg(flags.UpstreamTimeout, u.Timeout.Duration.String()))
	}
	if len(u.Merge) > 0 {
		args = append(args, flags.Arg(flags.UpstreamMerge, strings.Join(u.Merge, ",")))
	}
	if len(u.Deny) > 0 {
		args = append(args, flags.Arg(flags.UpstreamDeny, strings.Join(u.Deny, ",")))
	}
	if u.CacheSize != nil {
		args = append(args, flags.Arg(flags.UpstreamCacheSize, strconv.FormatInt(u.CacheSize.Value(), 10)))
	}
	if u.MaxPageSize != nil {
		args = append(args, flags.Arg(flags.UpstreamMaxPageSize, strconv.FormatInt(u.MaxPageSize.Value(), 10)))
	}
	if u.MaxFetches != nil {
		args = append(args, flags.Arg(flags.UpstreamMaxFetches, strconv.Itoa(int(*u.MaxFetches))))
	}
	return args
}

// operatorFileFlags name files the operator mounts into the pods, which
// its own check of the command line cannot read: it leaves them out.
var operatorFileFlags = []string{flags.UpstreamCredentials, flags.UpstreamCA}

// withoutOperatorFiles is args without the flags of operatorFileFlags.
func withoutOperatorFiles(args []string) []string {
	return slices.DeleteFunc(slices.Clone(args), func(a string) bool {
		return slices.ContainsFunc(operatorFileFlags, func(f string) bool {
			return strings.HasPrefix(a, "--"+f+"=")
		})
	})
}

// upstreamEnv is the environment that gives the server one user and
// password for every upstream, from the Secret's keys; none when the
// credentials come as a file or not at all.
func upstreamEnv(idx *v1alpha1.PackageIndex) []corev1.EnvVar {
	u := idx.Spec.Upstream
	if u == nil || u.CredentialsSecret == nil || u.CredentialsSecret.FileKey != "" {
		return nil
	}
	c := u.CredentialsSecret
	from := func(key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: c.Name},
			Key:                  key,
		}}
	}
	return []corev1.EnvVar{
		{Name: envUpstreamUser, ValueFrom: from(orDefault(c.UserKey, "username"))},
		{Name: envUpstreamPassword, ValueFrom: from(orDefault(c.PasswordKey, "password"))},
	}
}

// upstreamVolumes are the credentials file and the CA bundle of the
// upstream, each mounted as a directory holding its one key.
func upstreamVolumes(idx *v1alpha1.PackageIndex) ([]corev1.Volume, []corev1.VolumeMount) {
	u := idx.Spec.Upstream
	if u == nil {
		return nil, nil
	}
	var vols []corev1.Volume
	var mounts []corev1.VolumeMount
	if c := u.CredentialsSecret; c != nil && c.FileKey != "" {
		vols = append(vols, corev1.Volume{Name: "upstream-credentials", VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{
				SecretName:  c.Name,
				Items:       []corev1.KeyToPath{{Key: c.FileKey, Path: c.FileKey}},
				DefaultMode: new(int32(0o440)),
			},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: "upstream-credentials", MountPath: upstreamCredentialsDir, ReadOnly: true})
	}
	if ca := u.CABundle; ca != nil {
		v, m := configMapKeyVolume("upstream-ca", ca, upstreamCADir)
		vols, mounts = append(vols, v), append(mounts, m)
	}
	return vols, mounts
}

// upstreamPorts are the TCP ports the upstream URLs name, each once, in
// order: the explicit port, or the scheme's.
func upstreamPorts(idx *v1alpha1.PackageIndex) []int32 {
	var out []int32
	if u := idx.Spec.Upstream; u != nil {
		for _, raw := range u.URLs {
			if p := urlPort(raw); p != 0 && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// urlPort is the TCP port an http or https URL connects to; 0 for a URL
// that is neither (the schema refuses those).
func urlPort(raw string) int32 {
	u, err := url.Parse(raw)
	if err != nil {
		return 0
	}
	if _, p, err := net.SplitHostPort(u.Host); err == nil {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return 0
		}
		return int32(n)
	}
	switch u.Scheme {
	case "https":
		return 443
	case "http":
		return 80
	}
	return 0
}

// orDefault is s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
