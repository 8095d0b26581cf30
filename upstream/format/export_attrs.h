// upstream/format/ — the attribute writer shared by the dialects' files
// (export_attributes.cc: otel, langfuse, braintrust, brokle;
// export_openinference.cc). Internal to the OTLP export, like export_span.h.
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "upstream/format/export_span.h"

namespace spanvault::otlp::export_detail {

using simdjson::dom::element_type;

inline std::optional<double> Number(element v) {
  if (v.is_double()) return double(v);
  if (v.is_int64()) return static_cast<double>(int64_t(v));
  if (v.is_uint64()) return static_cast<double>(uint64_t(v));
  return std::nullopt;
}

// Writes attributes once each (the first writer of a key wins), composes
// keys that must live until the span is written, and turns JSON values into
// attribute values.
class Attrs {
 public:
  explicit Attrs(AttrSink& sink) : sink_(sink) {
    seen_.clear();
    used_ = 0;
  }

  void Str(std::string_view k, std::string_view v) {
    if (Claim(k)) sink_.Str(k, v);
  }
  void Int(std::string_view k, std::optional<uint64_t> v) {
    if (v && Claim(k)) sink_.Int(k, static_cast<int64_t>(*v));
  }
  void Dbl(std::string_view k, std::optional<double> v) {
    if (v && Claim(k)) sink_.Dbl(k, *v);
  }
  // A scalar as its type; an array of scalars of one type as an array value;
  // anything else as JSON text. Nulls are left out.
  void Value(std::string_view k, element v) {
    switch (v.type()) {
      case element_type::STRING:
        return Str(k, std::string_view(v));
      case element_type::INT64:
        if (Claim(k)) sink_.Int(k, int64_t(v));
        return;
      case element_type::UINT64:
      case element_type::DOUBLE:
        return Dbl(k, Number(v));
      case element_type::BOOL:
        if (Claim(k)) sink_.Bool(k, bool(v));
        return;
      case element_type::NULL_VALUE:
        return;
      case element_type::ARRAY:
        if (ScalarArray(v)) {
          if (Claim(k)) sink_.Array(k, simdjson::dom::array(v));
          return;
        }
        [[fallthrough]];
      case element_type::OBJECT:
        return Json(k, v);
    }
  }
  void Json(std::string_view k, element v) {
    json_.clear();
    AppendElement(v, json_);
    Str(k, json_);
  }
  // A JSON string as its text, anything else as JSON text.
  void Text(std::string_view k, element v) {
    if (v.is_string()) return Str(k, std::string_view(v));
    if (!v.is_null()) Json(k, v);
  }
  // Input/output for readers of input.value: text/plain or application/json.
  void Payload(std::string_view k, std::string_view mime_key, element v) {
    if (v.is_null()) return;
    Text(k, v);
    Str(mime_key, v.is_string() ? "text/plain" : "application/json");
  }
  void Array(std::string_view k, element v) {
    if (v.is_array() && Claim(k)) sink_.Array(k, simdjson::dom::array(v));
  }

  // prefix + suffix, alive until the span is written.
  std::string_view Key(std::string_view prefix, std::string_view suffix) {
    if (used_ == arena_.size()) arena_.emplace_back();
    std::string& s = arena_[used_++];
    s.assign(prefix);
    s.append(suffix);
    return s;
  }
  // A buffer for building JSON values passed straight to Str().
  std::string& Build() {
    build_.clear();
    return build_;
  }

 private:
  bool Claim(std::string_view k) {
    for (std::string_view s : seen_) {
      if (s == k) return false;
    }
    seen_.push_back(k);
    return true;
  }
  static bool ScalarArray(element v) {
    int kind = -1;
    for (element e : simdjson::dom::array(v)) {
      int k = e.is_string() ? 0 : e.is_bool() ? 1 : e.is_int64() ? 2 : e.is_number() ? 3 : 4;
      if (k == 4 || (kind >= 0 && k != kind)) return false;
      kind = k;
    }
    return true;
  }

  AttrSink& sink_;
  // Reused across spans (one span is mapped at a time per thread).
  inline static thread_local std::vector<std::string_view> seen_;
  inline static thread_local std::deque<std::string> arena_;
  inline static thread_local size_t used_ = 0;
  inline static thread_local std::string json_, build_;
};

inline bool IsMessage(element v) { return v.is_object() && v["role"].error() == simdjson::SUCCESS; }

inline bool IsMessages(element v) {
  if (!v.is_array()) return false;
  bool any = false;
  for (element e : simdjson::dom::array(v)) {
    if (!IsMessage(e)) return false;
    any = true;
  }
  return any;
}

// expected, scores and metrics for dialects without a place of their own.
void Extras(const Canon& c, Attrs& a);
// The OpenInference attributes (export_openinference.cc).
void OpenInference(const Canon& c, const TypeInfo& t, Attrs& a);

}  // namespace spanvault::otlp::export_detail
