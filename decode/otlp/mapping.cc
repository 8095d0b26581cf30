#include "decode/otlp/mapping.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>

#include "common/util.h"
#include "decode/otlp/conventions.h"
#include "decode/otlp/json_out.h"
#include "decode/otlp/span_writer.h"
#include "decode/otlp/usage.h"

// Each span is mapped in two steps: decide (which attribute feeds which
// canonical field; the ones used are marked consumed) and write (canonical
// fields in a fixed order, then every attribute that was not consumed).
// Where several conventions give the same field, the first in each list
// below wins and the others stay in `attributes`, so nothing is lost.

namespace spanvault::otlp {
namespace internal {

void SpanWriter::Classify() {
  slot_.fill(-1);
  consumed_.assign(span_.attrs.end - span_.attrs.begin, 0);
  resource_consumed_.assign(resource_.attrs.end - resource_.attrs.begin, 0);
  for (uint32_t i = span_.attrs.begin; i < span_.attrs.end; ++i) {
    std::string_view suffix;
    Attr a = ClassifySpanKey(pool_.kvs[i].key, &suffix);
    if (a == Attr::kNone) continue;
    auto idx = static_cast<int32_t>(i);
    if (a == Attr::kGenAiRequestParam) {
      params_.emplace_back(suffix, idx);
    } else if (a == Attr::kSvScoreKey) {
      sv_scores_.emplace_back(suffix, idx);
    } else if (a == Attr::kSvMetricKey) {
      sv_metrics_.emplace_back(suffix, idx);
    } else if (a == Attr::kLfMetadataKey) {
      lf_meta_.emplace_back(suffix, idx);
      Use(idx);
    } else if (Slot(slot_, a) < 0) {
      Slot(slot_, a) = idx;  // the first occurrence of a key wins
    }
  }
}

bool SpanWriter::ShortString(int32_t idx, std::string& out) const {
  if (idx < 0) return false;
  const AnyValue& v = V(idx);
  if (v.kind == ValueKind::kInt) {
    out = std::to_string(v.i);
    return true;
  }
  if (v.kind != ValueKind::kString || v.s.empty()) return false;
  std::string tmp;
  std::string_view s = ValidUtf8(v.s, tmp);
  if (s.size() > kMaxShortBytes) return false;
  out.assign(s);
  return true;
}

bool SpanWriter::FirstString(std::initializer_list<Attr> attrs, std::string& out) {
  for (Attr a : attrs) {
    int32_t idx = Slot(slot_, a);
    if (ShortString(idx, out)) {
      Use(idx);
      return true;
    }
  }
  return false;
}

bool SpanWriter::ResourceString(std::initializer_list<std::string_view> keys, std::string& out) {
  for (std::string_view key : keys) {
    for (uint32_t i = resource_.attrs.begin; i < resource_.attrs.end; ++i) {
      const KeyValue& kv = pool_.kvs[i];
      if (kv.key != key || kv.value.kind != ValueKind::kString || kv.value.s.empty()) continue;
      std::string tmp;
      std::string_view s = ValidUtf8(kv.value.s, tmp);
      if (s.size() > kMaxShortBytes) continue;
      out.assign(s);
      UseResource(static_cast<int32_t>(i));
      return true;
    }
  }
  return false;
}

std::string_view SpanWriter::DecideType(bool has_model) {
  // Langfuse's documented order: explicit type attribute, OpenInference
  // kind, GenAI operation, then a model means a generation.
  // spanvault.span.type (spanvault's own export) first: it is the type exactly.
  for (Attr a : {Attr::kSvType, Attr::kLfType, Attr::kBrokleType}) {
    int32_t idx = Slot(slot_, a);
    if (idx < 0 || V(idx).kind != ValueKind::kString) continue;
    if (auto t = TypeFromExplicit(V(idx).s); !t.empty()) {
      Use(idx);
      return t;
    }
  }
  // Braintrust's exporters say the type in braintrust.span_attributes; the
  // attribute is consumed when it holds nothing but the name and the type.
  if (int32_t idx = Slot(slot_, Attr::kBtSpanAttributes); idx >= 0 && V(idx).kind == ValueKind::kString) {
    simdjson::dom::element e;
    std::string_view type;
    if (ParseEmbeddedJson(V(idx).s, kEmbeddedDepth, e) && e.type() == simdjson::dom::element_type::OBJECT &&
        e["type"].get(type) == simdjson::SUCCESS) {
      if (auto t = TypeFromBraintrust(type); !t.empty()) {
        if (simdjson::dom::object(e).size() <= 2) Use(idx);
        return t;
      }
    }
  }
  // These stay in attributes: they say more than the type (RERANKER, PROMPT,
  // chat vs text_completion, ...), and the export writes them back.
  if (int32_t idx = Slot(slot_, Attr::kOiSpanKind); idx >= 0 && V(idx).kind == ValueKind::kString) {
    if (auto t = TypeFromExplicit(V(idx).s); !t.empty()) return t;
  }
  if (int32_t idx = Slot(slot_, Attr::kGenAiOperationName); idx >= 0 && V(idx).kind == ValueKind::kString) {
    if (auto t = TypeFromOperation(V(idx).s); !t.empty()) return t;
  }
  if (int32_t idx = Slot(slot_, Attr::kTraceloopKind); idx >= 0 && V(idx).kind == ValueKind::kString) {
    if (auto t = TypeFromExplicit(V(idx).s); !t.empty()) return t;
  }
  return has_model ? "generation" : "span";
}

void SpanWriter::WriteStatus(ObjectOut& o) {
  // Langfuse's and Brokle's level ERROR is an error; other levels stay.
  int32_t level = Slot(slot_, Attr::kLfLevel);
  if (level < 0 || V(level).kind != ValueKind::kString || !EqualsIgnoreCase(V(level).s, "ERROR")) {
    level = Slot(slot_, Attr::kBrokleLevel);
  }
  bool lf_error = level >= 0 && V(level).kind == ValueKind::kString && EqualsIgnoreCase(V(level).s, "ERROR");
  bool error = span_.status_code == 2 || lf_error;
  o.Key("status");
  out_.append(error ? "\"error\"" : "\"ok\"");
  if (!error) return;
  if (lf_error) Use(level);
  // The last exception event describes the error; its attributes become the
  // error object without their "exception." prefix.
  for (size_t i = span_.events.size(); i-- > 0;) {
    if (span_.events[i].name == "exception") {
      exception_event_ = static_cast<int32_t>(i);
      break;
    }
  }
  std::string_view message = span_.status_message;
  int32_t lf_message = Slot(slot_, Attr::kLfStatusMessage);
  if (message.empty() && lf_message >= 0 && V(lf_message).kind == ValueKind::kString) {
    message = V(lf_message).s;
    Use(lf_message);
  }
  if (exception_event_ >= 0) {
    const EventData& e = span_.events[static_cast<size_t>(exception_event_)];
    o.Key("error");
    out_.push_back('{');
    ObjectOut err{out_};
    bool has_message = false;
    for (uint32_t i = e.attrs.begin; i < e.attrs.end; ++i) {
      std::string_view k = pool_.kvs[i].key;
      if (k.starts_with("exception.") && k.size() > 10) k.remove_prefix(10);
      has_message |= k == "message";
      err.Key(k);
      WriteValue(pool_.kvs[i].value, 3);
    }
    if (!message.empty()) {
      err.Key(has_message ? "status_message" : "message");
      AppendString(message, out_);
    }
    out_.push_back('}');
  } else if (!message.empty()) {
    o.Key("error");
    AppendString(message, out_);
  }
}

void SpanWriter::WriteModelParameters(ObjectOut& o) {
  size_t rollback = out_.size();
  bool first_key = o.first;
  o.Key("model_parameters");
  out_.push_back('{');
  ObjectOut p{out_};
  std::vector<std::string> seen;  // first source wins per parameter
  auto add = [&](std::string_view k) {
    for (const auto& s : seen) {
      if (s == k) return false;
    }
    seen.emplace_back(k);
    p.Key(k);
    return true;
  };
  auto json_object = [&](int32_t idx) {
    if (idx < 0) return;
    const AnyValue& v = V(idx);
    if (v.kind == ValueKind::kKvlist) {
      for (uint32_t i = 0; i < v.count; ++i) {
        const KeyValue& kv = pool_.kvs[v.first + i];
        if (add(kv.key)) WriteValue(kv.value, 3);
      }
      Use(idx);
      return;
    }
    simdjson::dom::element e;
    if (v.kind != ValueKind::kString || !ParseEmbeddedJson(v.s, kEmbeddedDepth, e)) return;
    if (e.type() != simdjson::dom::element_type::OBJECT) return;
    for (auto field : simdjson::dom::object(e)) {
      if (add(field.key)) AppendElement(field.value, 3, out_);
    }
    Use(idx);
  };
  json_object(Slot(slot_, Attr::kLfModelParameters));
  for (const auto& [name, idx] : params_) {
    if (name == "model") continue;
    if (add(name)) WriteValue(V(idx), 3);
    Use(idx);
  }
  json_object(Slot(slot_, Attr::kLlmInvocationParameters));
  if (seen.empty()) {
    out_.resize(rollback);
    o.first = first_key;
    return;
  }
  out_.push_back('}');
}

bool SpanWriter::WriteContent(ObjectOut& o, std::string_view field, std::initializer_list<Attr> sources) {
  for (Attr a : sources) {
    int32_t idx = Slot(slot_, a);
    if (idx < 0 || V(idx).kind == ValueKind::kEmpty) continue;
    Use(idx);
    const AnyValue& v = V(idx);
    o.Key(field);
    if (v.kind != ValueKind::kString) {
      WriteValue(v, 2);
      return true;
    }
    // OpenInference says whether the value is JSON; the others are JSON
    // when they parse as JSON.
    bool try_json = true;
    if (a == Attr::kInputValue || a == Attr::kOutputValue) {
      int32_t mime = Slot(slot_, a == Attr::kInputValue ? Attr::kInputMimeType : Attr::kOutputMimeType);
      try_json = mime >= 0 && V(mime).kind == ValueKind::kString && V(mime).s.find("json") != std::string_view::npos;
      if (mime >= 0) Use(mime);
    }
    // Valid JSON (simdjson checked structure and UTF-8) within the depth
    // budget is copied verbatim: cheaper than re-serialising it.
    simdjson::dom::element e;
    if (try_json && ParseEmbeddedJson(v.s, kContentDepth, e)) {
      out_.append(v.s);
    } else {
      AppendString(v.s, out_);
    }
    return true;
  }
  return false;
}

std::string_view SpanWriter::WriteName(ObjectOut& o, std::string& tmp) {
  std::string_view name = ValidUtf8(span_.name, tmp);
  std::string_view name_overflow;
  if (name.empty()) name = "(unnamed)";
  if (name.size() > kMaxNameBytes) {
    name_overflow = name;
    name = Utf8Prefix(name, kMaxNameBytes);
  }
  o.Key("name");
  AppendString(name, out_);
  return name_overflow;
}

SpanWriter::ModelAndProvider SpanWriter::FindModelAndProvider() {
  ModelAndProvider m;
  m.has_model = FirstString(
      {Attr::kLfModelName, Attr::kGenAiResponseModel, Attr::kGenAiRequestModel, Attr::kLlmModelName}, m.model);
  for (Attr a : {Attr::kGenAiProviderName, Attr::kGenAiSystem, Attr::kLlmProvider, Attr::kLlmSystem}) {
    int32_t idx = Slot(slot_, a);
    if (ShortString(idx, m.provider)) {
      m.provider = NormalizeProvider(m.provider);
      Use(idx);
      break;
    }
  }
  // Braintrust carries both in braintrust.metadata (its pricing reads
  // metadata.model); taken from there only when no other convention has them.
  if (int32_t idx = Slot(slot_, Attr::kBtMetadata); idx >= 0 && V(idx).kind == ValueKind::kString) {
    simdjson::dom::element e;
    std::string_view v;
    if (ParseEmbeddedJson(V(idx).s, kEmbeddedDepth, e) && e.type() == simdjson::dom::element_type::OBJECT) {
      if (!m.has_model && e["model"].get(v) == simdjson::SUCCESS && !v.empty() && v.size() <= kMaxShortBytes) {
        m.model.assign(v);
        m.has_model = bt_model_from_metadata_ = true;
      }
      if (m.provider.empty() && e["provider"].get(v) == simdjson::SUCCESS && !v.empty() && v.size() <= kMaxShortBytes) {
        m.provider = NormalizeProvider(v);
        bt_provider_from_metadata_ = true;
      }
    }
  }
  return m;
}

void SpanWriter::WriteTimes(ObjectOut& o) {
  uint64_t start = span_.start_time_unix_nano, end = span_.end_time_unix_nano;
  start_ok_ = start != 0 && start <= kMaxTimeNs;
  end_ok_ = end != 0 && end <= kMaxTimeNs && (!start_ok_ || end >= start);
  if (start_ok_) {
    o.Key("start_time");
    out_.push_back('"');
    AppendRfc3339(static_cast<int64_t>(start), out_);
    out_.push_back('"');
  }
  if (end_ok_) {
    o.Key("end_time");
    out_.push_back('"');
    AppendRfc3339(static_cast<int64_t>(end), out_);
    out_.push_back('"');
  }
}

SpanWriter::Identity SpanWriter::CollectIdentity() {
  Identity id;
  CollectTags(id.tags);
  id.has_session = FirstString({Attr::kLfSessionId, Attr::kSessionId, Attr::kConversationId}, id.session);
  id.has_user = FirstString({Attr::kLfUserId, Attr::kUserId}, id.user);
  id.has_env = FirstString({Attr::kLfEnvironment, Attr::kBrokleEnvironment}, id.environment) ||
               ResourceString({"deployment.environment.name", "deployment.environment"}, id.environment);
  id.has_release = FirstString({Attr::kLfRelease, Attr::kBrokleRelease}, id.release) ||
                   ResourceString({"service.version"}, id.release);
  id.has_service = ResourceString({"service.name"}, id.service);
  return id;
}

void SpanWriter::WriteIdentity(ObjectOut& o, const Identity& id) {
  if (!id.tags.empty()) {
    o.Key("tags");
    out_.push_back('[');
    for (size_t i = 0; i < id.tags.size(); ++i) {
      if (i) out_.push_back(',');
      AppendString(id.tags[i], out_);
    }
    out_.push_back(']');
  }
  auto opt = [&](bool has, std::string_view k, const std::string& v) {
    if (!has) return;
    o.Key(k);
    AppendString(v, out_);
  };
  opt(id.has_session, "session_id", id.session);
  opt(id.has_user, "user_id", id.user);
  opt(id.has_env, "environment", id.environment);
  opt(id.has_release, "release", id.release);
  opt(id.has_service, "service", id.service);
}

void SpanWriter::Write() {
  Classify();
  out_.append("{\"trace_id\":");
  AppendHex(span_.trace_id, out_);
  out_.append(",\"span_id\":");
  AppendHex(span_.span_id, out_);
  ObjectOut o{out_, /*first=*/false};
  if (span_.parent_span_id.valid && span_.parent_span_id.len > 0 && !span_.parent_span_id.AllZero()) {
    o.Key("parent_span_id");
    AppendHex(span_.parent_span_id, out_);
  }
  std::string tmp;
  std::string_view name_overflow = WriteName(o, tmp);

  ModelAndProvider m = FindModelAndProvider();
  o.Key("type");
  out_.push_back('"');
  out_.append(DecideType(m.has_model));
  out_.push_back('"');
  WriteTimes(o);
  WriteStatus(o);
  if (m.has_model) {
    o.Key("model");
    AppendString(m.model, out_);
  }
  if (!m.provider.empty()) {
    o.Key("provider");
    AppendString(m.provider, out_);
  }
  WriteModelParameters(o);

  UsageInputs ui{pool_,
                 slot_.data(),
                 consumed_,
                 span_.attrs.begin,
                 m.provider == "anthropic",
                 InputTokensExcludeCache(scope_.name)};
  WriteUsageAndCost(ui, o, out_);

  // input/output: the first source present, in this order (docs/conventions.md).
  (void)(WriteContent(o, "input", {Attr::kLfInput, Attr::kGenAiInputMessages}) ||
         WriteIndexedMessages(o, "input", "llm.input_messages.", true) ||
         WriteContent(o, "input",
                      {Attr::kBtInputJson, Attr::kBtInput, Attr::kGenAiToolCallArguments, Attr::kInputValue}) ||
         WriteIndexedMessages(o, "input", "gen_ai.prompt.", false) || WriteContent(o, "input", {Attr::kGenAiPrompt}));
  (void)(WriteContent(o, "output", {Attr::kLfOutput, Attr::kGenAiOutputMessages}) ||
         WriteIndexedMessages(o, "output", "llm.output_messages.", true) ||
         WriteContent(o, "output",
                      {Attr::kBtOutputJson, Attr::kBtOutput, Attr::kGenAiToolCallResult, Attr::kOutputValue}) ||
         WriteIndexedMessages(o, "output", "gen_ai.completion.", false) ||
         WriteContent(o, "output", {Attr::kGenAiCompletion}));
  WriteContent(o, "expected", {Attr::kBtExpected, Attr::kSvExpected});
  WriteScoresAndMetrics(o);

  Identity id = CollectIdentity();
  WriteAttributes(o, name_overflow);
  WriteIdentity(o, id);
  out_.push_back('}');
}

std::string IdProblem(const Id& id, size_t want) {
  if (!id.valid) return "is not hex";
  if (id.len != want) return "is " + std::to_string(id.len) + " bytes (want " + std::to_string(want) + ")";
  if (id.AllZero()) return "is all zero";
  return {};
}

}  // namespace internal

using internal::IdProblem;
using internal::kMaxReasons;
using internal::SpanWriter;

void RejectSpan(MappedSpans& out, std::string_view name, std::string_view reason) {
  ++out.rejected;
  if (out.rejected > kMaxReasons) return;
  if (!out.error_message.empty()) out.error_message.append("; ");
  std::string tmp;
  out.error_message.append("span \"").append(Utf8Prefix(ValidUtf8(name, tmp), 64)).append("\": ").append(reason);
}

void SpanMapper::Map(const Pool& pool, const ResourceData& resource, const ScopeData& scope, const SpanData& span,
                     MappedSpans& out) {
  if (!span.reject_reason.empty()) return RejectSpan(out, span.name, span.reject_reason);
  if (std::string p = IdProblem(span.trace_id, 16); !p.empty()) return RejectSpan(out, span.name, "trace_id " + p);
  if (std::string p = IdProblem(span.span_id, 8); !p.empty()) return RejectSpan(out, span.name, "span_id " + p);
  size_t limit = limits_.max_span_bytes == 0 ? SIZE_MAX : limits_.max_span_bytes;
  if (limits_.max_output_bytes > 0) {
    if (out.written_bytes >= limits_.max_output_bytes) {
      return RejectSpan(out, span.name,
                        "the request maps to more than " + std::to_string(limits_.max_output_bytes) +
                            " bytes of spans (a multiple of its body); send fewer spans or attributes per request");
    }
    limit = std::min(limit, limits_.max_output_bytes - out.written_bytes);
  }
  std::string json;
  json.reserve(std::min<size_t>(limit, span.encoded_size ? span.encoded_size + span.encoded_size / 2 + 512 : 2048));
  SpanWriter w(pool, resource, scope, span, consumed_, resource_consumed_, json);
  w.limit_ = limit;
  w.Write();
  out.written_bytes += json.size();
  if (w.Full()) {
    if (limits_.max_span_bytes > 0 && json.size() > limits_.max_span_bytes) {
      return RejectSpan(out, span.name,
                        "span is larger than " + std::to_string(limits_.max_span_bytes) +
                            " bytes once mapped (ingest.max_span_bytes)");
    }
    return RejectSpan(out, span.name,
                      "the request maps to more than " + std::to_string(limits_.max_output_bytes) +
                          " bytes of spans (a multiple of its body); send fewer spans or attributes per request");
  }
  out.spans.push_back(std::move(json));
}

uint32_t CapAttributes(AttrRange& range, uint32_t max, MappedSpans& out) {
  if (max == 0 || range.end - range.begin <= max) return 0;
  uint32_t dropped = range.end - range.begin - max;
  range.end = range.begin + max;
  out.dropped_attributes += dropped;
  return dropped;
}

void CapSpanAttributes(SpanData& span, uint32_t max, MappedSpans& out) {
  span.limit_dropped_attributes += CapAttributes(span.attrs, max, out);
  for (EventData& e : span.events) CapAttributes(e.attrs, max, out);
  for (LinkData& l : span.links) CapAttributes(l.attrs, max, out);
}

void CapValue(AnyValue& v, size_t max, MappedSpans& out) {
  if (max == 0 || v.s.size() <= max) return;
  switch (v.kind) {
    case ValueKind::kString:
      v.s = Utf8Prefix(v.s, max);  // an invalid tail is repaired when written
      break;
    case ValueKind::kBytes:
      v.s = v.s.substr(0, max);
      break;
    case ValueKind::kBase64:
      v.s = v.s.substr(0, max - max % 4);  // whole base64 quads
      break;
    default:
      return;
  }
  ++out.truncated_values;
}

}  // namespace spanvault::otlp
