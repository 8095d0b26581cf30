#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/*_fuzz.cc, with ASan + UBSan) into
# build-fuzz/ and runs each one for SECONDS_PER_TARGET on its corpus.
#   tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#     SECONDS_PER_TARGET  default 20; 0 builds only
#     TARGET              e.g. "otlp http_ingest" (default: every target)
# Environment: FUZZ_CXX (default clang++-19: Debian 12's clang-19 and
# libclang-rt-19-dev; clang++-16 works too), JOBS (parallel compiles, default
# nproc), FUZZ_ARGS (extra libFuzzer flags for every target).
#
# For a target NAME:
#   tests/fuzz/NAME_fuzz.cc       the target; a first line "// fuzz-flags: ..."
#                                 holds its own libFuzzer flags (-max_len=...)
#   tests/fuzz/corpus/NAME/       its seeds (never written to)
#   tests/fuzz/regressions/NAME/  inputs that once crashed it (run as seeds)
#   build-fuzz/corpus/NAME/       what the fuzzer found, kept between runs
#   build-fuzz/crashes/NAME/      crash, leak, timeout and out-of-memory inputs
#   build-fuzz/logs/NAME.log      libFuzzer's output
# Adding a target is adding the first three (tests/fuzz/CMakeLists.txt picks
# up every *_fuzz.cc; add the parser's source file to SV_FUZZ_SOURCES there if
# it is a new one).
#
# Prints one line per target and exits 1 when any target crashed. To
# reproduce a crash: build-fuzz/NAME_fuzz build-fuzz/crashes/NAME/crash-...
set -uo pipefail
cd "$(dirname "$0")/../.."

secs=${1:-20}
shift $(($# > 0 ? 1 : 0))
if ! [[ "$secs" =~ ^[0-9]+$ ]]; then
  echo "usage: tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi
out=build-fuzz
cxx=${FUZZ_CXX:-clang++-19}
if ! command -v "$cxx" >/dev/null; then
  echo "run.sh: $cxx not found; on Debian 12: apt-get install clang-19 libclang-rt-19-dev llvm-19" >&2
  exit 2
fi

all=()
for f in tests/fuzz/*_fuzz.cc; do
  n=$(basename "$f" _fuzz.cc)
  all+=("$n")
done
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  if [ ! -f "tests/fuzz/${t}_fuzz.cc" ]; then
    echo "run.sh: no target \"$t\" (targets: ${all[*]})" >&2
    exit 2
  fi
done

# Build: every source once, then one link per target (output in the log
# unless it fails).
mkdir -p "$out/logs"
# Another compiler than last time: configure afresh (corpora and crashes stay).
if [ -f "$out/CMakeCache.txt" ] && [ "$(cat "$out/.cxx" 2>/dev/null)" != "$cxx" ]; then
  rm -rf "$out/CMakeCache.txt" "$out/CMakeFiles"
fi
echo "$cxx" >"$out/.cxx"
generator=()
if [ ! -f "$out/CMakeCache.txt" ] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
start=$(date +%s)
if ! { cmake -S tests/fuzz -B "$out" "${generator[@]}" -DCMAKE_CXX_COMPILER="$cxx" &&
  cmake --build "$out" -j "${JOBS:-$(nproc)}" --target "${targets[@]/%/_fuzz}"; } >"$out/logs/build.log" 2>&1; then
  grep -E -A5 'error|FAILED' "$out/logs/build.log" | head -n 60 >&2
  echo "run.sh: the build failed (log: $out/logs/build.log)" >&2
  exit 2
fi
echo "built ${#targets[@]} target(s) in $(($(date +%s) - start))s; ${secs}s each"
((secs > 0)) || exit 0

# Symbolized stack traces: the compiler's llvm-symbolizer (Debian: llvm-19),
# else any.
for symbolizer in "$(dirname "$(readlink -f "$(command -v "$cxx")")")/llvm-symbolizer" \
  "$(command -v llvm-symbolizer)" $(ls -r /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null); do
  if [ -x "$symbolizer" ]; then
    export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$symbolizer}
    break
  fi
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus/$t" "$out/crashes/$t"
  dirs=("$out/corpus/$t")
  for d in "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t"; do
    [ -d "$d" ] && dirs+=("$d")
  done
  read -ra flags <<<"$(sed -n '1s|^// fuzz-flags:||p' "tests/fuzz/${t}_fuzz.cc")"
  read -ra extra <<<"${FUZZ_ARGS:-}"
  log="$out/logs/$t.log"
  start=$(date +%s)
  "$out/${t}_fuzz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "${flags[@]}" "${extra[@]}" -artifact_prefix="$out/crashes/$t/" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  [ -n "$runs" ] || runs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
  corpus=$(find "$out/corpus/$t" -type f | wc -l)
  if ((rc == 0)); then
    printf '%-18s runs=%-10s time=%ss corpus=%s crashes=0\n' "$t" "${runs:-?}" "$took" "$corpus"
  else
    failed=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    what=$(grep -m1 -oE 'FUZZ_CHECK failed.*|runtime error:.*|Assertion .*|ERROR: [A-Za-z]+: [a-z-]+( [a-z-]+)?' "$log")
    printf '%-18s runs=%-10s time=%ss corpus=%s crashes=1  %s  %s (log: %s)\n' "$t" "${runs:-?}" "$took" "$corpus" \
      "${what:-exit $rc}" "${artifact:-?}" "$log"
  fi
done
exit "$failed"
