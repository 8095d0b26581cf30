// decode/otlp/ — appends JSON text for the canonical spans the mapping produces.
// Every string is checked for UTF-8 (protobuf strings are not validated by
// anyone before us): invalid sequences become U+FFFD, so the output is always
// JSON that span::Decoder accepts. Nesting is bounded by a depth budget:
// a value that would nest deeper is written as a marker string.
#pragma once

#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "decode/otlp/span_data.h"

namespace spanvault::otlp {

// Deepest nesting the mapping writes, counted from the span object (1).
// span::Decoder's default limit is 64.
inline constexpr int kMaxOutputDepth = 60;

// `s` itself when it is valid UTF-8, else a copy in `tmp` with every invalid
// sequence replaced by U+FFFD.
std::string_view ValidUtf8(std::string_view s, std::string& tmp);
// Longest prefix of valid UTF-8 `s` that is at most `max` bytes and does not
// split a character.
std::string_view Utf8Prefix(std::string_view s, size_t max);

void AppendString(std::string_view s, std::string& out);  // quoted, escaped, UTF-8 repaired
void AppendInt(int64_t v, std::string& out);              // a number within ±2^53, else a string
void AppendUint(uint64_t v, std::string& out);
void AppendDouble(double v, std::string& out);              // NaN and infinities as strings ("NaN", "Infinity")
void AppendBase64(std::string_view raw, std::string& out);  // quoted
void AppendHex(const Id& id, std::string& out);             // quoted, lowercase

// An AnyValue as JSON: arrays as arrays, kvlists as objects, bytes as base64.
// `depth` is the nesting level the value is written at. Stops, returning
// false, before a string or an element that would make `out` larger than
// `limit` (then `out` ends in a cut value: the caller discards it).
bool AppendAnyValue(const Pool& pool, const AnyValue& v, int depth, std::string& out, size_t limit = SIZE_MAX);
// A parsed JSON element (re-serialised compactly, strings re-escaped).
void AppendElement(simdjson::dom::element e, int depth, std::string& out);

// Parses `text` as JSON with a thread-local parser (valid until the next call
// on this thread). False when it is not JSON or nests deeper than `max_depth`.
bool ParseEmbeddedJson(std::string_view text, uint32_t max_depth, simdjson::dom::element& out);

// Writes `"key":` with a leading comma except for the first key of an object.
struct ObjectOut {
  std::string& out;
  bool first = true;
  void Key(std::string_view k) {
    if (!first) out.push_back(',');
    first = false;
    AppendString(k, out);
    out.push_back(':');
  }
};

}  // namespace spanvault::otlp
