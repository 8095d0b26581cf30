// span/ (private) — what the three parts of decoding share: the fields of one
// span object as read (views into the parsed document, no copies), the
// reader that validates them (span_reader.cc) and the encoder that writes the
// canonical JSON (span_encoder.cc). Decoder::Decode (decoder.cc) runs the
// reader, then the encoder, so a refused span never leaves half a record in
// the batch.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "span/decoder.h"
#include "span/json_writer.h"

namespace spanvault::span::detail {

using simdjson::dom::element;
using simdjson::dom::element_type;

inline constexpr size_t kExcerptBytes = 4096;
// The first kExcerptBytes of refused bytes, kept with their Rejection.
inline std::string Excerpt(std::string_view bytes) { return std::string(bytes.substr(0, kExcerptBytes)); }
inline constexpr size_t kMaxNameBytes = 512;
inline constexpr size_t kMaxIdBytes = 128;
inline constexpr size_t kMaxShortStringBytes = 1024;
// Unix seconds accepted for numeric times: 1970 .. 2255 (nanoseconds must
// fit in int64).
inline constexpr double kMaxUnixSeconds = 9e9;

inline constexpr std::string_view kTypeNames[] = {"span",  "generation", "embedding", "retrieval", "tool",
                                                  "agent", "chain",      "guardrail", "evaluator", "event"};

inline std::string_view TypeOf(element e) {
  switch (e.type()) {
    case element_type::OBJECT:
      return "object";
    case element_type::ARRAY:
      return "array";
    case element_type::STRING:
      return "string";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "number";
    case element_type::BOOL:
      return "boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "value";
}

inline bool IsNull(element e) { return e.type() == element_type::NULL_VALUE; }
inline bool IsNumber(element e) {
  auto t = e.type();
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}
inline double AsDouble(element e) {
  switch (e.type()) {
    case element_type::INT64:
      return static_cast<double>(e.get_int64().value_unsafe());
    case element_type::UINT64:
      return static_cast<double>(e.get_uint64().value_unsafe());
    default:
      return e.get_double().value_unsafe();
  }
}
inline std::string_view AsString(element e) { return e.get_string().value_unsafe(); }

// A short rendering of a value for error messages.
inline std::string Show(element e) {
  std::string s;
  AppendJsonElement(e, s);
  if (s.size() > 40) {
    s.resize(37);
    s.append("...");
  }
  return s;
}

inline std::string NumStr(uint64_t v) { return std::to_string(v); }

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// A usage count slot remembers which key set it, to name conflicts precisely.
struct Count {
  std::optional<uint64_t> value;
  std::string_view key;
};

struct Fields {
  std::optional<std::string_view> name, trace_id, span_id, parent_span_id;
  std::optional<element> span_parents;
  SpanType type = SpanType::kSpan;
  std::optional<int64_t> start_ns, end_ns;
  std::optional<double> duration_ms;
  std::optional<element> input, output, expected, error, model_parameters, cost, tags, scores, metrics;
  bool status_error = false;
  std::optional<std::string_view> model, provider, session_id, user_id, environment, release, service;
  bool has_usage = false;
  Count input_tokens, output_tokens, cache_read, cache_write, reasoning, total;
  bool anthropic_cache_keys = false;
  std::vector<std::pair<std::string_view, element>> usage_extra;
  std::optional<element> attributes, metadata;
  std::vector<std::pair<std::string_view, element>> unknown;

  void Reset() {
    usage_extra.clear();
    unknown.clear();
    auto keep1 = std::move(usage_extra);
    auto keep2 = std::move(unknown);
    *this = Fields{};
    usage_extra = std::move(keep1);  // keep capacity across spans
    unknown = std::move(keep2);
  }
};

// Reads one span object into `f`. Returns an empty string when it is a valid
// span, else the reason it is not.
std::string ReadSpan(simdjson::dom::object obj, Fields& f);

// Writes the canonical span of the valid `f` to `out`; `cost_at` is set to
// where the pricing stage would insert a cost (when the client sent none).
// `attrs` is scratch space.
void Encode(const Fields& f, const SpanView& view, size_t& cost_at, const Source& source, int64_t received_ns,
            std::vector<std::pair<std::string_view, element>>& attrs, std::string& out);

}  // namespace spanvault::span::detail
