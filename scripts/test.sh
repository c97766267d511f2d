#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs the real components
# the tests use (MIT KDC, Samba AD DC, curl, GSSAPI headers for the `gssapi`
# feature), then runs formatting, lints, docs and every test.
#
# Under CI=true a missing component fails the tests instead of skipping them.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(krb5-kdc krb5-admin-server krb5-user libkrb5-dev libclang-dev samba ldb-tools curl procps openssl redis-server redis-tools chromium firefox-esr)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Microsoft's own MSAL for Python parses our MEX and RSTR (tests/interop/tests/msal.rs).
if ! python3 -c 'import msal' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check msal==1.39.0
fi

# Heavy property tests run in release mode: 100,000 cases per parser.
export SEAMLESS_PROPTEST_CASES="${SEAMLESS_PROPTEST_CASES:-100000}"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
# The default build, and the build with no crypto backend at all, must be
# warning-free too.
cargo clippy -p seamless-core --lib --locked -- -D warnings
cargo clippy -p seamless-core --lib --no-default-features --locked -- -D warnings
# The default build compiles no C: no -sys crate, no cc/cmake/bindgen build step.
if cargo tree -p seamless-core -e normal,build --prefix none --locked | grep -E '^([a-z0-9_-]+-sys|cc|cmake|bindgen) v'; then
  echo "the default build of seamless-core pulls in C (above)" >&2
  exit 1
fi
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --locked
cargo test --workspace --all-features --release --locked
