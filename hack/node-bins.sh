#!/usr/bin/env bash
# Builds the node and control-plane binaries a real single-node cluster
# needs beyond what envtest has (kube-controller-manager, kube-scheduler,
# kubelet, kube-proxy), from the Go module proxy, into bin/k8s/<version>/.
# Binaries already there are not rebuilt.
#
# They are built for the reason hack/envtest-bins.sh gives, through the same
# wrapper module (hack/k8s-wrapper.sh); the API server and etcd come from
# that script.
#
# usage: hack/node-bins.sh [kubernetes-version]   prints the directory
set -euo pipefail

K8S_VERSION="${1:-${K8S_VERSION:-1.37.2}}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bin/k8s/$K8S_VERSION"
NAMES=(kube-controller-manager kube-scheduler kubelet kube-proxy)

missing=()
for name in "${NAMES[@]}"; do
  [ -x "$OUT/$name" ] || missing+=("$name")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$OUT"
  exit 0
fi

pkgs=()
for name in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$name"); done
# shellcheck source=k8s-wrapper.sh
. "$ROOT/hack/k8s-wrapper.sh"
k8s_wrapper "$K8S_VERSION" "" "${pkgs[@]}"
log() { echo "node-bins: $*" >&2; }

mkdir -p "$OUT"
for name in "${missing[@]}"; do
  start=$SECONDS
  log "building $name v$K8S_VERSION"
  go build -trimpath -ldflags "$k8s_ldflags" -o "$OUT/$name.tmp" "k8s.io/kubernetes/cmd/$name"
  mv "$OUT/$name.tmp" "$OUT/$name"
  log "built $name in $((SECONDS - start))s"
done
echo "$OUT"
