# Sourced by hack/envtest-bins.sh, hack/kubectl-bin.sh and hack/node-bins.sh:
# sets up a throwaway Go module from which binaries of k8s.io/kubernetes
# build, in a temporary directory that it enters and that is removed when
# the script exits.
#
# k8s.io/kubernetes replaces its staging modules with ./staging directories,
# and replace directives of a dependency do not apply to the module that
# requires it, so the wrapper pins every staging module to the matching
# v0.X release (staging modules are released as v0.<minor>.<patch> beside
# v1.<minor>.<patch>).
#
# usage: k8s_wrapper K8S_VERSION 'extra require lines' PACKAGE...
#   PACKAGE... are the main packages to build, kept in the module graph by
#   blank imports so that go mod tidy resolves them.
# Also sets k8s_ldflags: the version ldflags, without which the binaries
# report v0.0.0-master.

k8s_wrapper() {
  local version="$1" extra="$2"
  shift 2
  local staging_version="v0.${version#*.}" kmod staging m minor pkg vpkg
  export GOFLAGS=-mod=mod CGO_ENABLED=0

  k8s_work="$(mktemp -d)"
  trap 'rm -rf "$k8s_work"' EXIT
  cd "$k8s_work"
  go mod init k8s.bins/wrapper >/dev/null 2>&1
  # The staging modules k8s.io/kubernetes requires, read from its own go.mod.
  kmod="$(go mod download -json "k8s.io/kubernetes@v$version" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
  staging=$(awk '/^\tk8s\.io\/[^ ]+ v0\.0\.0$/ {print $1}' "$kmod" | sort -u)
  if [ -z "$staging" ]; then
    echo "no staging modules found in $kmod" >&2
    return 1
  fi
  {
    echo "require k8s.io/kubernetes v$version"
    [ -z "$extra" ] || echo "$extra"
    echo "replace ("
    for m in $staging; do echo "	$m => $m $staging_version"; done
    echo ")"
  } >>go.mod
  {
    echo "//go:build tools"
    echo
    echo "package tools"
    echo
    echo "import ("
    for pkg in "$@"; do echo "	_ \"$pkg\""; done
    echo ")"
  } >tools.go
  echo "k8s-wrapper: resolving modules for kubernetes v$version (staging $staging_version)" >&2
  go mod tidy >/dev/null
  go mod download

  minor="${version#*.}"; minor="${minor%%.*}"
  k8s_ldflags="-s -w"
  # kubectl also reports client-go's copy of the version package.
  for vpkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    k8s_ldflags="$k8s_ldflags \
 -X $vpkg.gitVersion=v$version \
 -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=$minor \
 -X $vpkg.gitTreeState=clean \
 -X $vpkg.buildDate=1970-01-01T00:00:00Z \
 -X $vpkg.gitCommit=v$version"
  done
}
