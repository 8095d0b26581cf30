// span/ — the canonical span (docs/span.md): parsing, validation, normalisation
// and encoding. No I/O.
//
// A payload is one span object or an array of span objects. Each valid span is
// encoded once, straight into the batch buffer, as canonical JSON:
//
//   {"trace_id","span_id","parent_span_id"?,"span_parents"?,"name","type",
//    "start_time","end_time"?,"duration_ms"?,"status","error"?,"model"?,
//    "provider"?,"model_parameters"?,"usage"?,"cost"?,"input"?,"output"?,
//    "expected"?,"attributes"?,"tags"?,"scores"?,"metrics"?,"session_id"?,
//    "user_id"?,"environment"?,"release"?,"service"?,"received_at",
//    "source":{"transport","pid"?,"uid"?,"gid"?}}
//
// Times are written as RFC 3339 UTC with nanosecond precision (lossless for
// the integer nanoseconds they are parsed into; JSON numbers are not).
// Every refused span or payload becomes a Rejection with a precise reason.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "span/batch.h"

namespace spanvault::span {

struct Limits {
  // Default: 1 MiB. Larger payloads are refused as too_large.
  size_t max_payload_bytes = 1u << 20;
  // Default: 64. JSON nesting deeper than this is refused.
  uint32_t max_depth = 64;
  // Default: no limit. A span whose canonical JSON is larger is refused
  // (too_large), also as one element of an array.
  size_t max_span_bytes = SIZE_MAX;
};

// The fields of one span read while it is decoded, valid until the next Decode.
struct SpanView {
  std::string_view name;
  std::string_view model;
  std::string_view provider;
  SpanType type = SpanType::kSpan;
  int64_t start_ns = 0;
  std::optional<int64_t> end_ns;
  bool has_usage = false;
  Usage usage;
  bool client_cost = false;
};

struct DecodeResult {
  uint32_t accepted = 0;  // spans appended to batch.spans
  uint32_t rejected = 0;  // rejections appended to batch.quarantine
};

// Not thread-safe: use one Decoder per thread. Holds a simdjson parser whose
// memory grows to about 10× the largest payload seen.
class Decoder {
 public:
  explicit Decoder(Limits limits = {});
  // Padding simdjson may read past the end of a payload passed with padded=true.
  static constexpr size_t kPadding = simdjson::SIMDJSON_PADDING;

  const Limits& limits() const { return limits_; }

  // Decodes one payload, appending every valid span to `batch` and one
  // Rejection per refused span (or one for the whole payload when it is not
  // JSON, too large, too deep, or not an object/array). Never throws.
  // `padded`: kPadding bytes after the payload are readable (saves a copy).
  DecodeResult Decode(std::string_view payload, const Source& source, int64_t received_ns, Batch& batch,
                      bool padded = false);

 private:
  Limits limits_;
  simdjson::dom::parser parser_;
};

}  // namespace spanvault::span
