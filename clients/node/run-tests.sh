#!/bin/sh
# Runs the Node.js client's tests (unit, e2e against spanvaultd, wrappers,
# pack). SPANVAULTD: path of the daemon (default ../../build/spanvaultd);
# with CI=true a missing daemon fails instead of skipping.
set -eu
cd "$(dirname "$0")"
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund || echo "run-tests.sh: npm ci failed; the SDK wrapper and type tests will skip" >&2
fi
exec node --test "$@"
