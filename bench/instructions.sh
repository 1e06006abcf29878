#!/usr/bin/env bash
# Instructions per proxied request, counted by callgrind: repeatable whatever else the machine
# is doing, so it shows the effect of a change to the request path where wall-clock benchmarks
# on shared cores cannot.
#   bench/instructions.sh [--seconds 15] [--script cookies|nocookie]
# Needs valgrind, nginx (the origins of the benchmark kit) and wrk; the kit beside the repository
# (../shared/bench) or BENCH_KIT=dir.
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=${BENCH_KIT:-../shared/bench}
SECS=15 SCRIPT=cookies
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) SECS=$2; shift 2 ;;
    --script) SCRIPT=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
cargo build --release -p graygate
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/graygate
RUN=$(mktemp -d /tmp/grayinsn.XXXXXX)
mkdir -p "$RUN"/{b_body,b_proxy,b_fcgi,b_uwsgi,b_scgi}
sed -e "s#__RUN__#$RUN#g" -e "s#__HERE__#$KIT#g" -e "s#__WORKERS__#1#g" "$KIT/nginx-lua/backend.conf.tmpl" > "$RUN/backend.conf"
GG=""
cleanup() {
  [[ -n $GG ]] && kill "$GG" 2>/dev/null || true
  [[ -f $RUN/backend.pid ]] && kill "$(cat "$RUN/backend.pid")" 2>/dev/null || true
}
trap cleanup EXIT
nginx -p "$RUN" -c "$RUN/backend.conf"
GRAYGATE_LOG=error valgrind --tool=callgrind --callgrind-out-file="$RUN/callgrind.out" \
  "$BIN" run --config bench/gray.yaml >"$RUN/graygate.log" 2>&1 &
GG=$!
for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && break; sleep 0.1; done
# Start-up (config parsing, threads) is not request work: count from here.
callgrind_control -z "$GG" >/dev/null
wrk -t1 -c8 -d"${SECS}s" -s "$KIT/wrk-$SCRIPT.lua" http://127.0.0.1:8080/ > "$RUN/wrk.txt"
kill -INT "$GG"; wait "$GG" 2>/dev/null || true; GG=""
requests=$(awk '/requests in/{print $1}' "$RUN/wrk.txt")
total=$(callgrind_annotate "$RUN/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(/,/,"",$1); print $1}')
echo "requests: $requests  instructions: $total  per request: $((total / requests))"
echo "profile: $RUN/callgrind.out (callgrind_annotate --inclusive=yes it)"
