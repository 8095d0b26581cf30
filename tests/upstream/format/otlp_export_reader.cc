#include "tests/upstream/format/otlp_export_reader.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "protobuf/wire.h"

namespace spanvault::testing {
namespace {

using otlp::WireField;
using otlp::WireReader;
using otlp::WireType;
using json = nlohmann::json;

std::string Hex(std::string_view b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (char c : b) {
    s.push_back(kHex[static_cast<uint8_t>(c) >> 4]);
    s.push_back(kHex[static_cast<uint8_t>(c) & 15]);
  }
  return s;
}

// ------------------------------------------------------------ protobuf

std::string ProtoValue(std::string_view bytes, OtlpValue& v) {
  WireReader r(bytes);
  WireField f;
  while (r.Next(f)) {
    switch (f.number) {
      case 1:
        v.kind = OtlpValue::Kind::kString;
        v.s = std::string(f.bytes);
        break;
      case 2:
        v.kind = OtlpValue::Kind::kBool;
        v.b = f.varint != 0;
        break;
      case 3:
        v.kind = OtlpValue::Kind::kInt;
        v.i = f.AsInt64();
        break;
      case 4:
        if (f.type != WireType::kFixed64) return "doubleValue is not fixed64";
        v.kind = OtlpValue::Kind::kDouble;
        v.d = f.AsDouble();
        break;
      case 5: {
        v.kind = OtlpValue::Kind::kArray;
        WireReader ar(f.bytes);
        WireField g;
        while (ar.Next(g)) {
          if (g.number != 1) continue;
          OtlpValue& e = v.array.emplace_back();
          if (auto err = ProtoValue(g.bytes, e); !err.empty()) return err;
        }
        if (!ar.ok()) return ar.error();
        break;
      }
      default:
        v.kind = OtlpValue::Kind::kOther;
    }
  }
  return r.ok() ? "" : r.error();
}

std::string ProtoKeyValue(std::string_view bytes, OtlpAttrs& attrs) {
  WireReader r(bytes);
  WireField f;
  std::string key;
  OtlpValue value;
  while (r.Next(f)) {
    if (f.number == 1) key = std::string(f.bytes);
    if (f.number == 2) {
      if (auto err = ProtoValue(f.bytes, value); !err.empty()) return err;
    }
  }
  if (!r.ok()) return r.error();
  if (attrs.values.count(key)) ++attrs.duplicates;
  attrs.values[key] = std::move(value);
  return "";
}

std::string ProtoSpan(std::string_view bytes, OtlpSpan& s) {
  WireReader r(bytes);
  WireField f;
  while (r.Next(f)) {
    std::string err;
    switch (f.number) {
      case 1:
        s.trace_id = Hex(f.bytes);
        break;
      case 2:
        s.span_id = Hex(f.bytes);
        break;
      case 4:
        s.parent_span_id = Hex(f.bytes);
        break;
      case 5:
        s.name = std::string(f.bytes);
        break;
      case 6:
        s.kind = static_cast<int>(f.varint);
        break;
      case 7:
        if (f.type != WireType::kFixed64) return "start time is not fixed64";
        s.start_ns = f.varint;
        break;
      case 8:
        if (f.type != WireType::kFixed64) return "end time is not fixed64";
        s.end_ns = f.varint;
        break;
      case 9:
        err = ProtoKeyValue(f.bytes, s.attrs);
        break;
      case 11: {
        OtlpEvent& e = s.events.emplace_back();
        WireReader er(f.bytes);
        WireField g;
        while (er.Next(g)) {
          if (g.number == 1) e.time_ns = g.varint;
          if (g.number == 2) e.name = std::string(g.bytes);
          if (g.number == 3) err = ProtoKeyValue(g.bytes, e.attrs);
        }
        if (!er.ok()) return er.error();
        break;
      }
      case 13: {
        OtlpLink& l = s.links.emplace_back();
        WireReader lr(f.bytes);
        WireField g;
        while (lr.Next(g)) {
          if (g.number == 1) l.trace_id = Hex(g.bytes);
          if (g.number == 2) l.span_id = Hex(g.bytes);
        }
        break;
      }
      case 15: {
        s.has_status = true;
        WireReader sr(f.bytes);
        WireField g;
        while (sr.Next(g)) {
          if (g.number == 2) s.status_message = std::string(g.bytes);
          if (g.number == 3) s.status_code = static_cast<int>(g.varint);
        }
        break;
      }
      default:
        break;
    }
    if (!err.empty()) return err;
  }
  return r.ok() ? "" : r.error();
}

// ------------------------------------------------------------ JSON

std::string JsonValue(const json& j, OtlpValue& v) {
  if (!j.is_object()) return "AnyValue is not an object";
  if (auto it = j.find("stringValue"); it != j.end()) {
    if (!it->is_string()) return "stringValue is not a string";
    v.kind = OtlpValue::Kind::kString;
    v.s = it->get<std::string>();
  } else if (auto it = j.find("intValue"); it != j.end()) {
    if (!it->is_string()) return "intValue is not a string (OTLP/JSON writes int64 as strings)";
    v.kind = OtlpValue::Kind::kInt;
    std::string s = it->get<std::string>();
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v.i);
    if (ec != std::errc() || p != s.data() + s.size()) return "intValue is not an integer";
  } else if (auto it = j.find("doubleValue"); it != j.end()) {
    if (!it->is_number()) return "doubleValue is not a number";
    v.kind = OtlpValue::Kind::kDouble;
    v.d = it->get<double>();
  } else if (auto it = j.find("boolValue"); it != j.end()) {
    if (!it->is_boolean()) return "boolValue is not a boolean";
    v.kind = OtlpValue::Kind::kBool;
    v.b = it->get<bool>();
  } else if (auto it = j.find("arrayValue"); it != j.end()) {
    v.kind = OtlpValue::Kind::kArray;
    for (const json& e : it->value("values", json::array())) {
      if (auto err = JsonValue(e, v.array.emplace_back()); !err.empty()) return err;
    }
  }
  return "";
}

std::string JsonAttrs(const json& list, OtlpAttrs& attrs) {
  if (!list.is_array()) return "attributes is not an array";
  for (const json& kv : list) {
    std::string key = kv.value("key", "");
    OtlpValue v;
    if (auto err = JsonValue(kv.value("value", json::object()), v); !err.empty()) return key + ": " + err;
    if (attrs.values.count(key)) ++attrs.duplicates;
    attrs.values[key] = std::move(v);
  }
  return "";
}

std::string JsonU64(const json& j, const char* name, uint64_t& out) {
  auto it = j.find(name);
  if (it == j.end()) return "";
  if (!it->is_string()) return std::string(name) + " is not a string";
  std::string s = it->get<std::string>();
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() ? "" : std::string(name) + " is not an integer";
}

bool IsHex(const std::string& s, size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string JsonSpan(const json& j, OtlpSpan& s) {
  s.trace_id = j.value("traceId", "");
  s.span_id = j.value("spanId", "");
  s.parent_span_id = j.value("parentSpanId", "");
  if (!IsHex(s.trace_id, 32) || !IsHex(s.span_id, 16)) return "ids are not lowercase hex";
  if (!s.parent_span_id.empty() && !IsHex(s.parent_span_id, 16)) return "parentSpanId is not hex";
  s.name = j.value("name", "");
  if (j.contains("kind") && !j["kind"].is_number_integer()) return "kind is not an enum number";
  s.kind = j.value("kind", 0);
  if (auto e = JsonU64(j, "startTimeUnixNano", s.start_ns); !e.empty()) return e;
  if (auto e = JsonU64(j, "endTimeUnixNano", s.end_ns); !e.empty()) return e;
  if (j.contains("attributes")) {
    if (auto e = JsonAttrs(j["attributes"], s.attrs); !e.empty()) return e;
  }
  for (const json& ev : j.value("events", json::array())) {
    OtlpEvent& e = s.events.emplace_back();
    e.name = ev.value("name", "");
    if (auto err = JsonU64(ev, "timeUnixNano", e.time_ns); !err.empty()) return err;
    if (auto err = JsonAttrs(ev.value("attributes", json::array()), e.attrs); !err.empty()) return err;
  }
  for (const json& l : j.value("links", json::array())) {
    s.links.push_back({l.value("traceId", ""), l.value("spanId", "")});
  }
  if (auto it = j.find("status"); it != j.end()) {
    s.has_status = true;
    if (it->contains("code") && !(*it)["code"].is_number_integer()) return "status code is not an enum number";
    s.status_code = it->value("code", 0);
    s.status_message = it->value("message", "");
  }
  return "";
}

}  // namespace

std::string ReadOtlpProto(std::string_view body, std::vector<OtlpSpan>& out) {
  WireReader r(body);
  WireField rs;
  size_t index = 0;
  while (r.Next(rs)) {
    if (rs.number != 1) continue;
    OtlpAttrs resource;
    std::vector<OtlpSpan> spans;
    WireReader rr(rs.bytes);
    WireField f;
    while (rr.Next(f)) {
      if (f.number == 1) {
        WireReader res(f.bytes);
        WireField g;
        while (res.Next(g)) {
          if (g.number != 1) continue;
          if (auto err = ProtoKeyValue(g.bytes, resource); !err.empty()) return err;
        }
      } else if (f.number == 2) {
        std::string scope_name, scope_version;
        WireReader ss(f.bytes);
        WireField g;
        while (ss.Next(g)) {
          if (g.number == 1) {
            WireReader sc(g.bytes);
            WireField h;
            while (sc.Next(h)) {
              if (h.number == 1) scope_name = std::string(h.bytes);
              if (h.number == 2) scope_version = std::string(h.bytes);
            }
          } else if (g.number == 2) {
            OtlpSpan& s = spans.emplace_back();
            if (auto err = ProtoSpan(g.bytes, s); !err.empty()) return err;
            s.scope_name = scope_name;
            s.scope_version = scope_version;
          }
        }
        if (!ss.ok()) return ss.error();
      }
    }
    if (!rr.ok()) return rr.error();
    for (OtlpSpan& s : spans) {
      s.resource = resource;
      s.resource_index = index;
      out.push_back(std::move(s));
    }
    ++index;
  }
  return r.ok() ? "" : r.error();
}

std::string ReadOtlpJson(std::string_view body, std::vector<OtlpSpan>& out) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return "not a JSON object";
  size_t index = 0;
  for (const json& rs : doc.value("resourceSpans", json::array())) {
    OtlpAttrs resource;
    if (rs.contains("resource")) {
      if (auto e = JsonAttrs(rs["resource"].value("attributes", json::array()), resource); !e.empty()) return e;
    }
    for (const json& ss : rs.value("scopeSpans", json::array())) {
      json scope = ss.value("scope", json::object());
      for (const json& sj : ss.value("spans", json::array())) {
        OtlpSpan s;
        if (auto e = JsonSpan(sj, s); !e.empty()) return e;
        s.resource = resource;
        s.resource_index = index;
        s.scope_name = scope.value("name", "");
        s.scope_version = scope.value("version", "");
        out.push_back(std::move(s));
      }
    }
    ++index;
  }
  return "";
}

std::vector<std::string> OtlpSpanIds(const FakeRequest& req) {
  std::vector<OtlpSpan> spans;
  std::string ct = req.Header("Content-Type");
  std::string err =
      ct.find("protobuf") != std::string::npos ? ReadOtlpProto(req.body, spans) : ReadOtlpJson(req.body, spans);
  std::vector<std::string> ids;
  if (!err.empty()) return ids;
  for (const auto& s : spans) ids.push_back(s.span_id);
  return ids;
}

}  // namespace spanvault::testing
