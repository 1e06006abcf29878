#!/usr/bin/env bash
# Runs every check graygate has: formatting, clippy, and all tests (unit, property and end to
# end). Installs what the end-to-end tests talk to when missing: Debian's nginx, curl,
# prometheus (with promtool), chromium, nghttp2-client (h2load), openssl, Node.js and npm, and
# playwright-core from npm.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
[[ -x /usr/bin/chromium ]] || need+=(chromium)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [[ ${#need[@]} -gt 0 ]]; then
  echo "installing: ${need[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin"
browser=crates/graygate/tests/browser
if [[ ! -d $browser/node_modules/playwright-core ]]; then
  (cd "$browser" && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
