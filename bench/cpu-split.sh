#!/usr/bin/env bash
# Where a proxied request's CPU goes: user and kernel (system) time per request of the origin
# served directly, nginx + lua-nginx-module and graygate, on the seed's gray-release workload,
# interleaved round by round. Kernel time is the TCP work of the request's system calls (both
# proxies make the same two receives and two sends per request); the difference between the
# proxies is user time. The direct origin shows the floor of one hop.
#   bench/cpu-split.sh [--rounds N] [--seconds S] [--conns C] [--script cookies|nocookie]
# Needs the shared benchmark kit beside the repository (../shared/bench, or BENCH_KIT=dir).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=3 SECS=8 CONNS=64 SCRIPT=cookies
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --script) SCRIPT=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ]] ||
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnginx-mod-http-lua) >/dev/null
build_release
start_origins graygate-split
mkdir -p "$RUN"/{p_body,p_proxy,p_fcgi,p_uwsgi,p_scgi}
sed -e "s#__RUN__#$RUN#g" -e "s#__HERE__#$KIT#g" -e "s#__WORKERS__#1#g" \
  "$KIT/nginx-lua/proxy.conf.tmpl" > "$RUN/proxy.conf"
PID=""
on_exit '[[ -n $PID ]] && kill "$PID"'
on_exit "[[ -f '$RUN/proxy.pid' ]] && kill \$(cat '$RUN/proxy.pid')"
# user and system clock ticks of a list of processes
ticks() { local u=0 s=0 p; for p in "$@"; do read -r a b < <(awk '{print $14, $15}' "/proc/$p/stat"); u=$((u + a)); s=$((s + b)); done; echo "$u $s"; }
HZ=$(getconf CLK_TCK)
echo "target,round,rps,user_us,sys_us,total_us,p99" > "$RUN/results.csv"
for r in $(seq 1 "$ROUNDS"); do
  for target in direct nginx graygate; do
    case $target in
      direct) port=9001; pids=$(pgrep -P "$(cat "$RUN/backend.pid")") ;;
      nginx) nginx -p "$RUN" -c "$RUN/proxy.conf"; port=9080; wait_port 9080
             pids=$(pgrep -P "$(cat "$RUN/proxy.pid")") ;;
      graygate) GRAYGATE_LOG=error "$BIN" run --config bench/gray.yaml >/dev/null 2>&1 & PID=$!
                port=8080; wait_port 8080; pids=$PID ;;
    esac
    wrk -t1 -c"$CONNS" -d2s -s "$KIT/wrk-$SCRIPT.lua" "http://127.0.0.1:$port/" >/dev/null
    read -r u0 s0 < <(ticks $pids)
    wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s "$KIT/wrk-$SCRIPT.lua" "http://127.0.0.1:$port/" > "$RUN/wrk.txt"
    read -r u1 s1 < <(ticks $pids)
    case $target in
      nginx) kill "$(cat "$RUN/proxy.pid")"; while [[ -f $RUN/proxy.pid ]]; do sleep 0.1; done ;;
      graygate) kill "$PID"; wait "$PID" 2>/dev/null || true; PID="" ;;
    esac
    n=$(awk '/requests in/{print $1}' "$RUN/wrk.txt")
    rps=$(awk '/Requests\/sec/{print $2}' "$RUN/wrk.txt")
    p99=$(awk '$1=="99%"{print $2}' "$RUN/wrk.txt")
    awk -v n="$n" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$HZ" -v t=$target -v r="$r" -v rps="$rps" -v p99="$p99" \
      'BEGIN{printf "%s,%s,%s,%.2f,%.2f,%.2f,%s\n", t, r, rps, u*1e6/hz/n, s*1e6/hz/n, (u+s)*1e6/hz/n, p99}' | tee -a "$RUN/results.csv"
  done
done
python3 - "$RUN/results.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = {}
for t in ("direct", "nginx", "graygate"):
    rs = [r for r in rows if r["target"] == t]
    med[t] = {k: statistics.median(float(r[k]) for r in rs) for k in ("rps", "user_us", "sys_us", "total_us")}
    m = med[t]
    print(f"{t:9s} rps={m['rps']:.0f} user={m['user_us']:.2f}us sys={m['sys_us']:.2f}us total={m['total_us']:.2f}us per request")
n, g = med["nginx"], med["graygate"]
print(f"graygate/nginx: user x{g['user_us']/n['user_us']:.2f}  sys x{g['sys_us']/n['sys_us']:.2f}  total x{g['total_us']/n['total_us']:.2f}")
floor = 2 * med["direct"]["sys_us"]
print(f"kernel floor of two hops (2 x direct sys): {floor:.2f}us; 0.8 x nginx total = {0.8*n['total_us']:.2f}us")
PY
