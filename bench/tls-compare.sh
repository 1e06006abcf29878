#!/usr/bin/env bash
# HTTPS side by side: graygate against nginx (Debian) serving the same certificate and the same
# small static file, one worker each, interleaved rounds. Measures with h2load:
#   h2     — HTTP/2 throughput (16 connections x 16 streams)
#   h1     — HTTP/1.1 over TLS throughput (16 keepalive connections)
#   hs     — new TLS handshakes per second (one request per connection)
#   bench/tls-compare.sh [--rounds N] [--requests N]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=3 REQUESTS=100000
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --requests) REQUESTS=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
need=()
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v h2load >/dev/null || need+=(nghttp2-client)
if [[ ${#need[@]} -gt 0 ]]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null
fi
export PATH="$PATH:/usr/sbin"
cargo build --release -q -p graygate
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/graygate
RUN=$(mktemp -d /tmp/graygate-tls.XXXXXX)
mkdir -p "$RUN"/{www,body,proxy,fcgi,uwsgi,scgi}
printf 'hello over tls\n' > "$RUN/www/index.html"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=bench.test \
  -addext subjectAltName=DNS:bench.test -keyout "$RUN/key.pem" -out "$RUN/cert.pem" 2>/dev/null
cat > "$RUN/nginx.conf" <<CONF
worker_processes 1;
pid $RUN/nginx.pid;
error_log $RUN/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $RUN/body; proxy_temp_path $RUN/proxy; fastcgi_temp_path $RUN/fcgi;
  uwsgi_temp_path $RUN/uwsgi; scgi_temp_path $RUN/scgi;
  keepalive_requests 10000000;
  server {
    listen 127.0.0.1:9443 ssl http2 backlog=4096;
    ssl_certificate $RUN/cert.pem;
    ssl_certificate_key $RUN/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { root $RUN/www; }
  }
}
CONF
cat > "$RUN/graygate.yaml" <<CONF
listen: ["127.0.0.1:9080"]
workers: 1
metrics: {enabled: true, listen: "127.0.0.1:9114"}
admin: {enabled: false}
server: {keepalive_requests: 10000000}
tls:
  listen: ["127.0.0.1:9444"]
  certificates: [{name: bench, cert: $RUN/cert.pem, key: $RUN/key.pem}]
  http2: {max_concurrent_streams: 128}
sites:
  - name: bench
    hosts: ["*"]
    release: {default: v, versions: {v: {root: $RUN/www}}}
CONF
PID=""
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null || true
  [[ -f $RUN/nginx.pid ]] && kill "$(cat "$RUN/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
rps() { awk '/^finished in/{gsub(",",""); for(i=1;i<=NF;i++) if ($i ~ /req\/s/) print $(i-1)}'; }
echo "target,round,h2_rps,h1_rps,handshakes_per_s" > "$RUN/results.csv"
for r in $(seq 1 "$ROUNDS"); do
  for target in nginx graygate; do
    if [[ $target == nginx ]]; then nginx -p "$RUN" -c "$RUN/nginx.conf"; PORT=9443; else
      GRAYGATE_LOG=error "$BIN" run --config "$RUN/graygate.yaml" >/dev/null 2>&1 & PID=$!; PORT=9444; fi
    wait_port $PORT
    url=https://127.0.0.1:$PORT/index.html
    h2load -n 2000 -c 16 -m 16 "$url" >/dev/null
    h2=$(h2load -n "$REQUESTS" -c 16 -m 16 "$url" | rps)
    h1=$(h2load --h1 -n "$REQUESTS" -c 16 "$url" | rps)
    hs=$(h2load --h1 -n 5000 -c 5000 -t 1 "$url" 2>/dev/null | rps)
    echo "$target,$r,$h2,$h1,$hs" | tee -a "$RUN/results.csv"
    if [[ $target == nginx ]]; then kill "$(cat "$RUN/nginx.pid")"; while [[ -f $RUN/nginx.pid ]]; do sleep 0.1; done
    else kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; fi
  done
done
python3 - "$RUN/results.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
med = {t: {k: statistics.median(float(r[k]) for r in rows if r["target"] == t) for k in ("h2_rps", "h1_rps", "handshakes_per_s")} for t in ("nginx", "graygate")}
for t in ("nginx", "graygate"):
    m = med[t]
    print(f"{t:9s} h2={m['h2_rps']:.0f} req/s  h1={m['h1_rps']:.0f} req/s  new handshakes={m['handshakes_per_s']:.0f}/s")
g, n = med["graygate"], med["nginx"]
print(f"graygate/nginx: h2 x{g['h2_rps']/n['h2_rps']:.2f}  h1 x{g['h1_rps']/n['h1_rps']:.2f}  handshakes x{g['handshakes_per_s']/n['handshakes_per_s']:.2f}")
PY
