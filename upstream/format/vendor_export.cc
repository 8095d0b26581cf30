// Langfuse ingestion and Braintrust logs bodies (contract: vendor_export.h).
#include "upstream/format/vendor_export.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "common/util.h"
#include "upstream/format/export_span.h"

namespace spanvault::otlp {
namespace {

using export_detail::AppendElement;
using export_detail::AppendJsonDouble;
using export_detail::AppendJsonString;
using export_detail::Canon;
using export_detail::JsonObject;
using export_detail::Type;
using simdjson::dom::element;

// Parses each span in turn and hands it to `write`; errors name the index.
template <typename Write>
Status ForEachSpan(std::span<const std::string_view> spans, Write write) {
  for (size_t i = 0; i < spans.size(); ++i) {
    Canon c;
    if (Status st = export_detail::ParseCanon(spans[i], i, c); !st) return st;
    write(i, c);
  }
  return {};
}

void Time(JsonObject& o, std::string& out, std::string_view key, int64_t ns) {
  o.Key(key);
  out.push_back('"');
  AppendRfc3339(ns, out);
  out.push_back('"');
}

void Elem(JsonObject& o, std::string_view key, const std::optional<element>& v) {
  if (v && !v->is_null()) o.Elem(key, *v);
}

void NonEmpty(JsonObject& o, std::string_view key, std::string_view v) {
  if (!v.empty()) o.Str(key, v);
}

// ------------------------------------------------------------ Langfuse

struct LangfuseEvent {
  std::string_view event;  // "generation-create", ...
  std::string_view type;   // body.type for observation-create, else empty
};

LangfuseEvent LangfuseEventOf(Type t) {
  switch (t) {
    case Type::kGeneration:
      return {"generation-create", {}};
    case Type::kEvent:
      return {"event-create", {}};
    case Type::kSpan:
      return {"span-create", {}};
    case Type::kEmbedding:
      return {"observation-create", "EMBEDDING"};
    case Type::kRetrieval:
      return {"observation-create", "RETRIEVER"};
    case Type::kTool:
      return {"observation-create", "TOOL"};
    case Type::kAgent:
      return {"observation-create", "AGENT"};
    case Type::kChain:
      return {"observation-create", "CHAIN"};
    case Type::kGuardrail:
      return {"observation-create", "GUARDRAIL"};
    case Type::kEvaluator:
      return {"observation-create", "EVALUATOR"};
  }
  return {"span-create", {}};
}

void EventId(const Canon& c, std::string_view suffix, std::string& out) {
  out.assign(c.trace_id);
  out.push_back('.');
  out.append(c.span_id);
  out.push_back('.');
  out.append(suffix);
}

// Langfuse attributes (its OTel names, kept in `attributes` on ingest) that
// are fields of an ingestion event: observation fields, then trace fields.
constexpr std::string_view kLfPromptName = "langfuse.observation.prompt.name";
constexpr std::string_view kLfPromptVersion = "langfuse.observation.prompt.version";
constexpr std::string_view kLfCompletionStart = "langfuse.observation.completion_start_time";
constexpr std::string_view kLfVersion = "langfuse.version";
constexpr std::string_view kLfTraceName = "langfuse.trace.name";
constexpr std::string_view kLfTraceMetadata = "langfuse.trace.metadata";
constexpr std::string_view kLfFields[] = {kLfPromptName, kLfPromptVersion, kLfCompletionStart,
                                          kLfVersion,    kLfTraceName,     kLfTraceMetadata};

bool IsLangfuseField(std::string_view k) {
  return std::find(std::begin(kLfFields), std::end(kLfFields), k) != std::end(kLfFields);
}

// metadata: the span's attributes, plus what Langfuse has no field for on
// an observation (expected, scores, metrics, and the trace-level tags, user
// and session of a span that is not the root).
void LangfuseMetadata(JsonObject& o, std::string& out, const Canon& c, bool trace) {
  const bool extras = !trace && (c.expected || c.scores || c.metrics ||
                                 (c.has_parent && (c.tags || !c.user_id.empty() || !c.session_id.empty())));
  if (!c.attributes && !extras) return;
  o.Key("metadata");
  JsonObject m(out);
  if (c.attributes) {
    for (auto [k, v] : simdjson::dom::object(*c.attributes)) {
      if (!IsLangfuseField(k)) m.Elem(k, v);
    }
  }
  if (!trace) {
    Elem(m, "expected", c.expected);
    Elem(m, "scores", c.scores);
    Elem(m, "metrics", c.metrics);
    if (c.has_parent) {
      Elem(m, "tags", c.tags);
      NonEmpty(m, "user_id", c.user_id);
      NonEmpty(m, "session_id", c.session_id);
    }
  }
  m.Close();
}

void LangfuseUsage(JsonObject& o, std::string& out, const Canon& c) {
  if (!c.usage.any()) return;
  o.Key("usageDetails");
  JsonObject d(out);
  export_detail::WriteLangfuseUsage(c.usage, export_detail::LangfuseKeysFor(c), d);
  d.Close();
}

void LangfuseCost(JsonObject& o, std::string& out, const Canon& c) {
  if (!c.cost.present || !c.cost.usd()) return;
  o.Key("costDetails");
  JsonObject d(out);
  export_detail::WriteLangfuseCost(c.cost, export_detail::LangfuseKeysFor(c), d);
  d.Close();
}

// attributes[key] as the event field `field`: a string as it is; a prompt
// version given as a number stays a number.
void LangfuseField(JsonObject& o, const Canon& c, std::string_view field, std::string_view key) {
  auto v = export_detail::AttributeOf(c, key);
  if (!v || v->is_null()) return;
  if (field == "metadata" && v->is_string()) {
    // langfuse.trace.metadata arrives as JSON text.
    thread_local simdjson::dom::parser parser;
    thread_local std::string padded;
    padded.assign(std::string_view(*v));
    element parsed;
    if (parser.parse(padded).get(parsed) == simdjson::SUCCESS && parsed.is_object()) {
      o.Elem(field, parsed);
      return;
    }
  }
  if (field == "promptVersion" && v->is_string()) {
    // Langfuse's promptVersion is an integer; OTel attributes may carry it as text.
    std::string_view text(*v);
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) {
      o.Uint(field, n);
      return;
    }
  }
  o.Elem(field, *v);
}

void WriteLangfuseEvents(const Canon& c, std::string& id, std::string& out) {
  if (!c.has_parent) {
    if (out.back() != '[') out.push_back(',');
    JsonObject e(out);
    EventId(c, "trace", id);
    e.Str("id", id);
    e.Str("type", "trace-create");
    Time(e, out, "timestamp", c.start_ns);
    e.Key("body");
    JsonObject b(out);
    b.Str("id", c.trace_id);
    Time(b, out, "timestamp", c.start_ns);
    if (auto name = export_detail::StringAttribute(c, kLfTraceName); !name.empty()) {
      b.Str("name", name);
    } else {
      b.Str("name", c.name);
    }
    NonEmpty(b, "userId", c.user_id);
    NonEmpty(b, "sessionId", c.session_id);
    NonEmpty(b, "release", c.release);
    NonEmpty(b, "environment", c.environment);
    Elem(b, "input", c.input);
    Elem(b, "output", c.output);
    Elem(b, "tags", c.tags);
    if (export_detail::AttributeOf(c, kLfTraceMetadata)) {
      LangfuseField(b, c, "metadata", kLfTraceMetadata);
    } else {
      LangfuseMetadata(b, out, c, true);
    }
    b.Close();
    e.Close();
  }
  if (out.back() != '[') out.push_back(',');
  const LangfuseEvent kind = LangfuseEventOf(c.type);
  JsonObject e(out);
  EventId(c, "obs", id);
  e.Str("id", id);
  e.Str("type", kind.event);
  Time(e, out, "timestamp", c.start_ns);
  e.Key("body");
  JsonObject b(out);
  b.Str("id", c.span_id);
  b.Str("traceId", c.trace_id);
  if (!kind.type.empty()) b.Str("type", kind.type);
  if (c.has_parent) b.Str("parentObservationId", c.parent_span_id);
  b.Str("name", c.name);
  Time(b, out, "startTime", c.start_ns);
  if (c.type != Type::kEvent) Time(b, out, "endTime", c.end_ns);
  Elem(b, "input", c.input);
  Elem(b, "output", c.output);
  LangfuseMetadata(b, out, c, false);
  if (std::string_view level = export_detail::LevelOf(c); !c.error && !level.empty()) {
    b.Str("level", level);
  } else {
    b.Str("level", c.error ? "ERROR" : "DEFAULT");
  }
  if (std::string_view m = export_detail::StatusMessage(c); !m.empty()) b.Str("statusMessage", m);
  NonEmpty(b, "environment", c.environment);
  if (export_detail::AttributeOf(c, kLfVersion)) {
    LangfuseField(b, c, "version", kLfVersion);
  } else {
    NonEmpty(b, "version", c.release);
  }
  if (export_detail::AttributeOf(c, kLfCompletionStart)) {
    LangfuseField(b, c, "completionStartTime", kLfCompletionStart);
  } else if (auto ns = export_detail::CompletionStartNs(c)) {
    Time(b, out, "completionStartTime", *ns);  // from Braintrust's time_to_first_token
  }
  LangfuseField(b, c, "promptName", kLfPromptName);
  LangfuseField(b, c, "promptVersion", kLfPromptVersion);
  const bool model_fields = c.type != Type::kSpan && c.type != Type::kEvent;
  if (model_fields || !c.model.empty()) {
    NonEmpty(b, "model", c.model);
    Elem(b, "modelParameters", c.model_parameters);
    LangfuseUsage(b, out, c);
    LangfuseCost(b, out, c);
  }
  b.Close();
  e.Close();
}

// ------------------------------------------------------------ Braintrust

std::string_view BraintrustType(Type t) { return export_detail::kTypes[static_cast<size_t>(t)].braintrust; }

void WriteBraintrustRow(const Canon& c, std::string& out) {
  JsonObject r(out);
  r.Key("id");
  {
    std::string id(c.trace_id);
    id.push_back('.');
    id.append(c.span_id);
    AppendJsonString(id, out);
  }
  r.Str("span_id", c.span_id);
  r.Str("root_span_id", c.trace_id);
  if (c.span_parents) {
    r.Elem("span_parents", *c.span_parents);
  } else if (c.has_parent) {
    r.Key("span_parents");
    out.push_back('[');
    AppendJsonString(c.parent_span_id, out);
    out.push_back(']');
  }
  Elem(r, "input", c.input);
  Elem(r, "output", c.output);
  Elem(r, "expected", c.expected);
  if (c.error) {
    if (c.error_value) {
      r.Elem("error", *c.error_value);
    } else {
      r.Str("error", "error");
    }
  }
  Elem(r, "scores", c.scores);
  // Braintrust takes tags on a trace's root span only ("tags can only be
  // logged to the root span"; a child row with tags fails the whole
  // request): a child's tags go into its metadata.
  if (!c.has_parent) Elem(r, "tags", c.tags);
  {
    // Braintrust prices LLM rows by metadata.model.
    std::vector<std::string_view> keys;
    bool opened = false;
    std::optional<JsonObject> m;
    auto open = [&] {
      if (opened) return;
      opened = true;
      r.Key("metadata");
      m.emplace(out);
    };
    auto str = [&](std::string_view k, std::string_view v) {
      if (v.empty()) return;
      open();
      keys.push_back(k);
      m->Str(k, v);
    };
    str("model", c.model);
    str("provider", c.provider);
    if (c.has_parent && c.tags) {
      open();
      keys.push_back("tags");
      m->Elem("tags", *c.tags);
    }
    auto add_object = [&](const std::optional<element>& obj) {
      if (!obj) return;
      for (auto [k, v] : simdjson::dom::object(*obj)) {
        if (std::find(keys.begin(), keys.end(), k) != keys.end()) continue;
        open();
        keys.push_back(k);
        m->Elem(k, v);
      }
    };
    add_object(c.model_parameters);
    add_object(c.attributes);
    for (auto [k, v] : {std::pair{std::string_view("session_id"), c.session_id},
                        {"user_id", c.user_id},
                        {"environment", c.environment},
                        {"release", c.release},
                        {"service", c.service}}) {
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) str(k, v);
    }
    if (m) m->Close();
  }
  {
    r.Key("metrics");
    JsonObject m(out);
    m.Dbl("start", static_cast<double>(c.start_ns) / 1e9);
    m.Dbl("end", static_cast<double>(c.end_ns) / 1e9);
    export_detail::WriteBraintrustMetrics(c, m);
    m.Close();
  }
  {
    r.Key("span_attributes");
    JsonObject a(out);
    a.Str("name", c.name);
    a.Str("type", BraintrustType(c.type));
    a.Close();
  }
  r.Close();
}

bool Retryable(int status) { return status == 0 || status == 408 || status == 429 || status >= 500; }

}  // namespace

Status EncodeLangfuseIngestion(std::span<const std::string_view> spans, std::string& out) {
  const size_t start = out.size();
  out += R"({"batch":[)";
  std::string id;
  Status st = ForEachSpan(spans, [&](size_t, const Canon& c) { WriteLangfuseEvents(c, id, out); });
  if (!st) {
    out.resize(start);
    return st;
  }
  out += R"(],"metadata":{"sdk_name":"spanvault","sdk_version":")";
  out += SPANVAULT_VERSION;
  out += R"(","batch_size":)";
  out += std::to_string(spans.size());
  out += "}}";
  return {};
}

Status EncodeBraintrustLogs(std::span<const std::string_view> spans, std::string& out) {
  const size_t start = out.size();
  out += R"({"events":[)";
  Status st = ForEachSpan(spans, [&](size_t i, const Canon& c) {
    if (i > 0) out.push_back(',');
    WriteBraintrustRow(c, out);
  });
  if (!st) {
    out.resize(start);
    return st;
  }
  out += "]}";
  return {};
}

std::vector<SpanFailure> LangfuseIngestionFailures(std::span<const std::string_view> spans, std::string_view answer) {
  std::vector<SpanFailure> failures;
  thread_local simdjson::dom::parser parser;
  element root;
  if (parser.parse(answer.data(), answer.size()).get(root) != simdjson::SUCCESS || !root.is_object()) return failures;
  simdjson::dom::array errors;
  if (root["errors"].get(errors) != simdjson::SUCCESS || errors.size() == 0) return failures;
  struct Failed {
    std::string id;
    int status;
    std::string message;
  };
  std::vector<Failed> failed;
  for (element e : errors) {
    std::string_view id;
    if (!e.is_object() || e["id"].get(id) != simdjson::SUCCESS) continue;
    int64_t status = 0;
    if (e["status"].get(status) != simdjson::SUCCESS) status = 0;
    std::string message;
    std::string_view m;
    if (e["message"].get(m) == simdjson::SUCCESS) message.assign(m);
    element detail;
    if (e["error"].get(detail) == simdjson::SUCCESS && !detail.is_null()) {
      if (!message.empty()) message += ": ";
      if (detail.is_string()) {
        message.append(std::string_view(detail));
      } else {
        AppendElement(detail, message);
      }
    }
    if (message.size() > 1024) message.resize(1024);
    failed.push_back({std::string(id), static_cast<int>(status), std::move(message)});
  }
  // The event ids of the batch, back to span indexes (parsing the spans
  // again: this runs only for an answer with errors).
  std::unordered_map<std::string, size_t> index;
  std::string id;
  (void)ForEachSpan(spans, [&](size_t i, const Canon& c) {
    EventId(c, "obs", id);
    index.emplace(id, i);
    if (!c.has_parent) {
      EventId(c, "trace", id);
      index.emplace(id, i);
    }
  });
  for (auto& f : failed) {
    auto it = index.find(f.id);
    if (it == index.end()) continue;
    auto same =
        std::find_if(failures.begin(), failures.end(), [&](const SpanFailure& x) { return x.index == it->second; });
    if (same == failures.end()) {
      failures.push_back({it->second, f.status, std::move(f.message)});
    } else if (!Retryable(same->status) && Retryable(f.status)) {
      same->status = f.status;
      same->message = std::move(f.message);
    }
  }
  std::sort(failures.begin(), failures.end(),
            [](const SpanFailure& a, const SpanFailure& b) { return a.index < b.index; });
  return failures;
}

}  // namespace spanvault::otlp
