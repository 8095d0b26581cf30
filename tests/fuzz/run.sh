#!/usr/bin/env bash
# Builds the decoder fuzz target with clang's libFuzzer (+ASan/UBSan) and runs
# it for SECONDS (default 60) on the seed corpus.
#   tests/fuzz/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
out=build-fuzz
mkdir -p "$out/corpus"
cp tests/fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
clang++ -std=c++2b -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. \
  tests/fuzz/decoder_fuzz.cc span/decoder.cc span/json_writer.cc span/batch.cc common/util.cc \
  $(pkg-config --cflags --libs simdjson) -o "$out/decoder_fuzz"
"$out/decoder_fuzz" -max_total_time="$secs" -max_len=8192 -timeout=10 "$out/corpus"
