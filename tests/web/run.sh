#!/usr/bin/env bash
# Runs the explorer's browser test (explorer_test.mjs) for CTest.
#   tests/web/run.sh --daemon PATH/spanvaultd --artifacts DIR   against the real daemon
#   tests/web/run.sh --mock --artifacts DIR                     against mock_api.mjs
# Needs node, Debian's chromium ($SPANVAULT_CHROMIUM, default /usr/bin/chromium)
# and tests/web/node_modules (setup.sh runs `npm ci` here). Without them: exit
# 77 (CTest: skipped) with the reason, but with CI=true that is a failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
chromium=${SPANVAULT_CHROMIUM:-/usr/bin/chromium}
missing=""
command -v node >/dev/null 2>&1 || missing="node (apt-get install nodejs)"
[ -x "$chromium" ] || missing="${missing:+$missing, }chromium at $chromium (apt-get install chromium)"
[ -f "$here/node_modules/playwright-core/package.json" ] ||
  missing="${missing:+$missing, }tests/web/node_modules (cd tests/web && npm ci)"
if [ -n "$missing" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "web test: FAILED, missing under CI: $missing (./setup.sh installs them)" >&2
    exit 1
  fi
  echo "web test: SKIPPED, missing: $missing (./setup.sh installs them)" >&2
  exit 77
fi
exec node "$here/explorer_test.mjs" "$@"
