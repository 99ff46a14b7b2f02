#!/usr/bin/env bash
# Builds the kube-apiserver and etcd binaries envtest runs, from the Go module
# proxy, into bin/k8s/<version>/. Nothing is built when both are there.
#
# They are built rather than downloaded because the envtest release archives
# are not reachable from CI. k8s.io/kubernetes replaces its staging modules
# with ./staging directories, and replace directives of a dependency do not
# apply to the module that requires it, so a throwaway wrapper module outside
# the repository pins every staging module to the matching v0.X release.
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

# Staging modules are released as v0.<minor>.<patch> beside v1.<minor>.<patch>.
STAGING_VERSION="v0.${K8S_VERSION#*.}"
export GOFLAGS=-mod=mod CGO_ENABLED=0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

log() { echo "envtest-bins: $*" >&2; }

go mod init envtest.bins/wrapper >/dev/null 2>&1

# The staging modules k8s.io/kubernetes requires, read from its own go.mod.
kmod="$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
staging=$(awk '/^\tk8s\.io\/[^ ]+ v0\.0\.0$/ {print $1}' "$kmod" | sort -u)
if [ -z "$staging" ]; then
  log "no staging modules found in $kmod"
  exit 1
fi
{
  echo "require k8s.io/kubernetes v$K8S_VERSION"
  echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
  echo "replace ("
  for m in $staging; do echo "	$m => $m $STAGING_VERSION"; done
  echo ")"
} >>go.mod

# Blank imports keep both main packages in the module graph for go mod tidy.
cat >tools.go <<GO
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
GO
log "resolving modules for kubernetes v$K8S_VERSION (staging $STAGING_VERSION), etcd $ETCD_VERSION"
go mod tidy >/dev/null
go mod download

mkdir -p "$OUT.tmp"
minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
vpkg=k8s.io/component-base/version
ldflags="-s -w \
 -X $vpkg.gitVersion=v$K8S_VERSION \
 -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor \
 -X $vpkg.gitTreeState=clean \
 -X $vpkg.buildDate=1970-01-01T00:00:00Z \
 -X $vpkg.gitCommit=v$K8S_VERSION"

start=$SECONDS
log "building etcd $ETCD_VERSION"
go build -trimpath -ldflags "-s -w" -o "$OUT.tmp/etcd" go.etcd.io/etcd/server/v3
log "building kube-apiserver v$K8S_VERSION (minutes when the Go build cache is cold)"
go build -trimpath -ldflags "$ldflags" -o "$OUT.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
log "built in $((SECONDS - start))s"

rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
"$OUT/kube-apiserver" --version >&2
echo "$OUT"
