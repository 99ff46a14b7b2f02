# Shared by hack/load.sh and hack/upstreamload.sh (sourced from the
# repository's top): settings, the tools and binaries, the cleanup of the
# processes started, and wrk_run.

DURATION=${DURATION:-5s}
CONNS=${CONNS:-10}
SERVER_PROCS=${SERVER_PROCS:-1}
PORT=${PORT:-18480}
NGINX_PORT=${NGINX_PORT:-18481}
WORK=${WORK:-$(mktemp -d)}
# nginx's worker runs as an unprivileged user and must read the trees.
chmod a+rx "$WORK"
for t in wrk nginx curl; do command -v $t >/dev/null || { echo "$(basename "$0"): $t is required"; exit 1; }; done

make -s build
go build -o bin/gentree ./hack/gentree
go build -o bin/filefloor ./hack/filefloor
# A binary just built has pages not yet written to disk, which the page
# cache cannot drop; an installed one has none.
sync

# Every process started goes into pids, and is stopped on exit.
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# wrk_run URL [Accept]: prints "req/s p50 p99"
wrk_run() {
  local hdr=()
  [ -n "${2:-}" ] && hdr=(-H "Accept: $2")
  wrk -t1 -c"$CONNS" -d"$DURATION" --latency "${hdr[@]}" "$1" |
    awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {printf "%10s %9s %9s", rps, p50, p99}'
}

# nginx_start LOCATION DIR PATH: starts nginx (one worker, sendfile)
# serving DIR at LOCATION on NGINX_PORT, and waits until it serves PATH.
nginx_start() {
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  server { listen 127.0.0.1:$NGINX_PORT; location $1 { alias $2; } }
}
CONF
  nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" & nginx_pid=$!; pids+=($nginx_pid)
  for i in $(seq 500); do curl -sf -o /dev/null http://127.0.0.1:$NGINX_PORT/$3 && break; sleep 0.01; done
  curl -sf -o /dev/null http://127.0.0.1:$NGINX_PORT/$3 || { echo "$(basename "$0"): nginx does not serve $3 (see $WORK/nginx/error.log)" >&2; kill $nginx_pid; exit 1; }
}

nginx_stop() { kill $nginx_pid; wait $nginx_pid 2>/dev/null || true; }

# nginx_run LOCATION DIR PATH: prints wrk_run of PATH from nginx serving
# DIR at LOCATION, then stops it.
nginx_run() {
  nginx_start "$@"
  wrk_run http://127.0.0.1:$NGINX_PORT/$3
  nginx_stop
}

# median_run LINE...: the wrk_run line of median req/s
median_run() { printf "%s\n" "$@" | sort -n -k1 | awk '{v[NR]=$0} END {print v[int((NR+1)/2)]}'; }
