#!/usr/bin/env bash
# Instructions per proxied request, counted by callgrind: repeatable whatever else the machine
# is doing, so it shows the effect of a change to the request path where wall-clock benchmarks
# on shared cores cannot.
#   bench/instructions.sh [--seconds 15] [--script cookies|nocookie]
# Needs valgrind; the benchmark kit beside the repository (../shared/bench) or BENCH_KIT=dir for
# the origins and wrk scripts (bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
SECS=15 SCRIPT=cookies
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) SECS=$2; shift 2 ;;
    --script) SCRIPT=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
build_release
start_origins grayinsn
GRAYGATE_LOG=error valgrind --tool=callgrind --callgrind-out-file="$RUN/callgrind.out" \
  "$BIN" run --config bench/gray.yaml >"$RUN/graygate.log" 2>&1 &
GG=$!
on_exit 'kill "$GG"'
for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && break; sleep 0.1; done
# Start-up (config parsing, threads) is not request work: count from here.
callgrind_control -z "$GG" >/dev/null
wrk -t1 -c8 -d"${SECS}s" -s "$KIT/wrk-$SCRIPT.lua" http://127.0.0.1:8080/ > "$RUN/wrk.txt"
kill -INT "$GG"; wait "$GG" 2>/dev/null || true
requests=$(awk '/requests in/{print $1}' "$RUN/wrk.txt")
total=$(callgrind_annotate "$RUN/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(/,/,"",$1); print $1}')
echo "requests: $requests  instructions: $total  per request: $((total / requests))"
echo "profile: $RUN/callgrind.out (callgrind_annotate --inclusive=yes it)"
