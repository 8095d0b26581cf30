// decode/otlp/ — ExportTraceServiceRequest in protobuf → SpanData → SpanMapper.
//
//   ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
//   ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3;
//                   repeated ScopeSpans instrumentation_library_spans = 1000 (pre-1.0 senders) }
//   ScopeSpans    { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
//   Resource      { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
//   InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; ... = 4 }
//   Span   { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
//            string name = 5; SpanKind kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_... = 8;
//            repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
//            repeated Event events = 11; uint32 dropped_events_count = 12; repeated Link links = 13;
//            uint32 dropped_links_count = 14; Status status = 15; fixed32 flags = 16; }
//   Event  { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; ... = 4 }
//   Link   { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4;
//            uint32 dropped_attributes_count = 5; fixed32 flags = 6; }
//   Status { string message = 2; StatusCode code = 3; }
//   KeyValue { string key = 1; AnyValue value = 2; }
//   AnyValue { oneof: string string_value = 1; bool bool_value = 2; int64 int_value = 3;
//              double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6;
//              bytes bytes_value = 7; }
//   ArrayValue { repeated AnyValue values = 1; }  KeyValueList { repeated KeyValue values = 1; }
//
// Fields may come in any order, so a message holding a nested header
// (ResourceSpans, ScopeSpans) is read twice: header first, then the spans.
// Repeated KeyValues are counted first so that they get contiguous pool
// slots even though their nested values are appended in between.

#include <string>

#include "decode/otlp/mapping.h"
#include "decode/otlp/span_data.h"
#include "protobuf/wire.h"

namespace spanvault::otlp {
namespace {

class ProtoReader {
 public:
  ProtoReader(const MapLimits& limits, MappedSpans& out)
      : limits_(limits), max_depth_(limits.max_depth), out_(out), mapper_(limits) {}

  std::string Request(std::string_view body) {
    WireReader r(body);
    WireField f;
    while (r.Next(f)) {
      if (f.number != 1) continue;
      if (!Expect(f, WireType::kLen, "ExportTraceServiceRequest.resource_spans")) return error_;
      if (!ResourceSpans(f.bytes)) return error_;
    }
    if (!r.ok()) return std::string("malformed protobuf: ") + r.error();
    return {};
  }

 private:
  bool Malformed(std::string why) {
    if (error_.empty()) error_ = "malformed protobuf: " + why;
    return false;
  }
  bool Check(const WireReader& r, const char* where) {
    if (r.ok()) return true;
    return Malformed(std::string(r.error()) + " in " + where);
  }
  bool Expect(const WireField& f, WireType t, const char* where) {
    if (f.type == t) return true;
    return Malformed(std::string("wrong wire type ") + std::to_string(static_cast<int>(f.type)) + " for " + where);
  }

  // Counts the occurrences of `number` in `msg` and reserves pool slots.
  bool Reserve(std::string_view msg, uint32_t number, AttrRange& range, const char* where) {
    WireReader r(msg);
    WireField f;
    uint32_t n = 0;
    while (r.Next(f)) n += f.number == number;
    if (!Check(r, where)) return false;
    range.begin = static_cast<uint32_t>(pool_.kvs.size());
    range.end = range.begin + n;
    pool_.kvs.resize(range.end);
    return true;
  }

  bool KeyValueAt(std::string_view msg, uint32_t slot, uint32_t depth) {
    KeyValue kv;
    WireReader r(msg);
    WireField f;
    while (r.Next(f)) {
      if (f.number == 1) {
        if (!Expect(f, WireType::kLen, "KeyValue.key")) return false;
        kv.key = f.bytes;
      } else if (f.number == 2) {
        if (!Expect(f, WireType::kLen, "KeyValue.value")) return false;
        if (!Value(f.bytes, kv.value, depth)) return false;
      }
    }
    if (!Check(r, "KeyValue")) return false;
    pool_.kvs[slot] = kv;
    return true;
  }

  bool Value(std::string_view msg, AnyValue& v, uint32_t depth) {
    WireReader r(msg);
    WireField f;
    while (r.Next(f)) {
      switch (f.number) {
        case 1:
          if (!Expect(f, WireType::kLen, "AnyValue.string_value")) return false;
          v = AnyValue{ValueKind::kString};
          v.s = f.bytes;
          CapValue(v, limits_.max_attribute_value_bytes, out_);
          break;
        case 2:
          if (!Expect(f, WireType::kVarint, "AnyValue.bool_value")) return false;
          v = AnyValue{ValueKind::kBool};
          v.b = f.varint != 0;
          break;
        case 3:
          if (!Expect(f, WireType::kVarint, "AnyValue.int_value")) return false;
          v = AnyValue{ValueKind::kInt};
          v.i = f.AsInt64();
          break;
        case 4:
          if (!Expect(f, WireType::kFixed64, "AnyValue.double_value")) return false;
          v = AnyValue{ValueKind::kDouble};
          v.d = f.AsDouble();
          break;
        case 5:
        case 6: {
          bool kvlist = f.number == 6;
          if (!Expect(f, WireType::kLen, kvlist ? "AnyValue.kvlist_value" : "AnyValue.array_value")) return false;
          v = AnyValue{kvlist ? ValueKind::kKvlist : ValueKind::kArray};
          if (depth >= max_depth_) {
            too_deep_ = true;  // the span is rejected; deeper bytes are not read
            v = AnyValue{};
            break;
          }
          if (!Children(f.bytes, kvlist, v, depth + 1)) return false;
          break;
        }
        case 7:
          if (!Expect(f, WireType::kLen, "AnyValue.bytes_value")) return false;
          v = AnyValue{ValueKind::kBytes};
          v.s = f.bytes;
          CapValue(v, limits_.max_attribute_value_bytes, out_);
          break;
        default:
          break;
      }
    }
    return Check(r, "AnyValue");
  }

  bool Children(std::string_view msg, bool kvlist, AnyValue& v, uint32_t depth) {
    AttrRange range;
    if (!Reserve(msg, 1, range, kvlist ? "KeyValueList" : "ArrayValue")) return false;
    v.first = range.begin;
    v.count = range.end - range.begin;
    WireReader r(msg);
    WireField f;
    uint32_t slot = range.begin;
    while (r.Next(f)) {
      if (f.number != 1) continue;
      if (!Expect(f, WireType::kLen, kvlist ? "KeyValueList.values" : "ArrayValue.values")) return false;
      if (kvlist) {
        if (!KeyValueAt(f.bytes, slot++, depth)) return false;
      } else {
        AnyValue child;
        if (!Value(f.bytes, child, depth)) return false;
        pool_.kvs[slot++] = KeyValue{{}, child};
      }
    }
    return Check(r, "AnyValue");
  }

  // The repeated KeyValue field `number` of `msg` into a new pool range.
  bool Attributes(std::string_view msg, uint32_t number, AttrRange& range, const char* where) {
    if (!Reserve(msg, number, range, where)) return false;
    WireReader r(msg);
    WireField f;
    uint32_t slot = range.begin;
    while (r.Next(f)) {
      if (f.number != number) continue;
      if (!Expect(f, WireType::kLen, where)) return false;
      if (!KeyValueAt(f.bytes, slot++, 0)) return false;
    }
    return Check(r, where);
  }

  bool Resource(std::string_view msg) {
    if (!Attributes(msg, 1, resource_.attrs, "Resource.attributes")) return false;
    CapAttributes(resource_.attrs, limits_.max_attributes, out_);
    return true;
  }

  bool Scope(std::string_view msg) {
    WireReader r(msg);
    WireField f;
    while (r.Next(f)) {
      if (f.number == 1 || f.number == 2) {
        if (!Expect(f, WireType::kLen, "InstrumentationScope.name/version")) return false;
        (f.number == 1 ? scope_.name : scope_.version) = f.bytes;
      }
    }
    if (!Check(r, "InstrumentationScope")) return false;
    if (!Attributes(msg, 3, scope_.attrs, "InstrumentationScope.attributes")) return false;
    CapAttributes(scope_.attrs, limits_.max_attributes, out_);
    return true;
  }

  bool ResourceSpans(std::string_view msg) {
    pool_.kvs.clear();
    resource_ = {};
    too_deep_ = false;
    WireReader r(msg);
    WireField f;
    while (r.Next(f)) {
      if (f.number != 1) continue;
      if (!Expect(f, WireType::kLen, "ResourceSpans.resource")) return false;
      pool_.kvs.clear();
      if (!Resource(f.bytes)) return false;
    }
    if (!Check(r, "ResourceSpans")) return false;
    resource_too_deep_ = too_deep_;
    size_t mark = pool_.kvs.size();
    r = WireReader(msg);
    while (r.Next(f)) {
      if (f.number != 2 && f.number != 1000) continue;
      if (!Expect(f, WireType::kLen, "ResourceSpans.scope_spans")) return false;
      pool_.kvs.resize(mark);
      if (!ScopeSpans(f.bytes)) return false;
    }
    return Check(r, "ResourceSpans");
  }

  bool ScopeSpans(std::string_view msg) {
    scope_ = {};
    too_deep_ = false;
    WireReader r(msg);
    WireField f;
    while (r.Next(f)) {
      if (f.number != 1) continue;
      if (!Expect(f, WireType::kLen, "ScopeSpans.scope")) return false;
      if (!Scope(f.bytes)) return false;
    }
    if (!Check(r, "ScopeSpans")) return false;
    bool scope_too_deep = too_deep_;
    size_t mark = pool_.kvs.size();
    r = WireReader(msg);
    while (r.Next(f)) {
      if (f.number != 2) continue;
      if (!Expect(f, WireType::kLen, "ScopeSpans.spans")) return false;
      pool_.kvs.resize(mark);
      span_.Reset();
      too_deep_ = false;
      if (!Span(f.bytes)) return false;
      if (too_deep_ || scope_too_deep || resource_too_deep_) {
        span_.reject_reason = "an attribute value nests deeper than " + std::to_string(max_depth_) + " levels";
      }
      CapSpanAttributes(span_, limits_.max_attributes, out_);
      mapper_.Map(pool_, resource_, scope_, span_, out_);
    }
    return Check(r, "ScopeSpans");
  }

  bool SpanId(const WireField& f, Id& id, const char* where) {
    if (!Expect(f, WireType::kLen, where)) return false;
    id.SetBytes(f.bytes);
    return true;
  }

  bool Span(std::string_view msg) {
    SpanData& s = span_;
    s.encoded_size = msg.size();
    if (!Reserve(msg, 9, s.attrs, "Span")) return false;
    uint32_t slot = s.attrs.begin;
    WireReader r(msg);
    WireField f;
    while (r.Next(f)) {
      switch (f.number) {
        case 1:
          if (!SpanId(f, s.trace_id, "Span.trace_id")) return false;
          break;
        case 2:
          if (!SpanId(f, s.span_id, "Span.span_id")) return false;
          break;
        case 3:
          if (!Expect(f, WireType::kLen, "Span.trace_state")) return false;
          s.trace_state = f.bytes;
          break;
        case 4:
          if (!SpanId(f, s.parent_span_id, "Span.parent_span_id")) return false;
          break;
        case 5:
          if (!Expect(f, WireType::kLen, "Span.name")) return false;
          s.name = f.bytes;
          break;
        case 6:
          if (!Expect(f, WireType::kVarint, "Span.kind")) return false;
          s.kind = static_cast<uint32_t>(f.varint);
          break;
        case 7:
        case 8:
          if (!Expect(f, WireType::kFixed64, "Span.start/end_time_unix_nano")) return false;
          (f.number == 7 ? s.start_time_unix_nano : s.end_time_unix_nano) = f.varint;
          break;
        case 9:
          if (!Expect(f, WireType::kLen, "Span.attributes")) return false;
          if (!KeyValueAt(f.bytes, slot++, 0)) return false;
          break;
        case 10:
        case 12:
        case 14: {
          if (!Expect(f, WireType::kVarint, "Span.dropped_*_count")) return false;
          auto n = static_cast<uint32_t>(f.varint);
          (f.number == 10   ? s.dropped_attributes_count
           : f.number == 12 ? s.dropped_events_count
                            : s.dropped_links_count) = n;
          break;
        }
        case 11:
          if (!Expect(f, WireType::kLen, "Span.events")) return false;
          if (!Event(f.bytes)) return false;
          break;
        case 13:
          if (!Expect(f, WireType::kLen, "Span.links")) return false;
          if (!Link(f.bytes)) return false;
          break;
        case 15:
          if (!Expect(f, WireType::kLen, "Span.status")) return false;
          if (!Status(f.bytes)) return false;
          break;
        case 16:
          if (!Expect(f, WireType::kFixed32, "Span.flags")) return false;
          break;
        default:
          break;
      }
    }
    return Check(r, "Span");
  }

  bool Event(std::string_view msg) {
    EventData e;
    WireReader r(msg);
    WireField f;
    while (r.Next(f)) {
      if (f.number == 1) {
        if (!Expect(f, WireType::kFixed64, "Event.time_unix_nano")) return false;
        e.time_unix_nano = f.varint;
      } else if (f.number == 2) {
        if (!Expect(f, WireType::kLen, "Event.name")) return false;
        e.name = f.bytes;
      }
    }
    if (!Check(r, "Event")) return false;
    if (!Attributes(msg, 3, e.attrs, "Event.attributes")) return false;
    span_.events.push_back(e);
    return true;
  }

  bool Link(std::string_view msg) {
    LinkData l;
    WireReader r(msg);
    WireField f;
    while (r.Next(f)) {
      if (f.number == 1 || f.number == 2) {
        if (!SpanId(f, f.number == 1 ? l.trace_id : l.span_id, "Link.trace_id/span_id")) return false;
      } else if (f.number == 3) {
        if (!Expect(f, WireType::kLen, "Link.trace_state")) return false;
        l.trace_state = f.bytes;
      }
    }
    if (!Check(r, "Link")) return false;
    if (!Attributes(msg, 4, l.attrs, "Link.attributes")) return false;
    span_.links.push_back(l);
    return true;
  }

  bool Status(std::string_view msg) {
    WireReader r(msg);
    WireField f;
    while (r.Next(f)) {
      if (f.number == 2) {
        if (!Expect(f, WireType::kLen, "Status.message")) return false;
        span_.status_message = f.bytes;
      } else if (f.number == 3) {
        if (!Expect(f, WireType::kVarint, "Status.code")) return false;
        span_.status_code = static_cast<uint32_t>(f.varint);
      }
    }
    return Check(r, "Status");
  }

  MapLimits limits_;
  uint32_t max_depth_;
  MappedSpans& out_;
  std::string error_;
  Pool pool_;
  ResourceData resource_;
  ScopeData scope_;
  SpanData span_;
  SpanMapper mapper_;
  bool too_deep_ = false;
  bool resource_too_deep_ = false;
};

}  // namespace

std::string DecodeProtoRequest(std::string_view body, const MapLimits& limits, MappedSpans& out) {
  ProtoReader reader(limits, out);
  return reader.Request(body);
}

}  // namespace spanvault::otlp
