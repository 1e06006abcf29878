# Sourced by the bench scripts (run from the repository root): the benchmark kit's origins
# (nginx answering `stable` on 127.0.0.1:9001 and `gray` on :9002) in a fresh run directory,
# a release build of graygate, and clean-up on exit.
#   start_origins NAME    RUN=/tmp/NAME.XXXXXX with the origins running in it
#   build_release         BIN=the release binary
#   wait_port PORT        until something listens on 127.0.0.1:PORT (10 s at most)
#   on_exit 'COMMAND'     run COMMAND (evaluated then) when the script exits
KIT=${BENCH_KIT:-../shared/bench}
[[ -f $KIT/nginx-lua/backend.conf.tmpl ]] || { echo "benchmark kit not found at $KIT (set BENCH_KIT)" >&2; exit 2; }
need=()
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
if [[ ${#need[@]} -gt 0 ]]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null
fi
export PATH="$PATH:/usr/sbin"

EXIT_COMMANDS=()
on_exit() { EXIT_COMMANDS+=("$1"); }
run_exit_commands() {
  local c
  for c in "${EXIT_COMMANDS[@]}"; do eval "$c" 2>/dev/null || true; done
}
trap run_exit_commands EXIT

wait_port() {
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "port $1 never opened" >&2
  return 1
}

start_origins() {
  RUN=$(mktemp -d "/tmp/$1.XXXXXX")
  mkdir -p "$RUN"/{b_body,b_proxy,b_fcgi,b_uwsgi,b_scgi}
  sed -e "s#__RUN__#$RUN#g" -e "s#__HERE__#$KIT#g" -e "s#__WORKERS__#1#g" \
    "$KIT/nginx-lua/backend.conf.tmpl" > "$RUN/backend.conf"
  nginx -p "$RUN" -c "$RUN/backend.conf"
  on_exit "kill \$(cat '$RUN/backend.pid')"
  wait_port 9001
  wait_port 9002
}

build_release() {
  cargo build --release -q -p graygate
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/graygate
}
