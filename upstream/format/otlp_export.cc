// OTLP export (contract: otlp_export.h).
//
// One pass per span: the canonical JSON is parsed (simdjson, thread_local
// parser), the span is mapped and written at once into a per-request span
// area (protobuf Span message or OTLP/JSON span object), and its resource key
// is noted. The request is then assembled resource by resource around those
// bytes, so a span is parsed once and copied once.
//
//
// The internals: export_span.h.
#include "upstream/format/otlp_export.h"

#include <charconv>

#include "protobuf/wire.h"
#include "upstream/format/export_span.h"

#ifndef SPANVAULT_VERSION
#define SPANVAULT_VERSION "0"
#endif

namespace spanvault::otlp {
namespace {

using namespace export_detail;  // NOLINT: the export's own internals
using simdjson::dom::element_type;

// ------------------------------------------------------------ proto attrs

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void PutVarint(uint64_t v, std::string& out) { AppendVarint(v, out); }

void PutLenTag(uint32_t field, size_t len, std::string& out) {
  PutVarint((static_cast<uint64_t>(field) << 3) | 2, out);
  PutVarint(len, out);
}

// AnyValue bodies (the bytes inside the AnyValue message).
void AnyString(std::string_view v, std::string& out) {
  PutLenTag(1, v.size(), out);
  out.append(v);
}
void AnyScalar(element v, std::string& out, std::string& scratch);

// KeyValue{key, AnyValue{any}} as field `field` of the enclosing message.
void PutKeyValue(uint32_t field, std::string_view key, std::string_view any, std::string& out) {
  size_t kv = 1 + VarintSize(key.size()) + key.size() + 1 + VarintSize(any.size()) + any.size();
  PutLenTag(field, kv, out);
  PutLenTag(1, key.size(), out);
  out.append(key);
  PutLenTag(2, any.size(), out);
  out.append(any);
}

class ProtoAttrs final : public AttrSink {
 public:
  ProtoAttrs(uint32_t field, std::string& out) : field_(field), out_(out) {}
  void Str(std::string_view k, std::string_view v) override {
    // Written in place: string values (input/output) are the bulk of a span.
    size_t any = 1 + VarintSize(v.size()) + v.size();
    size_t kv = 1 + VarintSize(k.size()) + k.size() + 1 + VarintSize(any) + any;
    PutLenTag(field_, kv, out_);
    PutLenTag(1, k.size(), out_);
    out_.append(k);
    PutLenTag(2, any, out_);
    AnyString(v, out_);
  }
  void Int(std::string_view k, int64_t v) override {
    any_.clear();
    PutVarint(3 << 3, any_);
    PutVarint(static_cast<uint64_t>(v), any_);
    PutKeyValue(field_, k, any_, out_);
  }
  void Dbl(std::string_view k, double v) override {
    any_.clear();
    WireWriter(any_).Double(4, v);
    PutKeyValue(field_, k, any_, out_);
  }
  void Bool(std::string_view k, bool v) override {
    any_.clear();
    WireWriter(any_).Varint(2, v ? 1 : 0);
    PutKeyValue(field_, k, any_, out_);
  }
  void Array(std::string_view k, simdjson::dom::array a) override {
    values_.clear();
    for (element e : a) {
      item_.clear();
      AnyScalar(e, item_, scratch_);
      PutLenTag(1, item_.size(), values_);
      values_.append(item_);
    }
    any_.clear();
    PutLenTag(5, values_.size(), any_);
    any_.append(values_);
    PutKeyValue(field_, k, any_, out_);
  }

 private:
  uint32_t field_;
  std::string& out_;
  std::string any_, values_, item_, scratch_;
};

void AnyScalar(element v, std::string& out, std::string& scratch) {
  switch (v.type()) {
    case element_type::STRING:
      AnyString(std::string_view(v), out);
      break;
    case element_type::INT64:
      PutVarint(3 << 3, out);
      PutVarint(static_cast<uint64_t>(int64_t(v)), out);
      break;
    case element_type::UINT64:
      WireWriter(out).Double(4, static_cast<double>(uint64_t(v)));
      break;
    case element_type::DOUBLE:
      WireWriter(out).Double(4, double(v));
      break;
    case element_type::BOOL:
      WireWriter(out).Varint(2, bool(v) ? 1 : 0);
      break;
    default:
      scratch.clear();
      AppendElement(v, scratch);
      AnyString(scratch, out);
  }
}

// ------------------------------------------------------------ JSON attrs

class JsonAttrs final : public AttrSink {
 public:
  explicit JsonAttrs(std::string& out) : out_(out) {}
  void Str(std::string_view k, std::string_view v) override {
    Open(k);
    out_ += "{\"stringValue\":";
    AppendJsonString(v, out_);
    out_ += "}}";
  }
  void Int(std::string_view k, int64_t v) override {
    Open(k);
    IntValue(v);
    out_ += '}';
  }
  void Dbl(std::string_view k, double v) override {
    Open(k);
    DoubleValue(v);
    out_ += '}';
  }
  void Bool(std::string_view k, bool v) override {
    Open(k);
    out_ += v ? "{\"boolValue\":true}}" : "{\"boolValue\":false}}";
  }
  void Array(std::string_view k, simdjson::dom::array a) override {
    Open(k);
    out_ += "{\"arrayValue\":{\"values\":[";
    bool first = true;
    for (element e : a) {
      if (!first) out_ += ',';
      first = false;
      switch (e.type()) {
        case element_type::STRING:
          out_ += "{\"stringValue\":";
          AppendJsonString(std::string_view(e), out_);
          out_ += '}';
          break;
        case element_type::INT64:
          IntValue(int64_t(e));
          break;
        case element_type::UINT64:
          DoubleValue(static_cast<double>(uint64_t(e)));
          break;
        case element_type::DOUBLE:
          DoubleValue(double(e));
          break;
        case element_type::BOOL:
          out_ += bool(e) ? "{\"boolValue\":true}" : "{\"boolValue\":false}";
          break;
        default: {
          std::string text;
          AppendElement(e, text);
          out_ += "{\"stringValue\":";
          AppendJsonString(text, out_);
          out_ += '}';
        }
      }
    }
    out_ += "]}}}";
  }

 private:
  void Open(std::string_view k) {
    if (!first_) out_ += ',';
    first_ = false;
    out_ += "{\"key\":";
    AppendJsonString(k, out_);
    out_ += ",\"value\":";
  }
  // OTLP/JSON: int64 as a decimal string.
  void IntValue(int64_t v) {
    out_ += "{\"intValue\":\"";
    out_ += std::to_string(v);
    out_ += "\"}";
  }
  void DoubleValue(double v) {
    out_ += "{\"doubleValue\":";
    AppendJsonDouble(v, out_);
    out_ += '}';
  }
  std::string& out_;
  bool first_ = true;
};

// ------------------------------------------------------------ spans

void AppendHex(const uint8_t* b, size_t n, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 15]);
  }
}

std::string_view Bytes(const uint8_t* b, size_t n) { return {reinterpret_cast<const char*>(b), n}; }

void WriteProtoSpan(const Canon& c, const SpanIds& ids, Dialect d, std::string& out) {
  WireWriter w(out);
  w.Bytes(1, Bytes(ids.trace, 16));
  w.Bytes(2, Bytes(ids.span, 8));
  if (ids.has_parent) w.Bytes(4, Bytes(ids.parent, 8));
  w.Bytes(5, c.name);
  w.Varint(6, static_cast<uint64_t>(SpanKind(c)));
  w.Fixed64(7, static_cast<uint64_t>(c.start_ns));
  w.Fixed64(8, static_cast<uint64_t>(c.end_ns));
  {
    ProtoAttrs attrs(9, out);
    MapAttributes(c, ids, d, attrs);
  }
  Exception ex;
  if (ExceptionOf(c, ex)) {
    std::string ev;
    WireWriter ew(ev);
    ew.Fixed64(1, static_cast<uint64_t>(c.end_ns));
    ew.Bytes(2, "exception");
    ProtoAttrs attrs(3, ev);
    WriteException(ex, attrs);
    w.Bytes(11, ev);
  }
  for (const auto& link : ids.links) {
    std::string l;
    WireWriter lw(l);
    lw.Bytes(1, Bytes(ids.trace, 16));
    lw.Bytes(2, Bytes(link.data(), 8));
    w.Bytes(13, l);
  }
  if (c.error) {
    std::string st;
    WireWriter sw(st);
    std::string_view msg = StatusMessage(c);
    if (!msg.empty()) sw.Bytes(2, msg);
    sw.Varint(3, 2);  // STATUS_CODE_ERROR
    w.Bytes(15, st);
  }
}

void WriteJsonSpan(const Canon& c, const SpanIds& ids, Dialect d, std::string& out) {
  out += "{\"traceId\":\"";
  AppendHex(ids.trace, 16, out);
  out += "\",\"spanId\":\"";
  AppendHex(ids.span, 8, out);
  if (ids.has_parent) {
    out += "\",\"parentSpanId\":\"";
    AppendHex(ids.parent, 8, out);
  }
  out += "\",\"name\":";
  AppendJsonString(c.name, out);
  out += ",\"kind\":";
  out += std::to_string(SpanKind(c));
  out += ",\"startTimeUnixNano\":\"" + std::to_string(c.start_ns) + "\",\"endTimeUnixNano\":\"" +
         std::to_string(c.end_ns) + "\",\"attributes\":[";
  {
    JsonAttrs attrs(out);
    MapAttributes(c, ids, d, attrs);
  }
  out += ']';
  Exception ex;
  if (ExceptionOf(c, ex)) {
    out +=
        ",\"events\":[{\"timeUnixNano\":\"" + std::to_string(c.end_ns) + "\",\"name\":\"exception\",\"attributes\":[";
    JsonAttrs attrs(out);
    WriteException(ex, attrs);
    out += "]}]";
  }
  if (!ids.links.empty()) {
    out += ",\"links\":[";
    for (size_t i = 0; i < ids.links.size(); ++i) {
      if (i > 0) out += ',';
      out += "{\"traceId\":\"";
      AppendHex(ids.trace, 16, out);
      out += "\",\"spanId\":\"";
      AppendHex(ids.links[i].data(), 8, out);
      out += "\"}";
    }
    out += ']';
  }
  if (c.error) {
    out += ",\"status\":{\"code\":2";
    std::string_view msg = StatusMessage(c);
    if (!msg.empty()) {
      out += ",\"message\":";
      AppendJsonString(msg, out);
    }
    out += '}';
  }
  out += '}';
}

// ------------------------------------------------------------ request

struct Resource {
  std::string service, environment, release;
  std::vector<std::pair<size_t, size_t>> spans;  // [offset, length) in the span area
};

void ResourceAttrs(const Resource& r, AttrSink& a) {
  a.Str("service.name", r.service.empty() ? std::string_view("unknown_service") : std::string_view(r.service));
  if (!r.environment.empty()) a.Str("deployment.environment.name", r.environment);
  if (!r.release.empty()) a.Str("service.version", r.release);
}

template <typename WriteSpan>
Status Collect(std::span<const std::string_view> spans, Dialect d, WriteSpan write, std::string& area,
               std::vector<Resource>& resources) {
  for (size_t i = 0; i < spans.size(); ++i) {
    Canon c;
    if (Status st = ParseCanon(spans[i], i, c); !st) return st;
    SpanIds ids;
    MakeIds(c, ids);
    Resource* r = nullptr;
    for (auto& x : resources) {
      if (x.service == c.service && x.environment == c.environment && x.release == c.release) r = &x;
    }
    if (r == nullptr) {
      resources.push_back({std::string(c.service), std::string(c.environment), std::string(c.release), {}});
      r = &resources.back();
    }
    size_t at = area.size();
    write(c, ids, d, area);
    r->spans.emplace_back(at, area.size() - at);
  }
  return {};
}

}  // namespace

Status EncodeExportProto(std::span<const std::string_view> spans, const ExportOptions& options, std::string& out) {
  thread_local std::string area;
  area.clear();
  std::vector<Resource> resources;
  if (auto st = Collect(spans, options.dialect, WriteProtoSpan, area, resources); !st) return st;
  WireWriter w(out);
  std::string resource, scope;
  for (const Resource& r : resources) {
    size_t rs = w.BeginLen(1);  // ExportTraceServiceRequest.resource_spans
    resource.clear();
    {
      ProtoAttrs attrs(1, resource);  // Resource.attributes
      ResourceAttrs(r, attrs);
    }
    w.Bytes(1, resource);
    size_t ss = w.BeginLen(2);  // ResourceSpans.scope_spans
    scope.clear();
    WireWriter sw(scope);
    sw.Bytes(1, "spanvault");
    sw.Bytes(2, SPANVAULT_VERSION);
    w.Bytes(1, scope);
    for (auto [at, len] : r.spans) w.Bytes(2, std::string_view(area).substr(at, len));
    w.EndLen(ss);
    w.EndLen(rs);
  }
  return {};
}

Status EncodeExportJson(std::span<const std::string_view> spans, const ExportOptions& options, std::string& out) {
  thread_local std::string area;
  area.clear();
  std::vector<Resource> resources;
  if (auto st = Collect(spans, options.dialect, WriteJsonSpan, area, resources); !st) return st;
  out += "{\"resourceSpans\":[";
  for (size_t i = 0; i < resources.size(); ++i) {
    const Resource& r = resources[i];
    if (i > 0) out += ',';
    out += "{\"resource\":{\"attributes\":[";
    {
      JsonAttrs attrs(out);
      ResourceAttrs(r, attrs);
    }
    out += "]},\"scopeSpans\":[{\"scope\":{\"name\":\"spanvault\",\"version\":\"" SPANVAULT_VERSION "\"},\"spans\":[";
    for (size_t j = 0; j < r.spans.size(); ++j) {
      if (j > 0) out += ',';
      out.append(area, r.spans[j].first, r.spans[j].second);
    }
    out += "]}]}";
  }
  out += "]}";
  return {};
}

std::optional<PartialSuccess> DecodeExportResponseProto(std::string_view body) {
  WireReader r(body);
  WireField f;
  std::optional<PartialSuccess> found;
  while (r.Next(f)) {
    if (f.number != 1 || f.type != WireType::kLen) continue;
    PartialSuccess ps;
    WireReader pr(f.bytes);
    WireField g;
    while (pr.Next(g)) {
      if (g.number == 1 && g.type == WireType::kVarint) ps.rejected_spans = g.AsInt64();
      if (g.number == 2 && g.type == WireType::kLen) ps.error_message = std::string(g.bytes);
    }
    if (!pr.ok()) return std::nullopt;
    found = std::move(ps);
  }
  if (!r.ok() || !found || (found->rejected_spans == 0 && found->error_message.empty())) return std::nullopt;
  return found;
}

std::optional<PartialSuccess> DecodeExportResponseJson(std::string_view body) {
  thread_local simdjson::dom::parser parser;
  element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) return std::nullopt;
  element ps;
  if (root["partialSuccess"].get(ps) != simdjson::SUCCESS && root["partial_success"].get(ps) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  PartialSuccess out;
  element v;
  if (ps["rejectedSpans"].get(v) == simdjson::SUCCESS || ps["rejected_spans"].get(v) == simdjson::SUCCESS) {
    // OTLP/JSON writes int64 as a string; numbers are accepted too.
    if (v.is_string()) {
      std::string_view s(v);
      std::from_chars(s.data(), s.data() + s.size(), out.rejected_spans);
    } else if (v.is_int64()) {
      out.rejected_spans = int64_t(v);
    } else if (v.is_uint64()) {
      out.rejected_spans = static_cast<int64_t>(uint64_t(v));
    } else if (v.is_double()) {
      out.rejected_spans = static_cast<int64_t>(double(v));
    }
  }
  if (ps["errorMessage"].get(v) == simdjson::SUCCESS || ps["error_message"].get(v) == simdjson::SUCCESS) {
    if (v.is_string()) out.error_message = std::string(std::string_view(v));
  }
  if (out.rejected_spans == 0 && out.error_message.empty()) return std::nullopt;
  return out;
}

}  // namespace spanvault::otlp