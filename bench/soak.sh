#!/usr/bin/env bash
# Memory over a long run: graygate on bench/gray.yaml behind wrk for MINUTES minutes (default
# 10), alternating one-minute rounds of returning devices (cookies) and new devices (no cookies)
# so connections, devices and upstream connections churn. graygate's RSS is sampled every 10 s;
# the report compares the first minute after warm-up with the last one. Loopback only; wrk keeps
# 32 connections.
#   bench/soak.sh [--minutes 10]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
MINUTES=10
while [[ $# -gt 0 ]]; do
  case $1 in
    --minutes) MINUTES=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
build_release
start_origins graysoak
GRAYGATE_LOG=error "$BIN" run --config bench/gray.yaml >"$RUN/graygate.log" 2>&1 &
GG=$!
on_exit 'kill "$GG"'
wait_port 8080
( while sleep 10; do echo "$(date +%s) $(awk '/VmRSS/{print $2}' /proc/$GG/status)"; done ) > "$RUN/rss.txt" &
SAMPLER=$!
on_exit 'kill "$SAMPLER"'
total=0
for m in $(seq 1 "$MINUTES"); do
  script=cookies; (( m % 2 == 0 )) && script=nocookie
  n=$(wrk -t1 -c32 -d60s -s "$KIT/wrk-$script.lua" http://127.0.0.1:8080/ | awk '/requests in/{print $1}')
  total=$((total + n))
  echo "minute $m ($script): $n requests, RSS $(awk '/VmRSS/{print $2}' /proc/$GG/status) KiB"
done
kill "$SAMPLER"
python3 - "$RUN/rss.txt" "$total" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
rss = [r for _, r in rows]
first, last = rss[6:12] or rss[:1], rss[-6:]
a, b = sum(first) / len(first), sum(last) / len(last)
print(f"requests: {int(sys.argv[2])}  samples: {len(rss)}  RSS min {min(rss)/1024:.1f} MiB, max {max(rss)/1024:.1f} MiB")
print(f"minute 2 mean {a/1024:.2f} MiB, last minute mean {b/1024:.2f} MiB: change {100*(b-a)/a:+.1f}%")
PY
