// fuzz-flags: -max_len=8192
// libFuzzer target for the span decoder. Properties checked on every input:
// no crash or sanitizer report, every encoded span is valid JSON, and every
// encoded span decodes again as a valid span (the canonical form is stable).
#include <cstdlib>
#include <string>

#include "span/decoder.h"

using namespace spanvault::span;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Decoder decoder;
  static Decoder again;
  static simdjson::dom::parser check;
  Batch batch;
  std::string_view payload(reinterpret_cast<const char*>(data), size);
  DecodeResult r = decoder.Decode(payload, Source{}, 1'700'000'000'000'000'000, batch);
  if (r.accepted != batch.spans.size() || r.rejected != batch.quarantine.size()) abort();
  for (size_t i = 0; i < batch.spans.size(); ++i) {
    std::string span(batch.SpanAt(i));
    simdjson::dom::element e;
    if (check.parse(span).get(e) != simdjson::SUCCESS) abort();
    Batch b2;
    DecodeResult r2 = again.Decode(span, Source{}, 1, b2);
    if (r2.accepted != 1 || r2.rejected != 0) abort();
  }
  for (const auto& q : batch.quarantine) {
    if (q.rejection.reason.empty() || q.rejection.excerpt.size() > 4096) abort();
  }
  return 0;
}
