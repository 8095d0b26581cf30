// The attributes per dialect (contract: export_span.h, otlp_export.h; the
// tables per convention with what is read and written: docs/conventions.md).
//
// G = the GenAI block, written for otel, langfuse, braintrust and brokle.
//
//   G   gen_ai.provider.name ← provider; gen_ai.operation.name ← the name the
//       span arrived with when it names its type, else the type's (generation
//       chat, embedding embeddings, retrieval retrieval, tool execute_tool,
//       agent invoke_agent; langfuse: only for generations and embeddings);
//       gen_ai.request.model and gen_ai.response.model ← model;
//       gen_ai.request.<k> ← model_parameters.<k> (stop → stop_sequences,
//       n → choice.count); gen_ai.usage.input_tokens (inclusive of cache, as
//       stored), output_tokens (inclusive of reasoning),
//       cache_read.input_tokens, cache_creation.input_tokens,
//       reasoning.output_tokens (brokle: input_tokens.cache_read,
//       input_tokens.cache_creation, reasoning_tokens); gen_ai.conversation.id
//       ← session_id; gen_ai.tool.name ← attributes gen_ai.tool.name or
//       tool.name, else name, for tools; spanvault.cost.{total,input,output,
//       cache_read,cache_write,reasoning,request} (double, in cost.currency,
//       USD unless spanvault.cost.currency says otherwise),
//       spanvault.cost.source, spanvault.cost.price_id
//   all user.id, session.id, spanvault.span.type, error.type, spanvault.*_id for
//       opaque ids
//   otel, brokle: gen_ai.input.messages / gen_ai.output.messages when input /
//       output are chat messages (arrays of objects with "role", passed as
//       the app gave them), else input.value / output.value with
//       input.mime_type / output.mime_type (otel tool spans:
//       gen_ai.tool.call.arguments / .result); spanvault.tags (brokle:
//       brokle.tags), spanvault.expected, spanvault.score.<k>,
//       spanvault.metric.<k>, spanvault.usage.total_tokens; user attributes
//       flattened. brokle adds brokle.span.type, brokle.span.level (ERROR,
//       else a Langfuse or Brokle level kept in attributes),
//       brokle.environment, brokle.release.
//   langfuse: langfuse.observation.{type, model.name, model.parameters,
//       usage_details, cost_details, input, output, metadata.<k>, level,
//       status_message}, langfuse.session.id, langfuse.user.id,
//       langfuse.environment, langfuse.release, langfuse.trace.tags;
//       attributes named langfuse.* under their own names (prompt linking,
//       completion_start_time, version, trace name/metadata);
//       spanvault.expected/score/metric as for otel. usage_details uses
//       Langfuse's exclusive buckets, the way its own SDK integrations
//       report them: input = input − cache_read − cache_write, output =
//       output − reasoning, input_cached_tokens (input_cache_read for
//       Anthropic models), input_cache_creation, output_reasoning_tokens,
//       total (Langfuse sums every key containing "input"/"output" in its
//       UI, so inclusive counts would count twice). cost_details: the same
//       buckets from cost (already exclusive), USD only.
//   braintrust: braintrust.{span_attributes {name,type}, input_json,
//       output_json, expected, metadata {model, provider, a child's tags,
//       model_parameters…, attributes…}, metrics {prompt_tokens,
//       completion_tokens, tokens, prompt_cached_tokens,
//       prompt_cache_creation_tokens, completion_reasoning_tokens,
//       estimated_cost, metrics…}, scores, tags (root spans only)}.
//   openinference: export_openinference.cc.
//
// Input/output payloads are written once, under the name the backend reads.
#include <algorithm>
#include <deque>
#include <initializer_list>

#include "common/util.h"
#include "upstream/format/export_attrs.h"

namespace spanvault::otlp::export_detail {
namespace {

void SpanvaultCost(const Cost& cost, Attrs& a) {
  if (!cost.present) return;
  a.Dbl("spanvault.cost.total", cost.total);
  a.Dbl("spanvault.cost.input", cost.input);
  a.Dbl("spanvault.cost.output", cost.output);
  a.Dbl("spanvault.cost.cache_read", cost.cache_read);
  a.Dbl("spanvault.cost.cache_write", cost.cache_write);
  a.Dbl("spanvault.cost.reasoning", cost.reasoning);
  a.Dbl("spanvault.cost.request", cost.request);
  if (!cost.usd()) a.Str("spanvault.cost.currency", cost.currency);
  if (!cost.source.empty()) a.Str("spanvault.cost.source", cost.source);
  if (!cost.price_id.empty()) a.Str("spanvault.cost.price_id", cost.price_id);
}

void GenAi(const Canon& c, Dialect d, Attrs& a) {
  if (!c.provider.empty()) a.Str("gen_ai.provider.name", c.provider);
  // Langfuse's OTel ingestion treats a span with an operation other than a
  // model call (invoke_agent, execute_tool, ...) as span-like and drops its
  // model, usage and cost; langfuse.observation.type says the type there.
  const bool model_call = c.type == Type::kGeneration || c.type == Type::kEmbedding;
  if (std::string_view op = OperationName(c); !op.empty() && (d != Dialect::kLangfuse || model_call)) {
    a.Str("gen_ai.operation.name", op);
  }
  if (!c.model.empty()) {
    a.Str("gen_ai.request.model", c.model);
    a.Str("gen_ai.response.model", c.model);
  }
  if (c.type == Type::kTool) a.Str("gen_ai.tool.name", ToolName(c));
  if (c.model_parameters) {
    for (auto [k, v] : simdjson::dom::object(*c.model_parameters)) {
      std::string_view name = k == "stop" ? "stop_sequences" : k == "n" ? "choice.count" : k;
      a.Value(a.Key("gen_ai.request.", name), v);
    }
  }
  const Usage& u = c.usage;
  a.Int("gen_ai.usage.input_tokens", u.input);
  a.Int("gen_ai.usage.output_tokens", u.output);
  if (d == Dialect::kBrokle) {
    // Brokle's own names (sdk/ATTRIBUTE_MAPPING.md); input_tokens includes them.
    a.Int("gen_ai.usage.input_tokens.cache_read", u.cache_read);
    a.Int("gen_ai.usage.input_tokens.cache_creation", u.cache_write);
    a.Int("gen_ai.usage.reasoning_tokens", u.reasoning);
  } else {
    a.Int("gen_ai.usage.cache_read.input_tokens", u.cache_read);
    a.Int("gen_ai.usage.cache_creation.input_tokens", u.cache_write);
    a.Int("gen_ai.usage.reasoning.output_tokens", u.reasoning);
  }
  if (!c.session_id.empty()) a.Str("gen_ai.conversation.id", c.session_id);
  SpanvaultCost(c.cost, a);
}

// What every dialect carries.
void Common(const Canon& c, const SpanIds& ids, const TypeInfo& t, Attrs& a) {
  if (!c.user_id.empty()) a.Str("user.id", c.user_id);
  if (!c.session_id.empty()) a.Str("session.id", c.session_id);
  a.Str("spanvault.span.type", t.name);
  Exception ex;
  if (ExceptionOf(c, ex) && !ex.type.empty()) a.Str("error.type", ex.type);
  if (ids.trace_opaque) a.Str("spanvault.trace_id", c.trace_id);
  if (ids.span_opaque) a.Str("spanvault.span_id", c.span_id);
  if (ids.parent_opaque) a.Str("spanvault.parent_span_id", c.parent_span_id);
}

// expected, scores and metrics for dialects without a place of their own.
}  // namespace

void Extras(const Canon& c, Attrs& a) {
  if (c.expected) a.Json("spanvault.expected", *c.expected);
  if (c.scores) {
    for (auto [k, v] : simdjson::dom::object(*c.scores)) a.Value(a.Key("spanvault.score.", k), v);
  }
  if (c.metrics) {
    for (auto [k, v] : simdjson::dom::object(*c.metrics)) a.Value(a.Key("spanvault.metric.", k), v);
  }
}

namespace {

void Flatten(Attrs& a, std::string& path, element v, int depth) {
  if (v.is_object() && depth < 8) {
    const size_t len = path.size();
    for (auto [k, x] : simdjson::dom::object(v)) {
      path.resize(len);
      if (len > 0) path.push_back('.');
      path.append(k);
      Flatten(a, path, x, depth + 1);
    }
    path.resize(len);
    return;
  }
  if (!v.is_null()) a.Value(a.Key(path, ""), v);
}

// otel and brokle: GenAI messages (tool calls: gen_ai.tool.call.arguments and
// .result) or input.value, tags, extras, flattened attributes.
void OtelRest(const Canon& c, Dialect d, Attrs& a) {
  const bool tool_call = d == Dialect::kOtel && c.type == Type::kTool;
  if (c.input) {
    if (tool_call) {
      a.Text("gen_ai.tool.call.arguments", *c.input);
    } else if (IsMessages(*c.input)) {
      a.Json("gen_ai.input.messages", *c.input);
    } else {
      a.Payload("input.value", "input.mime_type", *c.input);
    }
  }
  if (c.output) {
    if (tool_call) {
      a.Text("gen_ai.tool.call.result", *c.output);
    } else if (IsMessages(*c.output)) {
      a.Json("gen_ai.output.messages", *c.output);
    } else if (IsMessage(*c.output)) {
      std::string& j = a.Build();
      j.push_back('[');
      AppendElement(*c.output, j);
      j.push_back(']');
      a.Str("gen_ai.output.messages", j);
    } else {
      a.Payload("output.value", "output.mime_type", *c.output);
    }
  }
  if (c.tags) a.Array(d == Dialect::kBrokle ? "brokle.tags" : "spanvault.tags", *c.tags);
  a.Int("spanvault.usage.total_tokens", c.usage.total);
  Extras(c, a);
  if (c.attributes) {
    std::string path;
    Flatten(a, path, *c.attributes, 0);
  }
}

void Langfuse(const Canon& c, const TypeInfo& t, Attrs& a) {
  a.Str("langfuse.observation.type", t.langfuse);
  if (!c.model.empty()) a.Str("langfuse.observation.model.name", c.model);
  if (c.model_parameters) a.Json("langfuse.observation.model.parameters", *c.model_parameters);
  const Usage& u = c.usage;
  const LangfuseKeys keys = LangfuseKeysFor(c);
  if (u.any()) {
    JsonObject o(a.Build());
    WriteLangfuseUsage(u, keys, o);
    a.Str("langfuse.observation.usage_details", o.Close());
  }
  const Cost& k = c.cost;
  if (k.present && k.usd()) {
    JsonObject o(a.Build());
    WriteLangfuseCost(k, keys, o);
    if (!o.empty()) a.Str("langfuse.observation.cost_details", o.Close());
  }
  if (c.input) a.Text("langfuse.observation.input", *c.input);
  if (c.output) a.Text("langfuse.observation.output", *c.output);
  if (c.attributes) {
    // Langfuse's own attributes that have no canonical field (prompt name
    // and version, completion_start_time, langfuse.version, trace name,
    // input/output and metadata, ...) go back under their own names, where
    // Langfuse reads them; the rest is metadata.
    for (auto [key, v] : simdjson::dom::object(*c.attributes)) {
      if (key.starts_with("langfuse.")) {
        a.Value(key, v);
      } else {
        a.Text(a.Key("langfuse.observation.metadata.", key), v);
      }
    }
  }
  // Braintrust's time_to_first_token as Langfuse's completion start.
  if (StringAttribute(c, "langfuse.observation.completion_start_time").empty()) {
    if (auto ns = CompletionStartNs(c)) {
      std::string& t = a.Build();
      AppendRfc3339(*ns, t);
      a.Str("langfuse.observation.completion_start_time", t);
    }
  }
  if (!c.session_id.empty()) a.Str("langfuse.session.id", c.session_id);
  if (!c.user_id.empty()) a.Str("langfuse.user.id", c.user_id);
  if (!c.environment.empty()) a.Str("langfuse.environment", c.environment);
  if (!c.release.empty()) a.Str("langfuse.release", c.release);
  if (c.error) {
    a.Str("langfuse.observation.level", "ERROR");
    if (std::string_view m = StatusMessage(c); !m.empty()) a.Str("langfuse.observation.status_message", m);
  } else if (std::string_view level = LevelOf(c); !level.empty()) {
    a.Str("langfuse.observation.level", level);
  }
  if (c.tags) a.Array("langfuse.trace.tags", *c.tags);
  Extras(c, a);
}

void Braintrust(const Canon& c, const TypeInfo& t, Attrs& a) {
  {
    JsonObject o(a.Build());
    o.Str("name", c.name);
    o.Str("type", t.braintrust);
    a.Str("braintrust.span_attributes", o.Close());
  }
  if (c.input) a.Json("braintrust.input_json", *c.input);
  if (c.output) a.Json("braintrust.output_json", *c.output);
  if (c.expected) a.Json("braintrust.expected", *c.expected);
  {
    // Braintrust prices LLM spans by metadata.model.
    JsonObject o(a.Build());
    std::vector<std::string_view> keys;
    auto add = [&](std::string_view k, element v) {
      if (std::find(keys.begin(), keys.end(), k) != keys.end()) return;
      keys.push_back(k);
      o.Elem(k, v);
    };
    if (!c.model.empty()) o.Str("model", c.model), keys.push_back("model");
    if (!c.provider.empty()) o.Str("provider", c.provider), keys.push_back("provider");
    // Braintrust takes tags on a trace's root span only (its SDKs refuse
    // them elsewhere): a child's tags are kept in its metadata.
    if (c.tags && c.has_parent) add("tags", *c.tags);
    if (c.model_parameters) {
      for (auto [k, v] : simdjson::dom::object(*c.model_parameters)) add(k, v);
    }
    if (c.attributes) {
      for (auto [k, v] : simdjson::dom::object(*c.attributes)) add(k, v);
    }
    if (!o.empty()) a.Str("braintrust.metadata", o.Close());
  }
  {
    JsonObject o(a.Build());
    WriteBraintrustMetrics(c, o);
    if (!o.empty()) a.Str("braintrust.metrics", o.Close());
  }
  if (c.scores) a.Json("braintrust.scores", *c.scores);
  if (c.tags && !c.has_parent) a.Array("braintrust.tags", *c.tags);
}

}  // namespace

void MapAttributes(const Canon& c, const SpanIds& ids, Dialect d, AttrSink& sink) {
  Attrs a(sink);
  const TypeInfo& t = kTypes[static_cast<size_t>(c.type)];
  switch (d) {
    case Dialect::kOtel:
      GenAi(c, d, a);
      Common(c, ids, t, a);
      OtelRest(c, d, a);
      break;
    case Dialect::kBrokle:
      a.Str("brokle.span.type", t.brokle);
      if (c.error) {
        a.Str("brokle.span.level", "ERROR");
      } else if (std::string_view level = LevelOf(c); !level.empty()) {
        a.Str("brokle.span.level", level);
      }
      if (!c.environment.empty()) a.Str("brokle.environment", c.environment);
      if (!c.release.empty()) a.Str("brokle.release", c.release);
      GenAi(c, d, a);
      Common(c, ids, t, a);
      OtelRest(c, d, a);
      break;
    case Dialect::kLangfuse:
      Langfuse(c, t, a);
      GenAi(c, d, a);
      Common(c, ids, t, a);
      break;
    case Dialect::kBraintrust:
      Braintrust(c, t, a);
      GenAi(c, d, a);
      Common(c, ids, t, a);
      break;
    case Dialect::kOpenInference:
      OpenInference(c, t, a);
      Common(c, ids, t, a);
      break;
  }
}

}  // namespace spanvault::otlp::export_detail
