// decode/otlp/ — maps one decoded OTLP span (with its resource and scope) to a span
// in spanvault's input schema (docs/span.md). The mapping table is at the top of
// otlp_ingest.cc. No I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "decode/otlp/span_data.h"

namespace spanvault::otlp {

// Not thread-safe: one per decoding call (it keeps scratch buffers).
class SpanMapper {
 public:
  explicit SpanMapper(const MapLimits& limits = {}) : limits_(limits) {}
  // Appends the span's canonical JSON to out.spans, or counts it in
  // out.rejected with a reason in out.error_message (the first few): also
  // when it would be larger than max_span_bytes, or the request has written
  // max_output_bytes (writing stops at the bound, so neither costs more).
  void Map(const Pool& pool, const ResourceData& resource, const ScopeData& scope, const SpanData& span,
           MappedSpans& out);

 private:
  MapLimits limits_;
  std::vector<uint8_t> consumed_;
  std::vector<uint8_t> resource_consumed_;
};

// MapLimits::max_attributes on one attribute list: keeps the first `max`
// (0: all); returns how many were dropped and counts them in `out`.
uint32_t CapAttributes(AttrRange& range, uint32_t max, MappedSpans& out);
// The same on a span's attributes (counted in limit_dropped_attributes) and
// on its events' and links' attributes.
void CapSpanAttributes(SpanData& span, uint32_t max, MappedSpans& out);
// MapLimits::max_attribute_value_bytes on one string, bytes or base64 value.
void CapValue(AnyValue& v, size_t max, MappedSpans& out);

// Counts one rejected span; keeps the first few reasons.
void RejectSpan(MappedSpans& out, std::string_view name, std::string_view reason);

}  // namespace spanvault::otlp
