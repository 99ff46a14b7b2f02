#!/usr/bin/env bash
# Builds kubectl of the same release as the envtest kube-apiserver, from the
# Go module proxy, into bin/kubectl-v<version>. Nothing is built when it is
# there.
#
# It is built rather than downloaded for the reason hack/envtest-bins.sh
# gives, through the same wrapper module (hack/k8s-wrapper.sh). The
# machine's kubectl may be several minors older than the API server, outside
# the supported skew for server-side dry runs of new fields, hence the pin.
#
# usage: hack/kubectl-bin.sh [kubernetes-version]   prints the binary's path
set -euo pipefail

K8S_VERSION="${1:-${K8S_VERSION:-1.37.2}}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/bin/kubectl-v$K8S_VERSION"

if [ -x "$OUT" ]; then
  echo "$OUT"
  exit 0
fi

# shellcheck source=k8s-wrapper.sh
. "$ROOT/hack/k8s-wrapper.sh"
k8s_wrapper "$K8S_VERSION" "" k8s.io/kubernetes/cmd/kubectl

start=$SECONDS
echo "kubectl-bin: building kubectl v$K8S_VERSION (about 3 minutes cold)" >&2
mkdir -p "$(dirname "$OUT")"
go build -trimpath -ldflags "$k8s_ldflags" -o "$OUT.tmp" k8s.io/kubernetes/cmd/kubectl
mv "$OUT.tmp" "$OUT"
echo "kubectl-bin: built in $((SECONDS - start))s" >&2
"$OUT" version --client >&2
echo "$OUT"
