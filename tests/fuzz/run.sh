#!/usr/bin/env bash
# Builds the fuzz targets with clang's libFuzzer (+ASan/UBSan) and runs them
# for SECONDS in total (default 60, split between the span decoder and the
# OTLP ingest) on their seed corpora.
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
"$out/decoder_fuzz" -max_total_time="$((secs - secs / 2))" -max_len=8192 -timeout=10 "$out/corpus"

# OTLP ingest (protobuf and OTLP/JSON → canonical spans → span::Decoder).
mkdir -p "$out/corpus_otlp"
cp tests/otlp/fuzz_seeds/* "$out/corpus_otlp/" 2>/dev/null || true
clang++ -std=c++2b -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. \
  tests/fuzz/otlp_fuzz.cc otlp/proto_reader.cc otlp/json_reader.cc otlp/mapping.cc otlp/mapping_attributes.cc otlp/usage.cc \
  otlp/conventions.cc otlp/json_out.cc span/decoder.cc span/json_writer.cc span/batch.cc common/util.cc \
  $(pkg-config --cflags --libs simdjson) -o "$out/otlp_fuzz"
"$out/otlp_fuzz" -max_total_time="$((secs / 2))" -max_len=16384 -timeout=10 "$out/corpus_otlp"
