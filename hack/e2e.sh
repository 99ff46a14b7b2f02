#!/usr/bin/env bash
# End to end on a real single-node cluster (make e2e): brings Kubernetes up
# on this machine in a temporary directory (hack/e2e/cluster.sh), installs
# the operator with Helm, runs PackageIndexes from the image of make image,
# drives pip, twine and a client loop through real pods, publishes from
# Jobs with their service-account tokens, and takes it all down again,
# whatever happens. Each step is asserted; the wall time of
# each phase is printed at the end.
#
# Needs root, containerd, runc, the CNI plugins, iptables, conntrack,
# openssl, twine and pip, and these from make: bin/k8s/<version>/ (all
# seven binaries), helm, kubectl, kustomize, the image archives and the
# client (E2E_CLIENT, and its image for the Jobs).
#
# hack/e2e.sh --check only says whether this machine can run it (root and
# the distribution's tools), for make test to skip it where it cannot.
#
# E2E_KEEP=1 leaves the cluster up after the scenario (until Enter), for a
# look around with KUBECONFIG=<work dir>/kubeconfig.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
K8S_VERSION="${K8S_VERSION:-1.37.2}"
K8S_BIN="${K8S_BIN:-$ROOT/bin/k8s/$K8S_VERSION}"
KUBECTL="${KUBECTL:-$ROOT/bin/kubectl-v$K8S_VERSION}"
HELM="${HELM:-$ROOT/bin/helm-v3.22.0}"
E2E_CLIENT="${E2E_CLIENT:-$ROOT/bin/e2e-client}"
IMAGE_ARCHIVE="${IMAGE_ARCHIVE:-$ROOT/bin/pkgindex-image.tar}"
IMAGE="${E2E_IMAGE:-ghcr.io/pkgindex/pkgindex:e2e}"
PAUSE_ARCHIVE="${PAUSE_ARCHIVE:-$ROOT/bin/pause-image.tar}"
E2E_PAUSE_IMAGE="${E2E_PAUSE_IMAGE:-pkgindex.dev/e2e/pause:1}"
CLIENT_ARCHIVE="${CLIENT_ARCHIVE:-$ROOT/bin/e2e-client-image.tar}"
E2E_CLIENT_IMAGE="${E2E_CLIENT_IMAGE:-pkgindex.dev/e2e/client:1}"
PASSWORD="e2e-$RANDOM$RANDOM"
E2E_IMAGES=("$PAUSE_ARCHIVE" "$IMAGE_ARCHIVE" "$CLIENT_ARCHIVE")

# shellcheck source=hack/e2e/cluster.sh
. "$ROOT/hack/e2e/cluster.sh"

# host_missing prints what the host lacks to run the test, one a line.
host_missing() {
  local t
  [ "$(id -u)" = 0 ] || echo "root (it starts a kubelet and containerd)"
  for t in containerd runc ctr iptables iptables-save iptables-restore ip6tables-save ip6tables-restore \
    conntrack ip mountpoint openssl curl twine python3; do
    command -v "$t" >/dev/null || echo "$t"
  done
  python3 -m pip --version >/dev/null 2>&1 || echo "pip (python3 -m pip)"
  [ -x "$E2E_CNI_BIN/bridge" ] && [ -x "$E2E_CNI_BIN/host-local" ] && [ -x "$E2E_CNI_BIN/loopback" ] ||
    echo "CNI plugins in $E2E_CNI_BIN"
}

# Everything the run needs, checked before anything changes on the host.
preflight() {
  local missing=() t
  mapfile -t missing < <(host_missing)
  for t in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    [ -x "$K8S_BIN/$t" ] || missing+=("$K8S_BIN/$t (make e2e-bins)")
  done
  for t in "$KUBECTL" "$HELM" "$E2E_CLIENT" "$IMAGE_ARCHIVE" "$PAUSE_ARCHIVE" "$CLIENT_ARCHIVE"; do
    [ -e "$t" ] || missing+=("$t")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    die "missing: ${missing[*]} (apt-get install containerd runc containernetworking-plugins iptables conntrack twine; make e2e builds the rest)"
  fi
  local port
  # The cluster's and the port-forwards'.
  for port in "$E2E_API_PORT" "$E2E_ETCD_PORT" "$E2E_ETCD_PEER_PORT" 10248 10249 10256 \
    18100 18101 18102 18200; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      die "port $port on 127.0.0.1 is in use; is another cluster running?"
    fi
  done
  if ip link show "$E2E_BRIDGE" >/dev/null 2>&1; then
    die "interface $E2E_BRIDGE exists: a previous run was not torn down"
  fi
}

k() { "$KUBECTL" "$@"; }

# Background helpers (port-forwards, client loops) stopped at teardown.
HELPERS=()

teardown() {
  local rc=$? pid
  trap - EXIT INT TERM
  if [ "$rc" != 0 ] && [ -n "${W:-}" ] && [ -f "${KUBECONFIG:-/nonexistent}" ]; then
    log "failed (exit $rc); cluster state:"
    k get pkgidx,deploy,rs,pods,svc,hpa,pvc,jobs -A -o wide >&2 2>/dev/null || true
    k get events -A --sort-by=.lastTimestamp 2>/dev/null | tail -25 >&2 || true
    log "component logs are in $W/logs (kept)"
    E2E_KEEP_LOGS=1
  fi
  if [ "${E2E_KEEP:-}" = 1 ] && [ -n "${W:-}" ]; then
    log "cluster kept: KUBECONFIG=$W/kubeconfig; press Enter to tear down"
    read -r _ || true
  fi
  for pid in "${HELPERS[@]}"; do kill "$pid" 2>/dev/null || true; done
  log "tearing down"
  cluster_down
  if [ -n "${W:-}" ] && [ -d "$W" ]; then
    if awk -v w="$W" 'index($5, w "/") == 1 {found=1} END {exit !found}' /proc/self/mountinfo; then
      log "mounts remain under $W; leaving it in place"
    elif [ "${E2E_KEEP_LOGS:-}" = 1 ]; then
      find "$W" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf --one-file-system {} +
    else
      rm -rf --one-file-system "$W"
    fi
  fi
  report
  exit "$rc"
}

# Phases and their wall times.
PHASES=()
phase_start=0
phase_name=""
phase() {
  phase_end
  phase_name="$1"
  phase_start=$SECONDS
  log "=== $phase_name"
}
phase_end() {
  if [ -n "$phase_name" ]; then
    PHASES+=("$(printf '%-44s %4ss' "$phase_name" $((SECONDS - phase_start)))")
    phase_name=""
  fi
}
report() {
  phase_end
  [ ${#PHASES[@]} -gt 0 ] || return 0
  echo "e2e wall time per phase:"
  printf '  %s\n' "${PHASES[@]}"
  echo "  total $((SECONDS - E2E_START))s"
}

# forward RESOURCE NAMESPACE LOCALPORT: kubectl port-forward in the
# background, ready when it returns.
declare -A FORWARDS
forward() {
  local res="$1" ns="$2" port="$3"
  k -n "$ns" port-forward "$res" "$port:8080" >"$W/logs/forward-$port.log" 2>&1 &
  HELPERS+=("$!")
  FORWARDS[$port]=$!
  wait_for "port-forward to $res" 30 curl -fsS "http://127.0.0.1:$port/healthz"
}

# stop_forward LOCALPORT
stop_forward() {
  local pid="${FORWARDS[$1]:-}"
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  [ -z "$pid" ] || wait "$pid" 2>/dev/null || true
  unset "FORWARDS[$1]"
}

# wheel NAME VERSION: writes a wheel into $W/dist and prints its path.
wheel() { "$E2E_CLIENT" wheel -dir "$W/dist" -name "$1" -version "$2"; }

# upload URL FILE: twine upload, failing on any error.
upload() {
  twine upload --non-interactive --disable-progress-bar --repository-url "$1/legacy/" \
    -u alice -p "$PASSWORD" "$2" >"$W/logs/twine.log" 2>&1 ||
    die "twine upload of $(basename "$2") to $1 failed: $(cat "$W/logs/twine.log")"
}

# refused_upload URL FILE: an upload by bob, who is in the password file but
# not among the index's writers, is refused with 403.
refused_upload() {
  local code
  code=$(curl -s -o "$W/logs/refused.log" -w '%{http_code}' -u "bob:$PASSWORD" \
    -F ':action=file_upload' -F name=e2e-hello -F version=9.0 -F "content=@$2" "$1/legacy/") || true
  [ "$code" = 403 ] || die "an upload by bob, not a writer, answered $code, want 403: $(cat "$W/logs/refused.log")"
}

# pip_install URL REQUIREMENT DIR: pip install into a target directory.
pip_install() {
  python3 -m pip install --quiet --no-cache-dir --disable-pip-version-check --no-deps \
    --index-url "$1/simple/" --target "$3" "$2" >"$W/logs/pip.log" 2>&1 ||
    die "pip install $2 from $1 failed: $(cat "$W/logs/pip.log")"
}

# storage NAMESPACE DIR: a ReadWriteMany hostPath volume bound to the claim
# "packages" in NAMESPACE, owned by the index pods' user.
storage() {
  local ns="$1" dir="$2"
  mkdir -p "$dir"
  chown 65532:65532 "$dir"
  chmod 0775 "$dir"
  k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata:
  name: e2e-$ns-packages
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: $dir, type: Directory}
  claimRef: {namespace: $ns, name: packages}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: packages
  namespace: $ns
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: e2e-$ns-packages
  resources: {requests: {storage: 1Gi}}
EOF
  k -n "$ns" wait --for=jsonpath='{.status.phase}'=Bound pvc/packages --timeout=60s >/dev/null ||
    die "claim $ns/packages not bound"
}

# restricted_namespace NAME: a namespace enforcing the restricted Pod
# Security Standard, with the htpasswd Secret.
restricted_namespace() {
  k create namespace "$1" >/dev/null
  k label namespace "$1" pod-security.kubernetes.io/enforce=restricted >/dev/null
  k -n "$1" create secret generic pypi-users --from-file=htpasswd="$W/htpasswd" >/dev/null
}

# The server sections of the indexes: the password file's users, alice
# the only writer (phases 2 to 8); and a policy that lets the
# ServiceAccount publisher of e2e-ci, and no one else, upload e2e-sa
# (phase 9).
WRITER_SERVER='    auth: {secretName: pypi-users, actions: [update]}
    writers: [alice]'
POLICY_SERVER='    policy:
      grants:
        - {projects: ["*"], rights: [list, download], anyone: true}
        - {projects: [e2e-sa], rights: [upload], serviceAccounts: [e2e-ci/publisher]}'

# index NAMESPACE [EXTRA SPEC YAML]: applies the PackageIndex pypi with
# WRITER_SERVER.
index() { index_with "$1" "$WRITER_SERVER" "${2:-}"; }

# index_with NAMESPACE SERVER [EXTRA SPEC YAML]: applies the PackageIndex
# pypi with the server section SERVER.
index_with() {
  local ns="$1" server="$2" extra="${3:-}"
  k -n "$ns" apply --server-side --field-manager=e2e -f - >/dev/null <<EOF
apiVersion: index.pkgindex.dev/v1alpha1
kind: PackageIndex
metadata:
  name: pypi
spec:
  imagePullPolicy: Never
  storage:
    existingClaim: packages
    reclaimPolicy: Retain
  server:
$server
  resources:
    requests: {cpu: 20m, memory: 32Mi}
    limits: {memory: 256Mi}
$extra
EOF
}

# publish_job NAMESPACE URL VERSION STATUS: a Job of the ServiceAccount
# publisher uploads e2e-sa VERSION to URL with a projected token of the
# audience pkgindex as the password of __token__, and completes only if
# the index answers STATUS. The pod carries no other token.
publish_job() {
  local ns="$1" url="$2" version="$3" want="$4"
  k -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata:
  name: publish
spec:
  backoffLimit: 0
  template:
    spec:
      serviceAccountName: publisher
      automountServiceAccountToken: false
      restartPolicy: Never
      securityContext:
        runAsNonRoot: true
        runAsUser: 65535
        runAsGroup: 65535
        fsGroup: 65535
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: upload
          image: $E2E_CLIENT_IMAGE
          imagePullPolicy: Never
          args: [upload, -url, "$url", -user, __token__, -password-file, /var/run/pkgindex/token,
                 -name, e2e-sa, -version, "$version", -expect, "$want"]
          securityContext:
            allowPrivilegeEscalation: false
            capabilities: {drop: [ALL]}
          volumeMounts:
            - {name: pkgindex-token, mountPath: /var/run/pkgindex, readOnly: true}
      volumes:
        - name: pkgindex-token
          projected:
            sources:
              - serviceAccountToken: {audience: pkgindex, expirationSeconds: 600, path: token}
EOF
}

# job_done NAMESPACE: the Job publish completed, so the index answered as
# it should; its log says how.
job_done() {
  wait_for "the Job $1/publish to finish" 120 job_finished "$1"
  [ "$(k -n "$1" get job publish -o jsonpath='{.status.succeeded}')" = 1 ] ||
    die "the Job $1/publish failed: $(k -n "$1" logs job/publish 2>&1 | tail -5)"
  log "Job $1/publish: $(k -n "$1" logs job/publish)"
}
job_finished() {
  [ -n "$(k -n "$1" get job publish -o jsonpath='{.status.succeeded}{.status.failed}')" ]
}

# ready NAMESPACE REPLICAS: waits for the index to be Ready and checks what
# kubectl get pkgidx shows.
ready() {
  local ns="$1" want="$2" row
  k -n "$ns" wait --for=condition=Ready pkgidx/pypi --timeout=180s >/dev/null ||
    die "pkgidx $ns/pypi not Ready: $(k -n "$ns" get pkgidx pypi -o jsonpath='{.status.conditions}')"
  row=$(k -n "$ns" get pkgidx pypi --no-headers)
  log "kubectl get pkgidx: $row"
  read -r -a cols <<<"$row"
  [ "${cols[1]}" = True ] || die "READY column is ${cols[1]}, want True"
  [ "${cols[2]}" = "$want" ] || die "REPLICAS column is ${cols[2]}, want $want"
  [ "${cols[4]}" = "http://pypi.$ns.svc:8080/simple/" ] || die "URL column is ${cols[4]}"
}

# deployment_settled NAMESPACE REPLICAS: the rollout is complete, with
# REPLICAS pods ready and no old ones left.
deployment_settled() {
  local ns="$1" want="$2"
  k -n "$ns" rollout status deploy/pypi --timeout=180s >/dev/null || die "rollout of $ns/pypi did not finish"
  wait_for "$want pods of $ns/pypi" 120 pods_are "$ns" "$want"
}
pods_are() {
  local n
  n=$(k -n "$1" get pods -l app.kubernetes.io/instance=pypi --no-headers 2>/dev/null | wc -l)
  [ "$n" = "$2" ]
}

# loop_start NAME URL: the client loop in the background.
LOOP_PID=""
loop_start() {
  "$E2E_CLIENT" loop -url "$2" -user alice -password "$PASSWORD" -project "e2e-loop-$1" \
    >"$W/logs/loop-$1.log" 2>&1 &
  LOOP_PID=$!
  HELPERS+=("$LOOP_PID")
}
loop_stop() {
  kill -TERM "$LOOP_PID"
  if ! wait "$LOOP_PID"; then
    cat "$W/logs/loop-$1.log" >&2
    die "client loop $1 saw failures"
  fi
  log "$(tail -1 "$W/logs/loop-$1.log")"
}

main() {
  E2E_START=$SECONDS
  if [ "${1:-}" = --check ]; then
    local missing
    missing=$(host_missing)
    [ -z "$missing" ] || { echo "e2e: this machine lacks: $(tr '\n' ' ' <<<"$missing")" >&2; exit 1; }
    exit 0
  fi
  preflight
  W="$(mktemp -d /tmp/pkgindex-e2e.XXXXXX)"
  chmod 0755 "$W"
  trap teardown EXIT
  trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR
  trap 'exit 130' INT TERM
  log "work directory $W"

  phase "cluster up (containerd, control plane, node)"
  cluster_up
  mkdir -p "$W/dist"
  printf 'alice:%s\nbob:%s\n' "$(openssl passwd -apr1 "$PASSWORD")" "$(openssl passwd -apr1 "$PASSWORD")" >"$W/htpasswd"

  phase "1 helm install of the operator"
  k create namespace pkgindex-system >/dev/null
  "$HELM" install pkgindex "$ROOT/charts/pkgindex" -n pkgindex-system \
    -f "$ROOT/hack/e2e/values.yaml" --set-string "image.repository=${IMAGE%:*},image.tag=${IMAGE##*:}" \
    --wait --timeout 3m >"$W/logs/helm.log" 2>&1 ||
    die "helm install failed: $(cat "$W/logs/helm.log")"
  k -n pkgindex-system rollout status deploy/pkgindex --timeout=120s >/dev/null
  [ "$(k -n pkgindex-system get deploy pkgindex -o jsonpath='{.status.readyReplicas}')" = 1 ] ||
    die "operator not ready"

  phase "2 kubectl apply PackageIndex, wait Ready"
  restricted_namespace e2e
  storage e2e "$W/volumes/e2e"
  index e2e "  replicas: 2"
  ready e2e 2
  k -n e2e get deploy,svc,pdb,pvc -o name | sort | tr '\n' ' ' >&2; echo >&2

  phase "3 twine via one pod, pip via the other and the Service"
  local pods
  read -r -a pods <<<"$(k -n e2e get pods -l app.kubernetes.io/instance=pypi -o jsonpath='{.items[*].metadata.name}')"
  [ ${#pods[@]} = 2 ] || die "want 2 pods, have ${pods[*]}"
  forward "pod/${pods[0]}" e2e 18101
  forward "pod/${pods[1]}" e2e 18102
  forward svc/pypi e2e 18100
  local whl sum stored
  whl=$(wheel e2e-hello 1.0)
  upload http://127.0.0.1:18101 "$whl"
  refused_upload http://127.0.0.1:18102 "$(wheel e2e-hello 9.0)"
  pip_install http://127.0.0.1:18102 e2e-hello==1.0 "$W/pip-b"
  grep -q 'VERSION = "1.0"' "$W/pip-b/e2e_hello/__init__.py" || die "installed e2e-hello is not 1.0"
  pip_install http://127.0.0.1:18100 e2e-hello==1.0 "$W/pip-svc"
  stored=$(find "$W/volumes/e2e" -name "$(basename "$whl")" -type f)
  [ -n "$stored" ] || die "$(basename "$whl") is not on the shared volume"
  sum=$(sha256sum <"$whl")
  [ "$(sha256sum <"$stored")" = "$sum" ] || die "the stored file differs from the uploaded one"
  stop_forward 18101
  stop_forward 18102

  phase "4 rolling update under a client loop"
  local svc
  svc="http://$(k -n e2e get svc pypi -o jsonpath='{.spec.clusterIP}'):8080"
  wait_for "Service $svc from the host" 30 curl -fsS "$svc/healthz"
  local before
  before=$(k -n e2e get deploy pypi -o jsonpath='{.spec.template.metadata.annotations.index\.pkgindex\.dev/config-hash}')
  loop_start rollout "$svc"
  sleep 3
  k -n e2e patch pkgidx pypi --type merge -p '{"spec":{"server":{"cacheControl":60}}}' >/dev/null
  wait_for "new pod template" 30 sh -c "[ \"\$('$KUBECTL' -n e2e get deploy pypi -o jsonpath='{.spec.template.metadata.annotations.index\\.pkgindex\\.dev/config-hash}')\" != '$before' ]"
  deployment_settled e2e 2
  sleep 2
  loop_stop rollout

  phase "5 kubectl delete pod during uploads"
  loop_start killed "$svc"
  sleep 3
  local victim
  victim=$(k -n e2e get pods -l app.kubernetes.io/instance=pypi -o jsonpath='{.items[0].metadata.name}')
  k -n e2e delete pod "$victim" --wait=false >/dev/null
  wait_for "replacement of $victim" 60 sh -c "! '$KUBECTL' -n e2e get pod '$victim' >/dev/null 2>&1"
  deployment_settled e2e 2
  k -n e2e wait --for=condition=Ready pkgidx/pypi --timeout=60s >/dev/null
  sleep 2
  loop_stop killed

  phase "6 autoscaling on: HPA with the spec's bounds"
  k -n e2e patch pkgidx pypi --type merge \
    -p '{"spec":{"autoscaling":{"minReplicas":2,"maxReplicas":4,"targetCPUUtilizationPercentage":80}}}' >/dev/null
  wait_for "HPA e2e/pypi" 60 k -n e2e get hpa pypi
  [ "$(k -n e2e get hpa pypi -o jsonpath='{.spec.minReplicas}/{.spec.maxReplicas}/{.spec.scaleTargetRef.name}')" = "2/4/pypi" ] ||
    die "HPA bounds: $(k -n e2e get hpa pypi -o jsonpath='{.spec}')"

  phase "7 delete with Retain, files stay, re-create"
  local pv
  pv=$(k -n e2e get pvc packages -o jsonpath='{.spec.volumeName}')
  k -n e2e delete pkgidx pypi --timeout=60s >/dev/null
  for obj in deploy/pypi svc/pypi hpa/pypi pdb/pypi; do
    k -n e2e wait --for=delete "$obj" --timeout=60s >/dev/null 2>&1 ||
      die "$obj was not garbage-collected"
  done
  k get pv "$pv" >/dev/null || die "PersistentVolume $pv is gone"
  [ "$(sha256sum <"$stored")" = "$sum" ] || die "$stored changed or vanished"
  index e2e "  replicas: 2"
  ready e2e 2
  stop_forward 18100
  forward svc/pypi e2e 18100
  pip_install http://127.0.0.1:18100 e2e-hello==1.0 "$W/pip-again"
  local page
  page=$(curl -fsS http://127.0.0.1:18100/simple/e2e-loop-rollout/) ||
    die "the rollout loop's project page is gone after re-creation"
  grep -q 'e2e_loop_rollout-0.0-py3-none-any.whl' <<<"$page" ||
    die "the rollout loop's uploads are not listed after re-creation"
  stop_forward 18100

  phase "8 kustomize route on a fresh namespace"
  "$HELM" uninstall pkgindex -n pkgindex-system --wait --timeout 2m >/dev/null
  k wait --for=delete -n pkgindex-system deploy/pkgindex --timeout=60s >/dev/null 2>&1 || true
  k kustomize "$ROOT/hack/e2e/kustomize" >"$W/kustomize.yaml"
  k apply --server-side --force-conflicts -f "$W/kustomize.yaml" >/dev/null
  k -n pkgindex-system rollout status deploy/pkgindex-operator --timeout=120s >/dev/null ||
    die "the kustomize-installed operator did not become ready"
  restricted_namespace e2e-kustomize
  storage e2e-kustomize "$W/volumes/e2e-kustomize"
  index e2e-kustomize "  replicas: 1"
  ready e2e-kustomize 1
  forward svc/pypi e2e-kustomize 18200
  whl=$(wheel e2e-kustomize 2.0)
  upload http://127.0.0.1:18200 "$whl"
  pip_install http://127.0.0.1:18200 e2e-kustomize==2.0 "$W/pip-kustomize"
  stop_forward 18200

  phase "9 Jobs publish with service-account tokens"
  restricted_namespace e2e-policy
  storage e2e-policy "$W/volumes/e2e-policy"
  index_with e2e-policy "$POLICY_SERVER" "  replicas: 1"
  ready e2e-policy 1
  svc="http://$(k -n e2e-policy get svc pypi -o jsonpath='{.spec.clusterIP}'):8080"
  wait_for "Service $svc from the host" 30 curl -fsS "$svc/healthz"
  local ns
  for ns in e2e-ci e2e-other; do
    k create namespace "$ns" >/dev/null
    k label namespace "$ns" pod-security.kubernetes.io/enforce=restricted >/dev/null
    k -n "$ns" create serviceaccount publisher >/dev/null
  done
  publish_job e2e-ci "$svc" 1.0 200
  publish_job e2e-other "$svc" 2.0 403
  job_done e2e-ci
  job_done e2e-other
  page=$(curl -fsS "$svc/simple/e2e-sa/") || die "e2e-sa has no page after the Job's upload"
  grep -q 'e2e_sa-1.0-py3-none-any.whl' <<<"$page" || die "the upload of e2e-ci's Job is not listed"
  ! grep -q 'e2e_sa-2.0' <<<"$page" || die "the refused upload of e2e-other's Job is listed"
  phase_end
  log "PASS"
}

main "$@"
