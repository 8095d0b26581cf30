#include <string>
#include <vector>

#include "common/util.h"
#include "decode/otlp/span_writer.h"

// Everything a span carries that has no canonical field ends up in
// `attributes`: unmapped span attributes first (metadata objects spread into
// their keys), then the OTLP structure (kind, scope, events, links, ...),
// then the resource attributes under "resource.".

namespace spanvault::otlp::internal {

void SpanWriter::CollectTags(std::vector<std::string>& tags) {
  auto add = [&](std::string_view t) {
    std::string tmp;
    t = ValidUtf8(t, tmp);
    if (t.size() > kMaxShortBytes) return false;
    for (const auto& x : tags) {
      if (x == t) return true;
    }
    tags.emplace_back(t);
    return true;
  };
  for (Attr a : {Attr::kLfTraceTags, Attr::kTagTags, Attr::kBrokleTags, Attr::kBtTags, Attr::kSvTags}) {
    int32_t idx = Slot(slot_, a);
    if (idx < 0) continue;
    const AnyValue& v = V(idx);
    size_t before = tags.size();
    bool ok = true;
    if (v.kind == ValueKind::kArray) {
      for (uint32_t i = 0; i < v.count && ok; ++i) {
        const AnyValue& t = pool_.kvs[v.first + i].value;
        ok = t.kind == ValueKind::kString && add(t.s);
      }
    } else if (simdjson::dom::element e; v.kind == ValueKind::kString && ParseEmbeddedJson(v.s, kEmbeddedDepth, e) &&
                                         e.type() == simdjson::dom::element_type::ARRAY) {
      for (auto t : simdjson::dom::array(e)) {
        ok = ok && t.type() == simdjson::dom::element_type::STRING && add(t.get_string().value_unsafe());
      }
    } else {
      ok = false;
    }
    if (ok) {
      Use(idx);
    } else {
      tags.resize(before);
    }
  }
  // Braintrust takes tags on root spans only: spanvault's braintrust dialect
  // keeps a child's in braintrust.metadata.tags.
  if (int32_t idx = Slot(slot_, Attr::kBtMetadata); tags.empty() && idx >= 0 && V(idx).kind == ValueKind::kString) {
    simdjson::dom::element e;
    simdjson::dom::array a;
    if (ParseEmbeddedJson(V(idx).s, kEmbeddedDepth, e) && e.type() == simdjson::dom::element_type::OBJECT &&
        e["tags"].get(a) == simdjson::SUCCESS) {
      bool ok = true;
      for (auto t : a) ok = ok && t.type() == simdjson::dom::element_type::STRING && add(t.get_string().value_unsafe());
      if (ok) {
        bt_tags_from_metadata_ = true;
      } else {
        tags.clear();
      }
    }
  }
}

void SpanWriter::WriteAttributes(ObjectOut& o, std::string_view name_overflow) {
  size_t rollback = out_.size();
  bool first_key = o.first;
  o.Key("attributes");
  out_.push_back('{');
  ObjectOut a{out_};
  for (const auto& [key, idx] : lf_meta_) {
    a.Key(key);
    WriteValue(V(idx), 3);
  }
  for (uint32_t i = span_.attrs.begin; i < span_.attrs.end && !Full(); ++i) {
    if (consumed_[i - span_.attrs.begin]) continue;
    const KeyValue& kv = pool_.kvs[i];
    auto idx = static_cast<int32_t>(i);
    // Metadata objects are spread into attributes (their keys first-win
    // against later duplicates in span::Decoder).
    const bool bt = idx == Slot(slot_, Attr::kBtMetadata);
    if (idx == Slot(slot_, Attr::kMetadata) || idx == Slot(slot_, Attr::kLfMetadata) || bt) {
      simdjson::dom::element e;
      if (kv.value.kind == ValueKind::kKvlist) {
        for (uint32_t j = 0; j < kv.value.count && !Full(); ++j) {
          a.Key(pool_.kvs[kv.value.first + j].key);
          WriteValue(pool_.kvs[kv.value.first + j].value, 3);
        }
        continue;
      }
      if (kv.value.kind == ValueKind::kString && ParseEmbeddedJson(kv.value.s, kEmbeddedDepth, e) &&
          e.type() == simdjson::dom::element_type::OBJECT) {
        for (auto field : simdjson::dom::object(e)) {
          // braintrust.metadata's model and provider became fields.
          if (bt && ((field.key == "model" && bt_model_from_metadata_) ||
                     (field.key == "provider" && bt_provider_from_metadata_) ||
                     (field.key == "tags" && bt_tags_from_metadata_))) {
            continue;
          }
          a.Key(field.key);
          AppendElement(field.value, 3, out_);
        }
        continue;
      }
    }
    a.Key(kv.key);
    WriteValue(kv.value, 3);
  }
  WriteOtelExtras(a, name_overflow);
  std::string key;
  for (uint32_t i = resource_.attrs.begin; i < resource_.attrs.end && !Full(); ++i) {
    if (resource_consumed_[i - resource_.attrs.begin]) continue;
    key.assign("resource.").append(pool_.kvs[i].key);
    a.Key(key);
    WriteValue(pool_.kvs[i].value, 3);
  }
  if (a.first) {
    out_.resize(rollback);
    o.first = first_key;
    return;
  }
  out_.push_back('}');
}

void SpanWriter::WriteOtelExtras(ObjectOut& a, std::string_view name_overflow) {
  WriteOtelFields(a, name_overflow);
  WriteOtelEvents(a);
  WriteOtelLinks(a);
}

void SpanWriter::WriteOtelFields(ObjectOut& a, std::string_view name_overflow) {
  if (auto kind = SpanKindName(span_.kind); !kind.empty()) {
    a.Key("otel.span.kind");
    AppendString(kind, out_);
  } else if (span_.kind != 0) {
    a.Key("otel.span.kind");
    AppendUint(span_.kind, out_);
  }
  if (!name_overflow.empty()) {
    a.Key("otel.span.name");
    AppendString(name_overflow, out_);
  }
  if (!scope_.name.empty()) {
    a.Key("otel.scope.name");
    AppendString(scope_.name, out_);
  }
  if (!scope_.version.empty()) {
    a.Key("otel.scope.version");
    AppendString(scope_.version, out_);
  }
  std::string key;
  for (uint32_t i = scope_.attrs.begin; i < scope_.attrs.end && !Full(); ++i) {
    key.assign("otel.scope.attributes.").append(pool_.kvs[i].key);
    a.Key(key);
    WriteValue(pool_.kvs[i].value, 3);
  }
  if (!span_.trace_state.empty()) {
    a.Key("otel.trace_state");
    AppendString(span_.trace_state, out_);
  }
  if (span_.status_code != 2 && !span_.status_message.empty()) {
    a.Key("otel.status_message");
    AppendString(span_.status_message, out_);
  }
  // Times span::Decoder cannot take (beyond 2255, or an end before the start)
  // are kept as the raw nanoseconds.
  if (!start_ok_ && span_.start_time_unix_nano != 0) {
    a.Key("otel.start_time_unix_nano");
    out_.push_back('"');
    AppendUint(span_.start_time_unix_nano, out_);
    out_.push_back('"');
  }
  if (!end_ok_ && span_.end_time_unix_nano != 0) {
    a.Key("otel.end_time_unix_nano");
    out_.push_back('"');
    AppendUint(span_.end_time_unix_nano, out_);
    out_.push_back('"');
  }
  for (auto [name, n] :
       {std::pair<std::string_view, uint32_t>{"otel.dropped_attributes_count",
                                              span_.dropped_attributes_count + span_.limit_dropped_attributes},
        {"otel.dropped_events_count", span_.dropped_events_count},
        {"otel.dropped_links_count", span_.dropped_links_count}}) {
    if (n == 0) continue;
    a.Key(name);
    AppendUint(n, out_);
  }
}

// Every event but the one written as the exception (exception_event_).
void SpanWriter::WriteOtelEvents(ObjectOut& a) {
  bool any_event = false;
  for (size_t i = 0; i < span_.events.size() && !Full(); ++i) {
    if (static_cast<int32_t>(i) == exception_event_) continue;
    const EventData& e = span_.events[i];
    if (!any_event) {
      a.Key("otel.events");
      out_.push_back('[');
      any_event = true;
    } else {
      out_.push_back(',');
    }
    out_.append("{\"name\":");
    AppendString(e.name, out_);
    if (e.time_unix_nano != 0 && e.time_unix_nano <= kMaxTimeNs) {
      out_.append(",\"time\":\"");
      AppendRfc3339(static_cast<int64_t>(e.time_unix_nano), out_);
      out_.push_back('"');
    }
    if (e.attrs.end > e.attrs.begin) {
      out_.append(",\"attributes\":{");
      ObjectOut ea{out_};
      for (uint32_t j = e.attrs.begin; j < e.attrs.end && !Full(); ++j) {
        ea.Key(pool_.kvs[j].key);
        WriteValue(pool_.kvs[j].value, 6);
      }
      out_.push_back('}');
    }
    out_.push_back('}');
  }
  if (any_event) out_.push_back(']');
}

void SpanWriter::WriteOtelLinks(ObjectOut& a) {
  if (span_.links.empty()) return;
  a.Key("otel.links");
  out_.push_back('[');
  for (size_t i = 0; i < span_.links.size() && !Full(); ++i) {
    const LinkData& l = span_.links[i];
    if (i) out_.push_back(',');
    out_.append("{\"trace_id\":");
    AppendHex(l.trace_id, out_);
    out_.append(",\"span_id\":");
    AppendHex(l.span_id, out_);
    if (!l.trace_state.empty()) {
      out_.append(",\"trace_state\":");
      AppendString(l.trace_state, out_);
    }
    if (l.attrs.end > l.attrs.begin) {
      out_.append(",\"attributes\":{");
      ObjectOut la{out_};
      for (uint32_t j = l.attrs.begin; j < l.attrs.end && !Full(); ++j) {
        la.Key(pool_.kvs[j].key);
        WriteValue(pool_.kvs[j].value, 6);
      }
      out_.push_back('}');
    }
    out_.push_back('}');
  }
  out_.push_back(']');
}

}  // namespace spanvault::otlp::internal
