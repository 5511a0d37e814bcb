#!/usr/bin/env bash
# The whole test suite of reignite, as CI runs it (`bash .ci/run` calls this).
# As root on a fresh machine it first installs the Debian packages the tests
# use as oracles and tools (ignition, gdisk, ...). Without root those suites
# skip with a printed reason.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(ignition gdisk dosfstools e2fsprogs passwd)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing test packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || echo "warning: apt-get update failed; trying the install anyway"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || echo "warning: could not install ${missing[*]}; the suites that need them will skip"
  fi
else
  echo "== not root: skipping package installation (${apt_packages[*]}); suites that need them skip"
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace --quiet 2>&1
echo "== all tests passed"
