// otlp/ — maps one decoded OTLP span (with its resource and scope) to a span
// in spanvault's input schema (design §2). The mapping table is at the top of
// otlp_ingest.cc. No I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "otlp/span_data.h"

namespace spanvault::otlp {

// Not thread-safe: one per decoding call (it keeps scratch buffers).
class SpanMapper {
 public:
  // Appends the span's canonical JSON to out.spans, or counts it in
  // out.rejected with a reason in out.error_message (the first few).
  void Map(const Pool& pool, const ResourceData& resource, const ScopeData& scope, const SpanData& span,
           MappedSpans& out);

 private:
  std::vector<uint8_t> consumed_;
  std::vector<uint8_t> resource_consumed_;
};

// Counts one rejected span; keeps the first few reasons.
void RejectSpan(MappedSpans& out, std::string_view name, std::string_view reason);

}  // namespace spanvault::otlp
