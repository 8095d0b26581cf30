#!/usr/bin/env bash
# Runs every test (GoogleTest through CTest).
#   ./run-tests.sh          the Release build in build/
#   ./run-tests.sh --asan   the ASan+UBSan build in build-asan/
# Builds first (incrementally), so it is safe to run right after a change.
set -euo pipefail
cd "$(dirname "$0")"
dir=build
if [ "${1:-}" = "--asan" ]; then
  dir=build-asan
  shift
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
if [ ! -f "$dir/CMakeCache.txt" ]; then
  echo "run-tests: $dir/ is not configured; run ./setup.sh${dir/build-asan/ --asan} first" >&2
  exit 2
fi
cmake --build "$dir" -j "${JOBS:-$(nproc)}"
ctest --test-dir "$dir" --output-on-failure -j "${JOBS:-2}" "$@"
