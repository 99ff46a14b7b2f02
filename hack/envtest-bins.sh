#!/usr/bin/env bash
# Builds the kube-apiserver and etcd binaries envtest runs, from the Go module
# proxy, into bin/k8s/<version>/. Nothing is built when both are there.
#
# They are built rather than downloaded because the envtest release archives
# are not reachable from CI, through a throwaway wrapper module outside the
# repository (hack/k8s-wrapper.sh says why one is needed).
#
# usage: hack/envtest-bins.sh [kubernetes-version]   prints the directory
set -euo pipefail

K8S_VERSION="${1:-${K8S_VERSION:-1.37.2}}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bin/k8s/$K8S_VERSION"

if [ -x "$OUT/kube-apiserver" ] && [ -x "$OUT/etcd" ]; then
  echo "$OUT"
  exit 0
fi

# shellcheck source=k8s-wrapper.sh
. "$ROOT/hack/k8s-wrapper.sh"
k8s_wrapper "$K8S_VERSION" "require go.etcd.io/etcd/server/v3 $ETCD_VERSION" \
  go.etcd.io/etcd/server/v3 k8s.io/kubernetes/cmd/kube-apiserver
log() { echo "envtest-bins: $*" >&2; }

mkdir -p "$OUT.tmp"
start=$SECONDS
log "building etcd $ETCD_VERSION"
go build -trimpath -ldflags "-s -w" -o "$OUT.tmp/etcd" go.etcd.io/etcd/server/v3
log "building kube-apiserver v$K8S_VERSION (minutes when the Go build cache is cold)"
go build -trimpath -ldflags "$k8s_ldflags" -o "$OUT.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
log "built in $((SECONDS - start))s"

rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
"$OUT/kube-apiserver" --version >&2
echo "$OUT"
