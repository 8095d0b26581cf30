#include "otlp_test_util.h"

#include <cmath>

namespace spanvault::otlp::testing {
namespace {

void PutValue(WireWriter& w, uint32_t field, const V& v);

std::string KeyValueBytes(const std::string& key, const V& v) {
  std::string out;
  WireWriter w(out);
  w.Bytes(1, key);
  PutValue(w, 2, v);
  return out;
}

void PutValue(WireWriter& w, uint32_t field, const V& v) {
  std::string body;
  WireWriter b(body);
  switch (v.kind) {
    case V::kString:
      b.Bytes(1, v.s);
      break;
    case V::kBool:
      b.Varint(2, v.b ? 1 : 0);
      break;
    case V::kInt:
      b.Varint(3, static_cast<uint64_t>(v.i));
      break;
    case V::kDouble:
      b.Double(4, v.d);
      break;
    case V::kBytes:
      b.Bytes(7, v.s);
      break;
    case V::kArray: {
      std::string arr;
      WireWriter a(arr);
      for (const V& x : v.arr) PutValue(a, 1, x);
      b.Bytes(5, arr);
      break;
    }
    case V::kKvlist: {
      std::string kvl;
      WireWriter k(kvl);
      for (const auto& [key, x] : v.kv) k.Bytes(1, KeyValueBytes(key, x));
      b.Bytes(6, kvl);
      break;
    }
  }
  w.Bytes(field, body);
}

void PutAttrs(WireWriter& w, uint32_t field, const Attrs& attrs) {
  for (const auto& [k, v] : attrs) w.Bytes(field, KeyValueBytes(k, v));
}

std::string SpanBytes(const TestSpan& s) {
  std::string out;
  WireWriter w(out);
  w.Bytes(1, HexToBytes(s.trace_id));
  w.Bytes(2, HexToBytes(s.span_id));
  if (!s.parent_span_id.empty()) w.Bytes(4, HexToBytes(s.parent_span_id));
  w.Bytes(5, s.name);
  if (s.kind) w.Varint(6, s.kind);
  w.Fixed64(7, s.start);
  w.Fixed64(8, s.end);
  PutAttrs(w, 9, s.attrs);
  if (s.dropped_attributes) w.Varint(10, s.dropped_attributes);
  for (const auto& e : s.events) {
    std::string ev;
    WireWriter ew(ev);
    ew.Fixed64(1, e.time);
    ew.Bytes(2, e.name);
    PutAttrs(ew, 3, e.attrs);
    w.Bytes(11, ev);
  }
  for (const auto& l : s.links) {
    std::string lb;
    WireWriter lw(lb);
    lw.Bytes(1, HexToBytes(l.trace_id));
    lw.Bytes(2, HexToBytes(l.span_id));
    PutAttrs(lw, 4, l.attrs);
    w.Bytes(13, lb);
  }
  if (s.status_code || !s.status_message.empty()) {
    std::string st;
    WireWriter sw(st);
    if (!s.status_message.empty()) sw.Bytes(2, s.status_message);
    if (s.status_code) sw.Varint(3, s.status_code);
    w.Bytes(15, st);
  }
  return out;
}

json JsonValue(const V& v, const JsonStyle& st) {
  auto k = [&](const char* camel, const char* snake) { return st.snake ? snake : camel; };
  switch (v.kind) {
    case V::kString:
      return {{k("stringValue", "string_value"), v.s}};
    case V::kBool:
      return {{k("boolValue", "bool_value"), v.b}};
    case V::kInt:
      return st.ints_as_numbers ? json{{k("intValue", "int_value"), v.i}}
                                : json{{k("intValue", "int_value"), std::to_string(v.i)}};
    case V::kDouble:  // proto3 JSON spells the special values as strings
      if (std::isnan(v.d)) return {{k("doubleValue", "double_value"), "NaN"}};
      if (std::isinf(v.d)) return {{k("doubleValue", "double_value"), v.d > 0 ? "Infinity" : "-Infinity"}};
      return {{k("doubleValue", "double_value"), v.d}};
    case V::kBytes: {
      static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
      std::string out;
      size_t i = 0;
      auto byte = [&](size_t j) { return static_cast<uint32_t>(static_cast<uint8_t>(v.s[j])); };
      for (; i + 3 <= v.s.size(); i += 3) {
        uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        out += {kB64[n >> 18], kB64[(n >> 12) & 63], kB64[(n >> 6) & 63], kB64[n & 63]};
      }
      if (v.s.size() - i == 1) {
        uint32_t n = byte(i) << 16;
        out += {kB64[n >> 18], kB64[(n >> 12) & 63], '=', '='};
      } else if (v.s.size() - i == 2) {
        uint32_t n = byte(i) << 16 | byte(i + 1) << 8;
        out += {kB64[n >> 18], kB64[(n >> 12) & 63], kB64[(n >> 6) & 63], '='};
      }
      return {{k("bytesValue", "bytes_value"), out}};
    }
    case V::kArray: {
      json values = json::array();
      for (const V& x : v.arr) values.push_back(JsonValue(x, st));
      return {{k("arrayValue", "array_value"), {{"values", values}}}};
    }
    case V::kKvlist: {
      json values = json::array();
      for (const auto& [key, x] : v.kv) values.push_back({{"key", key}, {"value", JsonValue(x, st)}});
      return {{k("kvlistValue", "kvlist_value"), {{"values", values}}}};
    }
  }
  return nullptr;
}

json JsonAttrs(const Attrs& attrs, const JsonStyle& st) {
  json a = json::array();
  for (const auto& [k, v] : attrs) a.push_back({{"key", k}, {"value", JsonValue(v, st)}});
  return a;
}

json U64(uint64_t v, const JsonStyle& st) { return st.ints_as_numbers ? json(v) : json(std::to_string(v)); }

}  // namespace

std::string HexToBytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

std::string ToProto(const TestRequest& r) {
  std::string scope_spans;
  WireWriter ss(scope_spans);
  std::string scope;
  WireWriter sc(scope);
  sc.Bytes(1, r.scope_name);
  sc.Bytes(2, r.scope_version);
  ss.Bytes(1, scope);
  for (const auto& s : r.spans) ss.Bytes(2, SpanBytes(s));
  std::string resource;
  WireWriter rw(resource);
  PutAttrs(rw, 1, r.resource);
  std::string rs;
  WireWriter rsw(rs);
  rsw.Bytes(1, resource);
  rsw.Bytes(2, scope_spans);
  std::string req;
  WireWriter w(req);
  w.Bytes(1, rs);
  return req;
}

json ToJson(const TestRequest& r, JsonStyle st) {
  auto k = [&](const char* camel, const char* snake) { return std::string(st.snake ? snake : camel); };
  json spans = json::array();
  for (const auto& s : r.spans) {
    json j = {{k("traceId", "trace_id"), s.trace_id},
              {k("spanId", "span_id"), s.span_id},
              {"name", s.name},
              {k("startTimeUnixNano", "start_time_unix_nano"), U64(s.start, st)},
              {k("endTimeUnixNano", "end_time_unix_nano"), U64(s.end, st)},
              {"attributes", JsonAttrs(s.attrs, st)}};
    if (!s.parent_span_id.empty()) j[k("parentSpanId", "parent_span_id")] = s.parent_span_id;
    if (s.kind) j["kind"] = s.kind;
    if (s.dropped_attributes) j[k("droppedAttributesCount", "dropped_attributes_count")] = s.dropped_attributes;
    for (const auto& e : s.events) {
      j["events"].push_back({{"name", e.name},
                             {k("timeUnixNano", "time_unix_nano"), U64(e.time, st)},
                             {"attributes", JsonAttrs(e.attrs, st)}});
    }
    for (const auto& l : s.links) {
      j["links"].push_back({{k("traceId", "trace_id"), l.trace_id},
                            {k("spanId", "span_id"), l.span_id},
                            {"attributes", JsonAttrs(l.attrs, st)}});
    }
    if (s.status_code || !s.status_message.empty()) {
      j["status"] = json::object();
      if (s.status_code) j["status"]["code"] = s.status_code;
      if (!s.status_message.empty()) j["status"]["message"] = s.status_message;
    }
    spans.push_back(j);
  }
  json scope = {{"name", r.scope_name}, {"version", r.scope_version}};
  return {{k("resourceSpans", "resource_spans"),
           {{{"resource", {{"attributes", JsonAttrs(r.resource, st)}}},
             {k("scopeSpans", "scope_spans"), {{{"scope", scope}, {"spans", spans}}}}}}}};
}

void ExpectAccepted(const std::string& span_json) {
  span::Decoder decoder;
  span::Batch batch;
  auto r = decoder.Decode(span_json, span::Source{}, 1'700'000'000'000'000'000, batch);
  ASSERT_EQ(r.accepted, 1u) << span_json << "\n"
                            << (batch.quarantine.empty() ? "" : batch.quarantine[0].rejection.reason);
}

json Canonical(const std::string& span_json) {
  span::Decoder decoder;
  span::Batch batch;
  auto r = decoder.Decode(span_json, span::Source{}, 1'700'000'000'000'000'000, batch);
  EXPECT_EQ(r.accepted, 1u) << span_json;
  if (r.accepted != 1) return nullptr;
  return json::parse(batch.SpanAt(0));
}

static std::vector<json> Check(const Result<OtlpSpans>& r, OtlpSpans* raw) {
  std::vector<json> out;
  EXPECT_TRUE(r.has_value()) << (r.has_value() ? "" : r.error().message);
  if (!r) return out;
  for (const auto& s : r->spans) {
    ExpectAccepted(s);
    json j = json::parse(s, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << s;
    out.push_back(j);
  }
  if (raw) *raw = *r;
  return out;
}

std::vector<json> MapProto(const TestRequest& r, OtlpSpans* raw) { return Check(DecodeOtlpProto(ToProto(r)), raw); }
std::vector<json> MapJson(const std::string& body, OtlpSpans* raw) { return Check(DecodeOtlpJson(body), raw); }

json MapOne(const TestSpan& s, const Attrs& resource) {
  TestRequest r;
  r.resource = resource;
  r.spans = {s};
  auto spans = MapProto(r);
  EXPECT_EQ(spans.size(), 1u);
  // The JSON encoding must map to exactly the same span.
  auto from_json = MapJson(ToJson(r).dump());
  EXPECT_EQ(from_json.size(), 1u);
  if (spans.size() != 1 || from_json.size() != 1) return nullptr;
  EXPECT_EQ(spans[0], from_json[0]);
  return spans[0];
}

}  // namespace spanvault::otlp::testing
