#!/usr/bin/env bash
# Write-path figures: a large upload, round after round, beside dd writing
# as many bytes to the same file system and beside the time its digests
# alone take; then project-page latency while ten uploads run at once.
#
#   hack/upload-load.sh
#   BIG=100 ROUNDS=9 DURATION=20s hack/upload-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BIG=${BIG:-50}
DURATION=${DURATION:-10s}
PORT=${PORT:-18490}
# A work directory made here is removed at the end; one given is kept.
made_work=
if [ -z "${WORK:-}" ]; then
  WORK=$(mktemp -d)
  made_work=1
fi
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$made_work" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

make -s build
go build -o bin/uploadbench ./hack/uploadbench

mkdir -p "$WORK/root"
# A {SHA} entry: cheap to check, so the figures are the write path's.
printf 'bench:{SHA}%s\n' "$(python3 -c 'import base64,hashlib;print(base64.b64encode(hashlib.sha1(b"bench").digest()).decode())')" >"$WORK/htpasswd"

bin/pkgindex serve --root "$WORK/root" --listen 127.0.0.1:$PORT --passwords "$WORK/htpasswd" \
  --max-upload-size $((BIG + 1))MiB --log-level warn >/dev/null 2>"$WORK/serve.log" &
pid=$!
until curl -sf -o /dev/null http://127.0.0.1:$PORT/healthz; do sleep 0.05; done
bin/uploadbench -url http://127.0.0.1:$PORT -user bench -password bench -pid $pid -big "$BIG" -duration "$DURATION" \
  -rounds "${ROUNDS:-5}" -dd-dir "$WORK"
