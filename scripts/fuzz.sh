#!/usr/bin/env bash
# Fuzzes graygate with cargo-fuzz (libFuzzer): one target, or every target in turn.
#
#   scripts/fuzz.sh [TARGET] [SECONDS]    TARGET: a name from `cargo fuzz list`, or `all` (default)
#                                         SECONDS: run time per target (default 60)
#
# Only stable Rust is needed: RUSTC_BOOTSTRAP=1 unlocks the nightly flags cargo-fuzz passes.
# Runs one job at a time. Hand-written seeds live in fuzz/corpus/<target>/seed-*; what the
# fuzzer adds next to them, and crashes (fuzz/artifacts/<target>/), are ignored by git.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

target=${1:-all}
seconds=${2:-60}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

if [[ $target == all ]]; then
  mapfile -t targets < <(cargo fuzz list)
else
  targets=("$target")
fi

status=0
for t in "${targets[@]}"; do
  echo "== $t: ${seconds}s"
  mkdir -p "corpus/$t"
  if ! cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -timeout=30 -print_final_stats=1; then
    echo "!! $t failed; see fuzz/artifacts/$t/"
    status=1
  fi
done
exit $status
