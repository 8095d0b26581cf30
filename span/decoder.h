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

enum class SpanType : uint8_t {
  kSpan,
  kGeneration,
  kEmbedding,
  kRetrieval,
  kTool,
  kAgent,
  kChain,
  kGuardrail,
  kEvaluator,
  kEvent
};
std::string_view SpanTypeName(SpanType t);
// Case-insensitive; nullopt for an unknown name.
std::optional<SpanType> ParseSpanType(std::string_view s);

// Token usage in the canonical convention: input includes cache reads and
// writes, output includes reasoning.
struct Usage {
  std::optional<uint64_t> input_tokens;
  std::optional<uint64_t> output_tokens;
  std::optional<uint64_t> cache_read_tokens;
  std::optional<uint64_t> cache_write_tokens;
  std::optional<uint64_t> reasoning_tokens;
  std::optional<uint64_t> total_tokens;
};

// The fields later stages (cost, routing) read, valid until the next Decode.
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

// The cost engine's seam (next issue): called once per valid span before it
// is encoded. It may append a JSON object to `cost_json`, which becomes the
// span's `cost` (unless the client supplied one).
class Enricher {
 public:
  virtual ~Enricher() = default;
  virtual void Enrich(const SpanView& span, std::string& cost_json) = 0;
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

  void SetEnricher(Enricher* enricher) { enricher_ = enricher; }
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
  Enricher* enricher_ = nullptr;
};

}  // namespace spanvault::span
