#!/usr/bin/env bash
# The hot-path cost of metrics: graygate with metrics on against graygate with metrics off, on
# the seed's gray-release workload (bench/gray.yaml), interleaved round by round.
#   bench/metrics-onoff.sh [--rounds N] [--seconds S] [--conns C]
# Needs the shared benchmark kit beside the repository (../shared/bench, or BENCH_KIT=dir) for
# the origin servers and the wrk script; installs nginx and wrk from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=5 SECS=8 CONNS=64
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
build_release
start_origins graygate-onoff
sed -e 's/^  enabled: true/  enabled: false/' bench/gray.yaml > "$RUN/off.yaml"
cp bench/gray.yaml "$RUN/on.yaml"
grep -q "enabled: false" "$RUN/off.yaml"
PID=""
on_exit '[[ -n $PID ]] && kill "$PID"'
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
echo "mode,round,rps,cpu_us_per_req" > "$RUN/results.csv"
for r in $(seq 1 "$ROUNDS"); do
  for mode in on off; do
    GRAYGATE_LOG=error "$BIN" run --config "$RUN/$mode.yaml" >/dev/null 2>&1 & PID=$!
    wait_port 8080
    wrk -t1 -c"$CONNS" -d2s -s "$KIT/wrk-cookies.lua" http://127.0.0.1:8080/ >/dev/null
    c0=$(ticks "$PID")
    wrk -t1 -c"$CONNS" -d"${SECS}s" -s "$KIT/wrk-cookies.lua" http://127.0.0.1:8080/ > "$RUN/wrk.txt"
    c1=$(ticks "$PID")
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
    rps=$(awk '/Requests\/sec/{print $2}' "$RUN/wrk.txt")
    total=$(awk '/requests in/{print $1}' "$RUN/wrk.txt")
    cpu=$(awk -v d=$((c1 - c0)) -v n="$total" -v hz="$HZ" 'BEGIN{printf "%.2f", d*1e6/hz/n}')
    echo "$mode,$r,$rps,$cpu" | tee -a "$RUN/results.csv"
  done
done
python3 - "$RUN/results.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = {m: {k: statistics.median(float(r[k]) for r in rows if r["mode"] == m) for k in ("rps", "cpu_us_per_req")} for m in ("on", "off")}
for m in ("on", "off"):
    print(f"metrics {m:3s}: rps={med[m]['rps']:.0f} cpu/req={med[m]['cpu_us_per_req']:.2f}us")
print(f"on/off: cpu_per_req x{med['on']['cpu_us_per_req']/med['off']['cpu_us_per_req']:.3f}  rps x{med['on']['rps']/med['off']['rps']:.3f}")
PY
