#!/usr/bin/env bash
# Load figures for pkgindex on generated trees, with nginx serving the same
# files for comparison. Traffic goes to 127.0.0.1 only; every run is bounded.
#
#   hack/load.sh                 all trees
#   TREES="50000:2000:flat" DURATION=10s hack/load.sh
#
# wrk runs one thread on one core. The server under test gets the other:
# pkgindex runs with GOMAXPROCS=$SERVER_PROCS (1), as nginx runs one
# worker. A server that takes both cores shares one with wrk, and its p99
# then measures the CPU scheduler's time slices (SERVER_PROCS=2 shows it).
# Needs wrk and nginx (apt-get install wrk nginx-light) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

TREES=${TREES:-"1000:100:flat 10000:1000:flat 50000:2000:flat 50000:2000:per-project"}
. hack/loadlib.sh

echo "pkgindex with GOMAXPROCS=$SERVER_PROCS, nginx with 1 worker; wrk -t1 -c$CONNS -d$DURATION"
printf "%-28s %-22s %10s %9s %9s\n" tree endpoint req/s p50 p99
for spec in $TREES; do
  IFS=: read -r files projects layout <<<"$spec"
  tree="$WORK/tree-$files-$layout"
  [ -d "$tree" ] || bin/gentree -files "$files" -projects "$projects" -layout "$layout" -out "$tree"
  start_ns=$(date +%s%N)
  # A tree in the per-project layout is served in it: a page checks the
  # root and its project's directory, not all 2,000.
  GOMAXPROCS=$SERVER_PROCS bin/pkgindex serve --root "$tree" --layout "$( [ "$layout" = per-project ] && echo per-project || echo any)" \
    --listen 127.0.0.1:$PORT --log-level warn >/dev/null 2>"$WORK/serve.log" &
  pid=$!; pids+=($pid)
  # Peak anonymous memory (RssAnon + RssShmem): the binary's own pages are
  # page cache the kernel reclaims, not the server's memory.
  peakf="$WORK/anon-peak"; echo 0 >"$peakf"
  ( peak=0; while kill -0 $pid 2>/dev/null; do
      a=$(awk '/^(RssAnon|RssShmem):/ {s+=$2} END {print s+0}' /proc/$pid/status 2>/dev/null || echo 0)
      [ "${a:-0}" -gt $peak ] && { peak=$a; echo $peak >"$peakf"; }
      sleep 0.05
    done ) & pids+=($!)
  until curl -sf -o /dev/null http://127.0.0.1:$PORT/simple/; do
    kill -0 $pid 2>/dev/null || { echo "load.sh: pkgindex exited (see $WORK/serve.log)"; exit 1; }
    sleep 0.01
  done
  first_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  base=http://127.0.0.1:$PORT
  # Hash every file once (pypiserver's /packages/ lists them all with
  # digests), so the memory figure is that of an index whose every project
  # has been asked for, not of a cold cache.
  t0=$(date +%s%N)
  curl -sf -o /dev/null $base/packages/
  warm_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  project=project-0007
  dl=$(curl -s -H 'Accept: application/vnd.pypi.simple.v1+json' $base/simple/$project/ |
    grep -o '"url":"[^"]*"' | head -1 | sed 's/"url":"\.\.\/\.\.\///; s/"$//')
  name="$files files, $layout"
  printf "%-28s %-22s %s\n" "$name" "/simple/" "$(wrk_run $base/simple/)"
  printf "%-28s %-22s %s\n" "$name" "project page (HTML)" "$(wrk_run $base/simple/$project/)"
  printf "%-28s %-22s %s\n" "$name" "project page (JSON)" "$(wrk_run $base/simple/$project/ application/vnd.pypi.simple.v1+json)"
  printf "%-28s %-22s %s\n" "$name" "download" "$(wrk_run $base/$dl)"

  # nginx serving the same tree
  printf "%-28s %-22s %s\n" "$name" "download (nginx, 1 worker)" "$(nginx_run /packages/ "$tree/" "$dl")"

  # the first request after a file is added, through the project page
  worst=0
  dir="$tree"; [ "$layout" = per-project ] && dir="$tree/$project"
  for i in 1 2 3 4 5; do
    f="$dir/project_0007-99.$i.0.tar.gz"
    cp "$tree/${dl#packages/}" "$f"
    t0=$(date +%s%N)
    curl -s $base/simple/$project/ | grep -q "project_0007-99.$i.0.tar.gz" || { echo "load.sh: new file not listed"; exit 1; }
    ms=$(( ($(date +%s%N) - t0) / 1000 ))
    [ $ms -gt $worst ] && worst=$ms
    rm -f "$f"
  done
  rss=$(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$pid/status)
  anon=$(awk '{printf "%.1f MiB", $1/1024}' "$peakf")
  printf "%-28s first answer after start %d ms; every file hashed in %d ms; first request after an add (worst of 5) %d us\n" \
    "$name" "$first_ms" "$warm_ms" "$worst"
  printf "%-28s peak anonymous memory %s (peak RSS with the binary's pages %s)\n" "$name" "$anon" "$rss"
  kill $pid; wait $pid 2>/dev/null || true
done
