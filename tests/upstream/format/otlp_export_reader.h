// A test-only reader of OTLP trace export requests (protobuf and OTLP/JSON),
// independent of the ingest side's decoder: it keeps attribute names and
// typed values exactly as sent, so tests can check what a backend reads.
// The JSON reader is strict about the OTLP/JSON rules the export must follow
// (int64 and times as strings, kind and status code as numbers, hex ids).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/upstream/fake_backend.h"

namespace spanvault::testing {

struct OtlpValue {
  enum class Kind { kString, kInt, kDouble, kBool, kArray, kOther } kind = Kind::kOther;
  std::string s;
  int64_t i = 0;
  double d = 0;
  bool b = false;
  std::vector<OtlpValue> array;
};

struct OtlpAttrs {
  std::map<std::string, OtlpValue> values;
  int duplicates = 0;  // keys seen more than once (OTLP forbids them)
  bool has(const std::string& k) const { return values.count(k) > 0; }
  const OtlpValue* get(const std::string& k) const {
    auto it = values.find(k);
    return it == values.end() ? nullptr : &it->second;
  }
};

struct OtlpEvent {
  std::string name;
  uint64_t time_ns = 0;
  OtlpAttrs attrs;
};

struct OtlpLink {
  std::string trace_id, span_id;
};

struct OtlpSpan {
  std::string trace_id, span_id, parent_span_id;  // lowercase hex; "" when absent
  std::string name;
  int kind = 0;
  uint64_t start_ns = 0, end_ns = 0;
  OtlpAttrs attrs;
  std::vector<OtlpEvent> events;
  std::vector<OtlpLink> links;
  bool has_status = false;
  int status_code = 0;
  std::string status_message;
  // Of the enclosing ResourceSpans / ScopeSpans.
  size_t resource_index = 0;
  OtlpAttrs resource;
  std::string scope_name, scope_version;
};

// "" on success, else what is wrong; spans are appended in request order.
std::string ReadOtlpProto(std::string_view body, std::vector<OtlpSpan>& out);
std::string ReadOtlpJson(std::string_view body, std::vector<OtlpSpan>& out);

// For FakeBackendOptions::extract_span_ids: the span ids of an OTLP request,
// by its Content-Type (none when it does not decode).
std::vector<std::string> OtlpSpanIds(const FakeRequest& req);

}  // namespace spanvault::testing
