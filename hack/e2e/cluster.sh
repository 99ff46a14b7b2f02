# shellcheck shell=bash
# Sourced by hack/e2e.sh: brings up a real single-node Kubernetes cluster
# on this machine, in a temporary directory, and takes it down again.
#
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kube-proxy come from bin/k8s/<version>/ (hack/envtest-bins.sh,
# hack/node-bins.sh); containerd, runc, the CNI plugins, iptables and
# conntrack from the distribution. Pods live on a bridge of their own; the
# API server and the kubelet listen on the bridge's address, which only
# this machine and its pods reach, everything else on 127.0.0.1; nothing
# is pulled (images are imported from archives).
#
# cluster_up leaves KUBECONFIG exported; cluster_down undoes everything
# cluster_up did, in reverse, and is safe to call at any point of it:
# processes are stopped by their ids, mounts under the work directory are
# unmounted, sysctls and iptables are restored, the bridge and routes are
# removed.

# Addresses and names, chosen not to meet anything on a developer's machine.
: "${E2E_NODE:=pkgindex-e2e}"
: "${E2E_POD_CIDR:=10.244.0.0/24}"
# The bridge's address, the pods' gateway: also the node's address, since
# the kubelet refuses a loopback one, and the API server's, which the
# kubernetes Service leads to, as in any cluster; it is reachable only
# from this machine and its pods.
: "${E2E_NODE_IP:=10.244.0.1}"
: "${E2E_SERVICE_CIDR:=10.96.0.0/16}"
# The first address of the service CIDR, the kubernetes Service.
: "${E2E_KUBERNETES_IP:=10.96.0.1}"
: "${E2E_BRIDGE:=pkgidx0}"
: "${E2E_API_PORT:=16443}"
: "${E2E_ETCD_PORT:=12379}"
: "${E2E_ETCD_PEER_PORT:=12380}"
: "${E2E_CNI_BIN:=/usr/lib/cni}"

# Sysctls the kubelet, kube-proxy and the bridge plugin change.
E2E_SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops net.ipv4.ip_forward
  net.ipv4.conf.all.route_localnet net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables)

log() { printf '%s e2e: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# pids of the processes cluster_up started, in start order.
E2E_PIDS=()

# start NAME COMMAND...: runs a component in the background, its output in
# $W/logs/NAME.log.
start() {
  local name="$1"
  shift
  "$@" >"$W/logs/$name.log" 2>&1 &
  E2E_PIDS+=("$!")
  echo "$!" >"$W/pids/$name"
  log "started $name (pid $!)"
}

# wait_for WHAT SECONDS COMMAND...: retries COMMAND until it succeeds.
wait_for() {
  local what="$1" secs="$2"
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      die "$what not ready after ${secs}s"
    fi
    sleep 0.5
  done
}

# pki writes a CA, the API server's serving certificate, an admin client
# certificate (system:masters, used by every component: this cluster is a
# test fixture) and the service account key pair.
pki() {
  local d="$W/pki"
  mkdir -p "$d"
  (
    cd "$d" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
      -subj "/CN=pkgindex-e2e-ca" 2>/dev/null
    cat >san.cnf <<EOF
[ext]
subjectAltName = IP:$E2E_NODE_IP, IP:$E2E_KUBERNETES_IP, IP:127.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc
extendedKeyUsage = serverAuth
[client]
extendedKeyUsage = clientAuth
EOF
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile san.cnf -extensions ext -out apiserver.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=e2e-admin" 2>/dev/null
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile san.cnf -extensions client -out admin.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
  cat >"$W/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://$E2E_NODE_IP:$E2E_API_PORT
    certificate-authority: $d/ca.crt
users:
- name: admin
  user:
    client-certificate: $d/admin.crt
    client-key: $d/admin.key
contexts:
- name: e2e
  context: {cluster: e2e, user: admin, namespace: default}
current-context: e2e
EOF
}

# save_host records what the cluster changes on the host.
save_host() {
  local s v
  : >"$W/host/sysctl"
  for s in "${E2E_SYSCTLS[@]}"; do
    if v=$(sysctl -n "$s" 2>/dev/null); then
      echo "$s=$v" >>"$W/host/sysctl"
    fi
  done
  iptables-save >"$W/host/iptables"
  ip6tables-save >"$W/host/ip6tables"
  ls /run/netns >"$W/host/netns" 2>/dev/null || true
  # containerd makes /run/netns a shared mount of itself.
  [ -d /run/netns ] || touch "$W/host/netns-dir-new"
  mountpoint -q /run/netns || touch "$W/host/netns-mount-new"
}

# restore_host puts back what save_host recorded.
restore_host() {
  local line
  if [ -f "$W/host/sysctl" ]; then
    while IFS= read -r line; do
      sysctl -q -w "$line" >/dev/null 2>&1 || log "could not restore sysctl $line"
    done <"$W/host/sysctl"
  fi
  local v
  for v in iptables ip6tables; do
    [ -f "$W/host/$v" ] || continue
    # iptables-restore rewrites only the tables it is given: a table that
    # was empty before (absent from the save) is given as empty, so the
    # chains kube-proxy and the kubelet made there go too.
    {
      cat "$W/host/$v"
      for t in filter nat mangle raw; do
        grep -qx "\*$t" "$W/host/$v" || printf '*%s\nCOMMIT\n' "$t"
      done
    } | "$v-restore" || log "could not restore $v"
  done
}

# network makes the pod bridge, with the pods' default route through the
# bridge's address (for Service IPs, the API server's among them; with
# ipMasq off nothing leaves the machine), and routes the service CIDR into
# it, so traffic to a Service IP is either rewritten by kube-proxy to a pod
# on the bridge or goes nowhere (no host answers on it), even before
# kube-proxy has written its rules. A blackhole route would do the same for pods but
# would also refuse the host's own connections before kube-proxy's DNAT
# could rewrite them (locally generated packets are routed before the nat
# OUTPUT hook), and the tests reach Services from the host.
network() {
  mkdir -p "$W/cni/net.d"
  cat >"$W/cni/net.d/10-pkgindex-e2e.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "pkgindex-e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$E2E_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$W/cni/ipam",
        "ranges": [[{"subnet": "$E2E_POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "loopback"}
  ]
}
EOF
  ip link add "$E2E_BRIDGE" type bridge
  echo "$E2E_BRIDGE" >"$W/host/bridge"
  ip addr add "$E2E_NODE_IP/${E2E_POD_CIDR#*/}" dev "$E2E_BRIDGE"
  ip link set "$E2E_BRIDGE" up
  ip route add "$E2E_SERVICE_CIDR" dev "$E2E_BRIDGE"
  # Bridged pod traffic must pass iptables for Service IPs to work between
  # pods; the module may be built in or missing.
  modprobe br_netfilter 2>/dev/null || true
  if [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]; then
    sysctl -q -w net.bridge.bridge-nf-call-iptables=1
  fi
}

containerd_up() {
  mkdir -p "$W/containerd"
  cat >"$W/containerd/config.toml" <<EOF
version = 2
root = "$W/containerd/root"
state = "$W/containerd/state"
[grpc]
  address = "$W/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$E2E_PAUSE_IMAGE"
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails with
  # runc's "can't get final child's PID from pipe".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$E2E_CNI_BIN"
    conf_dir = "$W/cni/net.d"
EOF
  start containerd containerd --config "$W/containerd/config.toml"
  wait_for containerd 30 ctr --address "$W/containerd.sock" version
}

# ctr_k8s runs ctr against the cluster's containerd, in the kubelet's
# namespace.
ctr_k8s() { ctr --address "$W/containerd.sock" -n k8s.io "$@"; }

etcd_up() {
  start etcd "$K8S_BIN/etcd" --name e2e --data-dir "$W/etcd" \
    --listen-client-urls "http://127.0.0.1:$E2E_ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$E2E_ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$E2E_ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$E2E_ETCD_PEER_PORT" \
    --initial-cluster "e2e=http://127.0.0.1:$E2E_ETCD_PEER_PORT" \
    --unsafe-no-fsync
}

apiserver_up() {
  local p="$W/pki"
  # On the bridge, so that pods reach it through the kubernetes Service,
  # whose endpoint is the advertised address: the operator and the index
  # pods (TokenReview) talk to it as they would in any cluster.
  start kube-apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$E2E_ETCD_PORT" \
    --bind-address "$E2E_NODE_IP" --advertise-address "$E2E_NODE_IP" --secure-port "$E2E_API_PORT" \
    --service-cluster-ip-range "$E2E_SERVICE_CIDR" \
    --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
    --client-ca-file "$p/ca.crt" \
    --kubelet-client-certificate "$p/admin.crt" --kubelet-client-key "$p/admin.key" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$p/sa.pub" --service-account-signing-key-file "$p/sa.key" \
    --authorization-mode Node,RBAC
  wait_for kube-apiserver 60 "$KUBECTL" get --raw /readyz
}

controllers_up() {
  local p="$W/pki"
  start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$KUBECONFIG" --bind-address 127.0.0.1 --secure-port 0 \
    --leader-elect=false \
    --service-account-private-key-file "$p/sa.key" --root-ca-file "$p/ca.crt" \
    --use-service-account-credentials=false
  start kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig "$KUBECONFIG" --bind-address 127.0.0.1 --secure-port 0 --leader-elect=false
}

kubelet_up() {
  local p="$W/pki"
  mkdir -p "$W/kubelet"
  cat >"$W/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine runs cgroup v1.
failCgroupV1: false
cgroupDriver: cgroupfs
# No QoS or node-allocatable cgroup hierarchy to leave behind.
cgroupsPerQOS: false
enforceNodeAllocatable: []
containerRuntimeEndpoint: unix://$W/containerd.sock
address: $E2E_NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
failSwapOn: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $p/ca.crt}
authorization: {mode: Webhook}
podCIDR: $E2E_POD_CIDR
# A disk that is mostly full is no reason to evict test pods.
evictionHard: {memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
syncFrequency: 10s
fileCheckFrequency: 10s
EOF
  start kubelet "$K8S_BIN/kubelet" --config "$W/kubelet/config.yaml" \
    --kubeconfig "$KUBECONFIG" --root-dir "$W/kubelet/root" \
    --hostname-override "$E2E_NODE" --node-ip "$E2E_NODE_IP"
  wait_for "node $E2E_NODE" 90 "$KUBECTL" get node "$E2E_NODE"
}

proxy_up() {
  cat >"$W/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $KUBECONFIG}
hostnameOverride: $E2E_NODE
mode: iptables
clusterCIDR: $E2E_POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the host's conntrack table and route_localnet alone.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
nodePortAddresses: [127.0.0.1/32]
EOF
  start kube-proxy "$K8S_BIN/kube-proxy" --config "$W/kube-proxy.yaml"
}

# cluster_up brings the cluster up, with the image archives E2E_IMAGES
# imported; the node is Ready when it returns.
cluster_up() {
  mkdir -p "$W/logs" "$W/pids" "$W/host"
  export KUBECONFIG="$W/kubeconfig"
  save_host
  pki
  network
  containerd_up
  # Nothing can be pulled: the sandbox image and the images under test
  # are imported before the kubelet asks for them.
  local archive
  for archive in "${E2E_IMAGES[@]}"; do
    ctr_k8s images import "$archive" >/dev/null || die "importing $archive"
  done
  etcd_up
  apiserver_up
  controllers_up
  kubelet_up
  proxy_up
  "$KUBECTL" wait --for=condition=Ready "node/$E2E_NODE" --timeout=90s >/dev/null ||
    die "node $E2E_NODE did not become Ready (see $W/logs/kubelet.log)"
  # The default ServiceAccount appears shortly after the namespace.
  wait_for "default ServiceAccount" 60 "$KUBECTL" get serviceaccount default
}

# shims lists the pids of containerd shims serving this cluster's
# containerd: they outlive containerd and are found by its socket path.
shims() {
  local d
  for d in /proc/[0-9]*; do
    if tr '\0' ' ' 2>/dev/null <"$d/cmdline" | grep -qF -- "-address $W/containerd.sock"; then
      echo "${d#/proc/}"
    fi
  done
}

# cluster_down undoes cluster_up.
cluster_down() {
  local i pid ids id m
  [ -n "${W:-}" ] && [ -d "$W" ] || return 0
  # The kubelet first, so it does not restart what is stopped next.
  for name in kube-proxy kubelet kube-scheduler kube-controller-manager; do
    if [ -f "$W/pids/$name" ]; then kill "$(cat "$W/pids/$name")" 2>/dev/null || true; fi
  done
  if [ -S "$W/containerd.sock" ]; then
    ids=$(ctr_k8s tasks ls -q 2>/dev/null || true)
    for id in $ids; do ctr_k8s tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 1
    for id in $ids; do ctr_k8s tasks delete -f "$id" >/dev/null 2>&1 || true; done
    for id in $(ctr_k8s containers ls -q 2>/dev/null || true); do
      ctr_k8s containers delete "$id" >/dev/null 2>&1 || true
    done
  fi
  for pid in $(shims); do kill -9 "$pid" 2>/dev/null || true; done
  # The rest in reverse start order, each given ten seconds: the API
  # server before etcd, containerd last.
  for ((i = ${#E2E_PIDS[@]} - 1; i >= 0; i--)); do
    pid="${E2E_PIDS[$i]}"
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid did not stop in 10s; killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  # Mounts under the work directory (kubelet volumes, overlay snapshots,
  # sandbox /dev/shm), deepest first.
  for _ in 1 2 3; do
    m=$(awk -v w="$W" 'index($5, w "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
    [ -n "$m" ] || break
    for m in $m; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  done
  # Network namespaces containerd pinned for sandboxes it had no chance to
  # tear down.
  if [ -f "$W/host/netns" ] && [ -d /run/netns ]; then
    for m in /run/netns/cni-*; do
      [ -e "$m" ] || continue
      grep -qxF "${m##*/}" "$W/host/netns" && continue
      umount "$m" 2>/dev/null || true
      rm -f "$m"
    done
  fi
  if [ -f "$W/host/netns-mount-new" ] && mountpoint -q /run/netns; then
    umount /run/netns 2>/dev/null || log "could not unmount /run/netns"
  fi
  [ ! -f "$W/host/netns-dir-new" ] || rmdir /run/netns 2>/dev/null || true
  # The bridge takes the service route with it.
  if [ -f "$W/host/bridge" ]; then
    ip route del "$E2E_SERVICE_CIDR" dev "$E2E_BRIDGE" 2>/dev/null || true
    ip link del "$E2E_BRIDGE" 2>/dev/null || true
  fi
  restore_host
}
