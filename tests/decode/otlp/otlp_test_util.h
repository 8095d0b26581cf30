// Builds OTLP ExportTraceServiceRequests for the tests, in protobuf (with
// otlp::WireWriter) and in OTLP/JSON (camelCase or snake_case, 64-bit ints as
// strings or numbers), and checks that every span the ingest produces is
// accepted by span::Decoder.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "decode/otlp/otlp_ingest.h"
#include "protobuf/wire.h"
#include "span/decoder.h"

namespace spanvault::otlp::testing {

using nlohmann::json;

struct V {
  enum Kind { kString, kBool, kInt, kDouble, kBytes, kArray, kKvlist } kind = kString;
  std::string s;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::vector<V> arr;
  std::vector<std::pair<std::string, V>> kv;

  V() = default;
  V(const char* x) : s(x) {}  // NOLINT: string literals are the common case
  V(std::string x) : s(std::move(x)) {}
  static V Int(int64_t x) {
    V v;
    v.kind = kInt;
    v.i = x;
    return v;
  }
  static V Bool(bool x) {
    V v;
    v.kind = kBool;
    v.b = x;
    return v;
  }
  static V Double(double x) {
    V v;
    v.kind = kDouble;
    v.d = x;
    return v;
  }
  static V Bytes(std::string x) {
    V v;
    v.kind = kBytes;
    v.s = std::move(x);
    return v;
  }
  static V Array(std::vector<V> x) {
    V v;
    v.kind = kArray;
    v.arr = std::move(x);
    return v;
  }
  static V Kvlist(std::vector<std::pair<std::string, V>> x) {
    V v;
    v.kind = kKvlist;
    v.kv = std::move(x);
    return v;
  }
};
using Attrs = std::vector<std::pair<std::string, V>>;

struct TestEvent {
  std::string name;
  uint64_t time = 0;
  Attrs attrs;
};

struct TestLink {
  std::string trace_id = "0af7651916cd43dd8448eb211c80319c";
  std::string span_id = "b7ad6b7169203331";
  Attrs attrs;
};

struct TestSpan {
  std::string trace_id = "5b8efff798038103d269b633813fc60c";  // hex; bytes when raw_ids
  std::string span_id = "eee19b7ec3c1b174";
  std::string parent_span_id;
  std::string name = "op";
  uint32_t kind = 0;
  uint64_t start = 1'700'000'000'000'000'000ULL;
  uint64_t end = 1'700'000'001'500'000'000ULL;
  Attrs attrs;
  std::vector<TestEvent> events;
  std::vector<TestLink> links;
  uint32_t status_code = 0;
  std::string status_message;
  uint32_t dropped_attributes = 0;
};

struct TestRequest {
  Attrs resource;
  std::string scope_name = "test-scope";
  std::string scope_version = "1.0";
  std::vector<TestSpan> spans;
};

std::string HexToBytes(const std::string& hex);

std::string ToProto(const TestRequest& r);
struct JsonStyle {
  bool snake = false;            // snake_case keys
  bool ints_as_numbers = false;  // 64-bit ints as JSON numbers instead of strings
};
json ToJson(const TestRequest& r, JsonStyle style = {});

// Decodes, asserts success, parses each produced span and asserts that
// span::Decoder accepts it.
std::vector<json> MapProto(const TestRequest& r, OtlpSpans* raw = nullptr);
std::vector<json> MapJson(const std::string& body, OtlpSpans* raw = nullptr);
// One span with these attributes (and optional tweaks) → its JSON.
json MapOne(const TestSpan& s, const Attrs& resource = {});

// The canonical span span::Decoder makes of `span_json` (which must be accepted).
json Canonical(const std::string& span_json);
void ExpectAccepted(const std::string& span_json);

}  // namespace spanvault::otlp::testing
