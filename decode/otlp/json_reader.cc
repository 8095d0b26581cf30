// decode/otlp/ — ExportTraceServiceRequest in the OTLP/JSON encoding → SpanData →
// SpanMapper. The rules (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
// lowerCamelCase keys (the original snake_case names are accepted too), trace
// and span ids as hex (case-insensitive; base64 — what a generic protobuf
// JSON encoder writes — is accepted when the length says so), 64-bit integers
// as strings or numbers, enums as numbers (their names accepted too),
// bytesValue as base64. Unknown keys are skipped; null means absent.
//
// simdjson's DOM parser: one pass to parse, then reads that allocate nothing
// (string views point into the parser, which lives as long as the reader).

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <string>

#include "decode/otlp/mapping.h"
#include "decode/otlp/span_data.h"

namespace spanvault::otlp {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// True when `k` is `camel` or its snake_case spelling `snake`.
bool Is(std::string_view k, std::string_view camel, std::string_view snake) { return k == camel || k == snake; }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int Base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

bool DecodeBase64Id(std::string_view s, Id& id) {
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  uint32_t acc = 0;
  int bits = 0;
  uint8_t len = 0;
  for (char c : s) {
    int d = Base64Digit(c);
    if (d < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (len == Id::kMax) return false;
      id.bytes[len++] = static_cast<uint8_t>(acc >> bits);
    }
  }
  id.len = len;
  return true;
}

void ParseId(std::string_view s, Id& id) {
  id = Id{};
  bool hex = s.size() % 2 == 0 && s.size() / 2 <= Id::kMax;
  for (size_t i = 0; hex && i < s.size(); i += 2) {
    int hi = HexDigit(s[i]), lo = HexDigit(s[i + 1]);
    if (hi < 0 || lo < 0) {
      hex = false;
      break;
    }
    id.bytes[i / 2] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (hex) {
    id.len = static_cast<uint8_t>(s.size() / 2);
    return;
  }
  // 16 bytes are 24 base64 characters and 8 bytes are 12 (padded): lengths
  // no hex id of the right size has.
  id = Id{};
  if ((s.size() == 24 || s.size() == 12) && DecodeBase64Id(s, id)) return;
  id = Id{};
  id.valid = false;
}

class JsonReader {
 public:
  JsonReader(const MapLimits& limits, MappedSpans& out)
      : limits_(limits), max_depth_(limits.max_depth), out_(out), mapper_(limits) {}

  std::string Request(std::string_view body) {
    // Each AnyValue level is three JSON levels ({"kvlistValue":{"values":[...]}}).
    uint32_t json_depth = 16 + 3 * (max_depth_ + 1);
    element root;
    simdjson::error_code ec;
    try {
      ec = parser_.allocate(body.size(), json_depth);
      if (ec == simdjson::SUCCESS) ec = parser_.parse(body.data(), body.size(), true).get(root);
    } catch (...) {
      ec = simdjson::MEMALLOC;
    }
    if (ec == simdjson::DEPTH_ERROR) return "OTLP/JSON nests deeper than the limit";
    if (ec != simdjson::SUCCESS) return std::string("invalid JSON: ") + simdjson::error_message(ec);
    if (root.type() != element_type::OBJECT) return "OTLP/JSON: the request must be an object";
    for (auto field : object(root)) {
      if (!Is(field.key, "resourceSpans", "resource_spans")) continue;
      if (!ForEach(field.value, "resourceSpans", [&](element rs) { return ResourceSpans(rs); })) return error_;
    }
    return error_;
  }

 private:
  bool Bad(std::string why) {
    if (error_.empty()) error_ = "OTLP/JSON: " + why;
    return false;
  }

  // Calls `fn` on each element of an array (null: none).
  template <typename Fn>
  bool ForEach(element v, std::string_view what, Fn&& fn) {
    if (v.type() == element_type::NULL_VALUE) return true;
    if (v.type() != element_type::ARRAY) return Bad(std::string(what) + " must be an array");
    for (element e : simdjson::dom::array(v)) {
      if (!fn(e)) return false;
    }
    return true;
  }

  bool Obj(element v, std::string_view what) {
    if (v.type() == element_type::OBJECT) return true;
    return Bad(std::string(what) + " must be an object");
  }

  bool String(element v, std::string_view what, std::string_view& out) {
    if (v.type() == element_type::NULL_VALUE) return true;
    if (v.type() != element_type::STRING) return Bad(std::string(what) + " must be a string");
    out = v.get_string().value_unsafe();
    return true;
  }

  // uint64/int64 given as a number or a decimal string.
  bool Integer(element v, std::string_view what, int64_t& out, bool allow_negative) {
    switch (v.type()) {
      case element_type::NULL_VALUE:
        return true;
      case element_type::INT64:
        out = v.get_int64().value_unsafe();
        if (out < 0 && !allow_negative) break;
        return true;
      case element_type::UINT64:
        out = static_cast<int64_t>(v.get_uint64().value_unsafe());  // fixed64 bits
        return true;
      case element_type::DOUBLE: {
        double d = v.get_double().value_unsafe();
        if (d != std::floor(d) || std::fabs(d) > 9.2e18 || (d < 0 && !allow_negative)) break;
        out = static_cast<int64_t>(d);
        return true;
      }
      case element_type::STRING: {
        std::string_view s = v.get_string().value_unsafe();
        const char* end = s.data() + s.size();
        if (!allow_negative || (!s.empty() && s[0] != '-')) {
          uint64_t u;
          auto r = std::from_chars(s.data(), end, u);
          if (r.ec != std::errc() || r.ptr != end) break;
          out = static_cast<int64_t>(u);
        } else {
          auto r = std::from_chars(s.data(), end, out);
          if (r.ec != std::errc() || r.ptr != end) break;
        }
        return true;
      }
      default:
        break;
    }
    return Bad(std::string(what) + " must be an integer (number or decimal string)");
  }

  bool Unsigned(element v, std::string_view what, uint64_t& out) {
    int64_t i = static_cast<int64_t>(out);
    if (!Integer(v, what, i, false)) return false;
    out = static_cast<uint64_t>(i);
    return true;
  }

  bool Unsigned32(element v, std::string_view what, uint32_t& out) {
    uint64_t u = out;
    if (!Unsigned(v, what, u)) return false;
    out = static_cast<uint32_t>(u);
    return true;
  }

  // An enum as its number or its name (SPAN_KIND_CLIENT, STATUS_CODE_ERROR).
  bool Enum(element v, std::string_view what, std::initializer_list<std::string_view> names, uint32_t& out) {
    if (v.type() == element_type::STRING) {
      std::string_view s = v.get_string().value_unsafe();
      uint32_t i = 0;
      for (std::string_view n : names) {
        if (s == n) {
          out = i;
          return true;
        }
        ++i;
      }
    }
    return Unsigned32(v, what, out);
  }

  bool IdField(element v, std::string_view what, Id& id) {
    std::string_view s;
    if (!String(v, what, s)) return false;
    ParseId(s, id);
    return true;
  }

  // The KeyValue array `v` into a new pool range.
  bool Attributes(element v, AttrRange& range, uint32_t depth) {
    if (v.type() == element_type::NULL_VALUE) return true;
    if (v.type() != element_type::ARRAY) return Bad("attributes must be an array");
    simdjson::dom::array a(v);
    range.begin = static_cast<uint32_t>(pool_.kvs.size());
    range.end = range.begin + static_cast<uint32_t>(a.size());
    pool_.kvs.resize(range.end);
    uint32_t slot = range.begin;
    for (element kv : a) {
      if (!KeyValueAt(kv, slot++, depth)) return false;
    }
    return true;
  }

  bool KeyValueAt(element e, uint32_t slot, uint32_t depth) {
    if (!Obj(e, "a KeyValue")) return false;
    KeyValue kv;
    for (auto field : object(e)) {
      if (field.key == "key") {
        if (!String(field.value, "KeyValue.key", kv.key)) return false;
      } else if (field.key == "value") {
        if (!Value(field.value, kv.value, depth)) return false;
      }
    }
    pool_.kvs[slot] = kv;
    return true;
  }

  bool Value(element e, AnyValue& v, uint32_t depth) {
    if (e.type() == element_type::NULL_VALUE) return true;
    if (!Obj(e, "an AnyValue")) return false;
    for (auto field : object(e)) {
      std::string_view k = field.key;
      element x = field.value;
      if (x.type() == element_type::NULL_VALUE) continue;
      if (Is(k, "stringValue", "string_value")) {
        v = AnyValue{ValueKind::kString};
        if (!String(x, k, v.s)) return false;
        CapValue(v, limits_.max_attribute_value_bytes, out_);
      } else if (Is(k, "boolValue", "bool_value")) {
        if (x.type() != element_type::BOOL) return Bad("boolValue must be true or false");
        v = AnyValue{ValueKind::kBool};
        v.b = x.get_bool().value_unsafe();
      } else if (Is(k, "intValue", "int_value")) {
        v = AnyValue{ValueKind::kInt};
        if (!Integer(x, k, v.i, true)) return false;
      } else if (Is(k, "doubleValue", "double_value")) {
        v = AnyValue{ValueKind::kDouble};
        if (x.is_number()) {
          v.d = x.get_double().value_unsafe();
        } else if (x.type() == element_type::STRING) {  // "NaN", "Infinity", "-Infinity", "1.5"
          std::string_view s = x.get_string().value_unsafe();
          if (s == "NaN") {
            v.d = std::nan("");
          } else if (s == "Infinity" || s == "-Infinity") {
            v.d = s[0] == '-' ? -HUGE_VAL : HUGE_VAL;
          } else if (auto r = std::from_chars(s.data(), s.data() + s.size(), v.d);
                     r.ec != std::errc() || r.ptr != s.data() + s.size()) {
            return Bad("doubleValue must be a number");
          }
        } else {
          return Bad("doubleValue must be a number");
        }
      } else if (Is(k, "bytesValue", "bytes_value")) {
        v = AnyValue{ValueKind::kBase64};
        if (!String(x, k, v.s)) return false;
        CapValue(v, limits_.max_attribute_value_bytes, out_);
      } else if (Is(k, "arrayValue", "array_value") || Is(k, "kvlistValue", "kvlist_value")) {
        bool kvlist = k[0] == 'k';
        v = AnyValue{kvlist ? ValueKind::kKvlist : ValueKind::kArray};
        if (depth >= max_depth_) {
          too_deep_ = true;
          v = AnyValue{};
          continue;
        }
        if (!Obj(x, k)) return false;
        element values;
        if (object(x).at_key("values").get(values) != simdjson::SUCCESS) continue;  // empty
        if (kvlist) {
          AttrRange r;
          if (!Attributes(values, r, depth + 1)) return false;
          v.first = r.begin;
          v.count = r.end - r.begin;
          continue;
        }
        if (values.type() == element_type::NULL_VALUE) continue;
        if (values.type() != element_type::ARRAY) return Bad("arrayValue.values must be an array");
        simdjson::dom::array a(values);
        v.first = static_cast<uint32_t>(pool_.kvs.size());
        v.count = static_cast<uint32_t>(a.size());
        pool_.kvs.resize(v.first + v.count);
        uint32_t slot = v.first;
        for (element item : a) {
          AnyValue child;
          if (!Value(item, child, depth + 1)) return false;
          pool_.kvs[slot++] = KeyValue{{}, child};
        }
      }
    }
    return true;
  }

  bool ResourceSpans(element rs) {
    if (!Obj(rs, "resourceSpans[]")) return false;
    pool_.kvs.clear();
    resource_ = {};
    too_deep_ = false;
    element res;
    if (object(rs).at_key("resource").get(res) == simdjson::SUCCESS && res.type() != element_type::NULL_VALUE) {
      if (!Obj(res, "resource")) return false;
      for (auto field : object(res)) {
        if (field.key == "attributes") {
          if (!Attributes(field.value, resource_.attrs, 0)) return false;
          CapAttributes(resource_.attrs, limits_.max_attributes, out_);
        }
      }
    }
    bool resource_too_deep = too_deep_;
    size_t mark = pool_.kvs.size();
    for (auto field : object(rs)) {
      if (!Is(field.key, "scopeSpans", "scope_spans") &&
          !Is(field.key, "instrumentationLibrarySpans", "instrumentation_library_spans")) {
        continue;
      }
      bool ok = ForEach(field.value, "scopeSpans", [&](element ss) {
        pool_.kvs.resize(mark);
        return ScopeSpans(ss, resource_too_deep);
      });
      if (!ok) return false;
    }
    return true;
  }

  bool ScopeSpans(element ss, bool resource_too_deep) {
    if (!Obj(ss, "scopeSpans[]")) return false;
    scope_ = {};
    too_deep_ = false;
    element spans;
    bool has_spans = false;
    for (auto field : object(ss)) {
      if (field.key == "scope" || Is(field.key, "instrumentationLibrary", "instrumentation_library")) {
        if (field.value.type() == element_type::NULL_VALUE) continue;
        if (!Obj(field.value, "scope")) return false;
        for (auto sf : object(field.value)) {
          if (sf.key == "name" && !String(sf.value, "scope.name", scope_.name)) return false;
          if (sf.key == "version" && !String(sf.value, "scope.version", scope_.version)) return false;
          if (sf.key == "attributes") {
            if (!Attributes(sf.value, scope_.attrs, 0)) return false;
            CapAttributes(scope_.attrs, limits_.max_attributes, out_);
          }
        }
      } else if (field.key == "spans") {
        spans = field.value;
        has_spans = true;
      }
    }
    if (!has_spans) return true;
    bool scope_too_deep = too_deep_ || resource_too_deep;
    size_t mark = pool_.kvs.size();
    return ForEach(spans, "spans", [&](element s) {
      pool_.kvs.resize(mark);
      span_.Reset();
      too_deep_ = false;
      if (!Span(s)) return false;
      if (too_deep_ || scope_too_deep) {
        span_.reject_reason = "an attribute value nests deeper than " + std::to_string(max_depth_) + " levels";
      }
      CapSpanAttributes(span_, limits_.max_attributes, out_);
      mapper_.Map(pool_, resource_, scope_, span_, out_);
      return true;
    });
  }

  bool Span(element e) {
    if (!Obj(e, "spans[]")) return false;
    SpanData& s = span_;
    bool has_trace_id = false, has_span_id = false;
    for (auto field : object(e)) {
      std::string_view k = field.key;
      element v = field.value;
      bool ok = true;
      if (Is(k, "traceId", "trace_id")) {
        ok = IdField(v, k, s.trace_id), has_trace_id = true;
      } else if (Is(k, "spanId", "span_id")) {
        ok = IdField(v, k, s.span_id), has_span_id = true;
      } else if (Is(k, "parentSpanId", "parent_span_id")) {
        ok = IdField(v, k, s.parent_span_id);
      } else if (Is(k, "traceState", "trace_state")) {
        ok = String(v, k, s.trace_state);
      } else if (k == "name") {
        ok = String(v, k, s.name);
      } else if (k == "kind") {
        ok = Enum(v, k,
                  {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT",
                   "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"},
                  s.kind);
      } else if (Is(k, "startTimeUnixNano", "start_time_unix_nano")) {
        ok = Unsigned(v, k, s.start_time_unix_nano);
      } else if (Is(k, "endTimeUnixNano", "end_time_unix_nano")) {
        ok = Unsigned(v, k, s.end_time_unix_nano);
      } else if (k == "attributes") {
        ok = Attributes(v, s.attrs, 0);
      } else if (Is(k, "droppedAttributesCount", "dropped_attributes_count")) {
        ok = Unsigned32(v, k, s.dropped_attributes_count);
      } else if (Is(k, "droppedEventsCount", "dropped_events_count")) {
        ok = Unsigned32(v, k, s.dropped_events_count);
      } else if (Is(k, "droppedLinksCount", "dropped_links_count")) {
        ok = Unsigned32(v, k, s.dropped_links_count);
      } else if (k == "events") {
        ok = ForEach(v, k, [&](element ev) { return Event(ev); });
      } else if (k == "links") {
        ok = ForEach(v, k, [&](element l) { return Link(l); });
      } else if (k == "status") {
        ok = Status(v);
      }
      if (!ok) return false;
    }
    if (!has_trace_id) s.trace_id.len = 0;
    if (!has_span_id) s.span_id.len = 0;
    return true;
  }

  bool Event(element e) {
    if (!Obj(e, "events[]")) return false;
    EventData ev;
    for (auto field : object(e)) {
      bool ok = true;
      if (Is(field.key, "timeUnixNano", "time_unix_nano")) {
        ok = Unsigned(field.value, field.key, ev.time_unix_nano);
      } else if (field.key == "name") {
        ok = String(field.value, "events[].name", ev.name);
      } else if (field.key == "attributes") {
        ok = Attributes(field.value, ev.attrs, 0);
      }
      if (!ok) return false;
    }
    span_.events.push_back(ev);
    return true;
  }

  bool Link(element e) {
    if (!Obj(e, "links[]")) return false;
    LinkData l;
    for (auto field : object(e)) {
      bool ok = true;
      if (Is(field.key, "traceId", "trace_id")) {
        ok = IdField(field.value, field.key, l.trace_id);
      } else if (Is(field.key, "spanId", "span_id")) {
        ok = IdField(field.value, field.key, l.span_id);
      } else if (Is(field.key, "traceState", "trace_state")) {
        ok = String(field.value, field.key, l.trace_state);
      } else if (field.key == "attributes") {
        ok = Attributes(field.value, l.attrs, 0);
      }
      if (!ok) return false;
    }
    span_.links.push_back(l);
    return true;
  }

  bool Status(element e) {
    if (e.type() == element_type::NULL_VALUE) return true;
    if (!Obj(e, "status")) return false;
    for (auto field : object(e)) {
      bool ok = true;
      if (field.key == "message") {
        ok = String(field.value, "status.message", span_.status_message);
      } else if (field.key == "code") {
        ok = Enum(field.value, "status.code", {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"},
                  span_.status_code);
      }
      if (!ok) return false;
    }
    return true;
  }

  MapLimits limits_;
  uint32_t max_depth_;
  MappedSpans& out_;
  std::string error_;
  simdjson::dom::parser parser_;
  Pool pool_;
  ResourceData resource_;
  ScopeData scope_;
  SpanData span_;
  SpanMapper mapper_;
  bool too_deep_ = false;
};

}  // namespace

std::string DecodeJsonRequest(std::string_view body, const MapLimits& limits, MappedSpans& out) {
  JsonReader reader(limits, out);
  return reader.Request(body);
}

}  // namespace spanvault::otlp
