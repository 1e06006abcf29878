#!/usr/bin/env bash
# graygate against nginx + lua-nginx-module on the seed's gray-release workload, side by side,
# with both wrk scripts (returning devices with cookies, and new devices without).
#   bench/compare.sh [--rounds N] [--seconds S]      (extra flags go to the shared compare script)
# Needs the shared benchmark kit beside the repository (../shared/bench) or BENCH_KIT=dir.
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=${BENCH_KIT:-../shared/bench}
[[ -x $KIT/compare.sh ]] || { echo "benchmark kit not found at $KIT (set BENCH_KIT)" >&2; exit 2; }
cargo build --release -p graygate
GRAYGATE_LOG=error
export GRAYGATE_LOG
for script in cookies nocookie; do
  echo "== wrk script: $script"
  "$KIT/compare.sh" --cmd "${CARGO_TARGET_DIR:-$PWD/target}/release/graygate run --config $PWD/bench/gray.yaml" --port 8080 \
    --wrk-script "$script" "$@"
done
