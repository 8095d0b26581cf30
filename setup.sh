#!/usr/bin/env bash
# Installs the Debian 12 packages spanvault needs (idempotent, quiet when
# already installed) and builds Release into build/.
#   ./setup.sh            install + build build/
#   ./setup.sh --asan     install + build build-asan/ (ASan + UBSan, Debug)
#   ./setup.sh --deps     install only
set -euo pipefail
cd "$(dirname "$0")"

PKGS=(
  build-essential cmake pkg-config git
  libboost1.74-dev          # Asio + Beast (header-only parts)
  librocksdb-dev            # the durable buffer
  nlohmann-json3-dev        # config and general JSON
  libsimdjson-dev           # hot-path span parsing
  libtomlplusplus-dev       # TOML config
  libcli11-dev              # command-line parsing
  libssl-dev                # HTTPS to upstreams
  zlib1g-dev                # gzip request bodies (HTTP listener inflate)
  libdeflate-dev            # fast gzip of outgoing batches (2x zlib's speed at level 1)
  libre2-dev                # processors: user redaction patterns and =~ in conditions (linear time)
  libsystemd-dev            # sd_notify
  systemd                   # systemd-analyze verify (unit tests)
  libgtest-dev googletest   # tests
  socat                     # manual testing and some tests
  chromium                  # the trace explorer's browser test (tests/web, driven by playwright-core)
  python3 python3-venv python3-pip python3-setuptools python3-wheel
                            # clients/python's tests: its package is built and installed offline
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The end-to-end tests run the OpenTelemetry JS SDKs: Debian's nodejs + npm,
# unless a node with npm is there already (e.g. from NodeSource, which bundles
# npm and conflicts with Debian's npm package).
if ! command -v npm >/dev/null 2>&1; then
  for p in nodejs npm; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The explorer's browser test drives chromium with playwright-core (pinned in
# tests/web/package-lock.json); no browser download, Debian's chromium is used.
if [ ! -f tests/web/node_modules/playwright-core/package.json ] ||
   [ tests/web/package-lock.json -nt tests/web/node_modules/.package-lock.json ]; then
  echo "setup: npm ci in tests/web" >&2
  (cd tests/web && timeout 300 npm ci --no-audit --no-fund --loglevel=error) ||
    echo "setup: npm ci in tests/web failed; the browser test will be skipped (failed under CI=true)" >&2
fi

# The Node client's tests use the real openai npm package (a devDependency,
# pinned in clients/node/package-lock.json); the package itself has none.
if [ -f clients/node/package-lock.json ] &&
   { [ ! -d clients/node/node_modules ] ||
     [ clients/node/package-lock.json -nt clients/node/node_modules/.package-lock.json ]; }; then
  echo "setup: npm ci in clients/node" >&2
  (cd clients/node && timeout 300 npm ci --no-audit --no-fund --loglevel=error) ||
    echo "setup: npm ci in clients/node failed; its SDK tests will be skipped (failed under CI=true)" >&2
fi

[ "${1:-}" = "--deps" ] && exit 0

JOBS=${JOBS:-$(nproc)}
if [ "${1:-}" = "--asan" ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSPANVAULT_SANITIZE=ON >/dev/null
  cmake --build build-asan -j "$JOBS"
else
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j "$JOBS"
fi
