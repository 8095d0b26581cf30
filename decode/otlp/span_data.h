// decode/otlp/ — the decoded form of one OTLP span, shared by the protobuf and JSON
// readers and the mapping to canonical spans. Strings are views into the
// request body (protobuf) or into the JSON parser's string buffer; nothing is
// copied until the canonical span is written.
//
// AnyValue trees (arrays, kvlists) live in a per-request pool: a value's
// children are pool.kvs[first, first + count), array elements with empty keys.
//
// Free of <expected> (common/error.h): errors are strings here, so that the
// cores compile with any C++20 compiler (Debian's clang 14 cannot compile
// libstdc++ 12's <expected>; the fuzz build uses clang 19).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace spanvault::otlp {

enum class ValueKind : uint8_t { kEmpty, kString, kBool, kInt, kDouble, kBytes, kBase64, kArray, kKvlist };

struct AnyValue {
  ValueKind kind = ValueKind::kEmpty;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string_view s;  // kString; kBytes (raw); kBase64 (already base64 text, from OTLP/JSON)
  uint32_t first = 0;  // kArray, kKvlist: children in the pool
  uint32_t count = 0;
};

struct KeyValue {
  std::string_view key;
  AnyValue value;
};

struct AttrRange {
  uint32_t begin = 0;
  uint32_t end = 0;
};

struct Pool {
  std::vector<KeyValue> kvs;
};

// A trace or span id as bytes. `valid` is false when the source text was not
// hex (JSON); `len` may be anything up to kMax (longer ids are marked invalid).
struct Id {
  static constexpr size_t kMax = 32;
  uint8_t len = 0;
  bool valid = true;
  uint8_t bytes[kMax] = {};

  bool AllZero() const {
    for (size_t i = 0; i < len; ++i) {
      if (bytes[i] != 0) return false;
    }
    return true;
  }
  void SetBytes(std::string_view raw) {
    if (raw.size() > kMax) {
      valid = false;
      len = 0;
      return;
    }
    len = static_cast<uint8_t>(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) bytes[i] = static_cast<uint8_t>(raw[i]);
  }
};

struct EventData {
  uint64_t time_unix_nano = 0;
  std::string_view name;
  AttrRange attrs;
};

struct LinkData {
  Id trace_id;
  Id span_id;
  std::string_view trace_state;
  AttrRange attrs;
};

struct SpanData {
  Id trace_id, span_id, parent_span_id;
  std::string_view trace_state;
  std::string_view name;
  uint32_t kind = 0;  // SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer
  uint64_t start_time_unix_nano = 0;
  uint64_t end_time_unix_nano = 0;
  AttrRange attrs;
  uint32_t dropped_attributes_count = 0;
  uint32_t dropped_events_count = 0;
  uint32_t dropped_links_count = 0;
  uint32_t limit_dropped_attributes = 0;  // by MapLimits::max_attributes
  std::vector<EventData> events;
  std::vector<LinkData> links;
  uint32_t status_code = 0;  // 0 unset, 1 ok, 2 error
  std::string_view status_message;
  size_t encoded_size = 0;  // bytes of the span in the request (a size hint), 0 when unknown
  // Set by a reader when the span cannot be mapped (e.g. a value nested too
  // deep); the span is counted as rejected with this reason.
  std::string reject_reason;

  void Reset() {
    auto e = std::move(events);
    auto l = std::move(links);
    *this = SpanData{};
    e.clear();
    l.clear();
    events = std::move(e);  // keep capacity across spans
    links = std::move(l);
  }
};

struct ResourceData {
  AttrRange attrs;
};

struct ScopeData {
  std::string_view name;
  std::string_view version;
  AttrRange attrs;
};

// Bounds on what one request may make the mapping build. A request's bytes
// are hostile: resource and scope attributes are copied into every span of
// their ResourceSpans, so without these a small body maps to a huge output.
struct MapLimits {
  // Default: 64. Nesting of AnyValue (kvlist/array) deeper than this is refused.
  uint32_t max_depth = 64;
  // Default: 128 (the OpenTelemetry SDKs' attribute count limit). Attributes
  // kept per span, resource, scope, event and link; the rest are dropped and
  // counted (a span's own in otel.dropped_attributes_count).
  uint32_t max_attributes = 128;
  // Default: 0 (no limit, as in the OpenTelemetry SDKs). Longer string and
  // bytes attribute values are cut at a UTF-8 boundary.
  size_t max_attribute_value_bytes = 0;
  // Default: 1 MiB. A span whose canonical JSON would be larger is refused
  // as it is written (writing stops there), not after.
  size_t max_span_bytes = 1u << 20;
  // Default: 0 (no limit). Canonical JSON written for the whole request,
  // refused spans included; the spans past it are refused. The HTTP
  // listener passes a small multiple of the body.
  size_t max_output_bytes = 0;
};

// What a request decodes to before it becomes the public OtlpSpans.
struct MappedSpans {
  std::vector<std::string> spans;
  uint32_t rejected = 0;
  std::string error_message;
  size_t written_bytes = 0;         // canonical JSON written, refused spans included
  uint64_t dropped_attributes = 0;  // by max_attributes
  uint64_t truncated_values = 0;    // by max_attribute_value_bytes
};

// The cores of DecodeOtlpProto / DecodeOtlpJson without std::expected.
// Return an empty string on success, else why the body is malformed (then
// `out` holds nothing useful).
std::string DecodeProtoRequest(std::string_view body, const MapLimits& limits, MappedSpans& out);
std::string DecodeJsonRequest(std::string_view body, const MapLimits& limits, MappedSpans& out);
inline std::string DecodeProtoRequest(std::string_view body, uint32_t max_depth, MappedSpans& out) {
  MapLimits l;
  l.max_depth = max_depth;
  return DecodeProtoRequest(body, l, out);
}
inline std::string DecodeJsonRequest(std::string_view body, uint32_t max_depth, MappedSpans& out) {
  MapLimits l;
  l.max_depth = max_depth;
  return DecodeJsonRequest(body, l, out);
}

}  // namespace spanvault::otlp
