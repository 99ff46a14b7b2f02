#!/usr/bin/env bash
# Load figures for the upstream cache (--upstream), in the manner of
# hack/load.sh: pkgindex serves a generated tree and takes the projects it
# does not have from a second pkgindex serving another tree, of other
# project names. Traffic goes to 127.0.0.1 only; every run is bounded.
#
#   hack/upstreamload.sh
#   FILES=10000 PROJECTS=1000 DURATION=10s hack/upstreamload.sh
#
# It reports, each beside what it is measured against:
#   - a cached upstream project page against a local project page (req/s);
#   - a cached upstream download against nginx serving the same cached file,
#     against bin/filefloor (the least a Go HTTP server does to serve it)
#     and against a local download, in ROUNDS (3) interleaved rounds;
#   - a cold miss (a project page no replica has cached) against the
#     upstream's own answer for the page, each the median of MISSES
#     requests by curl, so the difference is what the cache adds.
# wrk runs one thread on one core; the server under test runs with
# GOMAXPROCS=$SERVER_PROCS (1), as nginx runs one worker. The upstream, idle
# but for the misses, runs with GOMAXPROCS=1 too.
# Needs wrk and nginx (apt-get install wrk nginx-light) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

FILES=${FILES:-50000}
PROJECTS=${PROJECTS:-2000}
MISSES=${MISSES:-21}
ROUNDS=${ROUNDS:-3}
UP_PORT=${UP_PORT:-18482}
FLOOR_PORT=${FLOOR_PORT:-18483}
. hack/loadlib.sh

# wait_up URL PID LOG
wait_up() {
  until curl -sf -o /dev/null "$1"; do
    kill -0 "$2" 2>/dev/null || { echo "upstreamload.sh: pkgindex exited (see $3)"; exit 1; }
    sleep 0.01
  done
}

# micros URL: curl's total time of one GET as JSON, in microseconds
micros() {
  curl -sf -o /dev/null -H 'Accept: application/vnd.pypi.simple.v1+json' -w '%{time_total}\n' "$1" |
    awk '{printf "%d\n", $1 * 1e6}'
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

local_tree="$WORK/local-$FILES"
up_tree="$WORK/upstream-$FILES"
[ -d "$local_tree" ] || bin/gentree -files "$FILES" -projects "$PROJECTS" -layout per-project -out "$local_tree"
[ -d "$up_tree" ] || bin/gentree -files "$FILES" -projects "$PROJECTS" -layout per-project -prefix upstream -out "$up_tree"
# A run starts with an empty cache.
rm -rf "$local_tree/.pkgindex/cache"

GOMAXPROCS=1 bin/pkgindex serve --root "$up_tree" --layout per-project \
  --listen 127.0.0.1:$UP_PORT --log-level warn >/dev/null 2>"$WORK/upstream.log" &
up_pid=$!; pids+=($up_pid)
GOMAXPROCS=$SERVER_PROCS bin/pkgindex serve --root "$local_tree" --layout per-project \
  --upstream http://127.0.0.1:$UP_PORT/simple/ \
  --listen 127.0.0.1:$PORT --log-level warn >/dev/null 2>"$WORK/serve.log" &
pid=$!; pids+=($pid)
wait_up http://127.0.0.1:$UP_PORT/simple/ $up_pid "$WORK/upstream.log"
wait_up http://127.0.0.1:$PORT/simple/ $pid "$WORK/serve.log"
base=http://127.0.0.1:$PORT
upbase=http://127.0.0.1:$UP_PORT

# Cold misses first, while nothing is cached. The upstream is asked for
# each page once before, so both figures are of an upstream that has
# answered it already: the difference is the cache's own work (ask, parse,
# write the page to the volume, render).
direct=() cold=()
for i in $(seq "$MISSES"); do
  p=$(printf "upstream-%04d" $((i + 100)))
  micros $upbase/simple/$p/ >/dev/null
  direct+=("$(micros $upbase/simple/$p/)")
  cold+=("$(micros $base/simple/$p/)")
done
direct_us=$(printf "%s\n" "${direct[@]}" | median)
cold_us=$(printf "%s\n" "${cold[@]}" | median)

local_project=project-0007
up_project=upstream-0007
# The first request caches the page; the rest within --upstream-ttl hit.
curl -sf -o /dev/null $base/simple/$up_project/
# The first file of the cached page, fetched once so it is cached too.
dl=$(curl -sf -H 'Accept: application/vnd.pypi.simple.v1+json' $base/simple/$up_project/ |
  grep -o '"url":"[^"]*"' | head -1 | sed 's/"url":"\.\.\/\.\.\///; s/"$//')
curl -sf -o /dev/null "$base/$dl"
local_dl=$(curl -sf -H 'Accept: application/vnd.pypi.simple.v1+json' $base/simple/$local_project/ |
  grep -o '"url":"[^"]*"' | head -1 | sed 's/"url":"\.\.\/\.\.\///; s/"$//')
cached="$local_tree/.pkgindex/cache/files/${dl#packages/.upstream/}"
[ -f "$cached" ] || { echo "upstreamload.sh: $dl is not cached at $cached"; exit 1; }

echo "pkgindex with GOMAXPROCS=$SERVER_PROCS, nginx with 1 worker; wrk -t1 -c$CONNS -d$DURATION; $FILES files locally and upstream"
printf "%-34s %10s %9s %9s\n" endpoint req/s p50 p99
json=application/vnd.pypi.simple.v1+json
printf "%-34s %s\n" "local project page (HTML)" "$(wrk_run $base/simple/$local_project/)"
printf "%-34s %s\n" "cached upstream page (HTML)" "$(wrk_run $base/simple/$up_project/)"
printf "%-34s %s\n" "local project page (JSON)" "$(wrk_run $base/simple/$local_project/ $json)"
printf "%-34s %s\n" "cached upstream page (JSON)" "$(wrk_run $base/simple/$up_project/ $json)"
# Downloads are compared in ROUNDS interleaved rounds, each of the three
# servers in turn, and the median of each is reported: a shared machine's
# speed drifts over a minute, and nginx measured once after pkgindex would
# carry that drift into the ratio.
# bin/filefloor serves the same file the least way a Go HTTP server can
# (open, fstat, sendfile): what part of nginx's speed is left to pkgindex
# once the Go runtime and net/http have taken theirs on this machine.
# A warm-up first: on a virtual machine the first seconds of load after
# a pause run markedly slower, whichever server takes them.
nginx_start /packages/.upstream/ "$local_tree/.pkgindex/cache/files/" "$dl"
GOMAXPROCS=1 bin/filefloor -listen 127.0.0.1:$FLOOR_PORT -prefix /packages/.upstream/ \
  -dir "$local_tree/.pkgindex/cache/files" 2>"$WORK/filefloor.log" &
floor_pid=$!; pids+=($floor_pid)
wait_up "http://127.0.0.1:$FLOOR_PORT/$dl" $floor_pid "$WORK/filefloor.log"
wrk_run "$base/$local_dl" >/dev/null
local_runs=() cached_runs=() floor_runs=() nginx_runs=()
for i in $(seq "$ROUNDS"); do
  local_runs+=("$(wrk_run "$base/$local_dl")")
  cached_runs+=("$(wrk_run "$base/$dl")")
  floor_runs+=("$(wrk_run "http://127.0.0.1:$FLOOR_PORT/$dl")")
  nginx_runs+=("$(wrk_run "http://127.0.0.1:$NGINX_PORT/$dl")")
done
nginx_stop
kill $floor_pid
local_med=$(median_run "${local_runs[@]}")
cached_med=$(median_run "${cached_runs[@]}")
floor_med=$(median_run "${floor_runs[@]}")
nginx_med=$(median_run "${nginx_runs[@]}")
printf "%-34s %s\n" "local download" "$local_med"
printf "%-34s %s\n" "cached upstream download" "$cached_med"
printf "%-34s %s\n" "the same file (bin/filefloor)" "$floor_med"
printf "%-34s %s\n" "the same file (nginx, 1 worker)" "$nginx_med"
awk -v l="$local_med" -v c="$cached_med" -v f="$floor_med" -v n="$nginx_med" -v r="$ROUNDS" 'BEGIN {
  l += 0; c += 0; f += 0; n += 0
  printf "downloads, median of %d interleaved rounds: cached %.2fx nginx, local %.2fx nginx, filefloor %.2fx nginx; cached %.2fx local, %.2fx filefloor\n", r, c/n, l/n, f/n, c/l, c/f
}'

printf "cold miss, median of %d: %d us through the cache, %d us from the upstream directly: +%d us\n" \
  "$MISSES" "$cold_us" "$direct_us" $((cold_us - direct_us))
