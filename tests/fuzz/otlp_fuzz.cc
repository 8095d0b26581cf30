// fuzz-flags: -max_len=1048576 -rss_limit_mb=2048
// libFuzzer target for OTLP ingest: the same bytes go to the protobuf and the
// OTLP/JSON decoder. Properties checked on every input: no crash or sanitizer
// report, a decoding error always has a message, and every span produced is
// accepted by span::Decoder (the mapping always emits the canonical schema).
//
// Calls the <expected>-free cores (decode/otlp/span_data.h), written when the fuzz
// build used clang 14; the public DecodeOtlpProto/Json around them are
// fuzzed through the HTTP ingest target (http_ingest_fuzz.cc).
#include <cstdlib>
#include <string>

#include "decode/otlp/span_data.h"
#include "span/decoder.h"

using namespace spanvault;

namespace {

void CheckSpans(const otlp::MappedSpans& out) {
  static span::Decoder decoder;
  for (const auto& s : out.spans) {
    span::Batch batch;
    span::DecodeResult r = decoder.Decode(s, span::Source{}, 1'700'000'000'000'000'000, batch);
    if (r.accepted != 1 || r.rejected != 0) abort();
  }
  if (out.rejected > 0 && out.error_message.empty()) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  for (bool json : {false, true}) {
    otlp::MappedSpans out;
    std::string error = json ? otlp::DecodeJsonRequest(body, 64, out) : otlp::DecodeProtoRequest(body, 64, out);
    if (error.empty()) CheckSpans(out);
  }
  return 0;
}
