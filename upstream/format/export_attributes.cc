// The attributes per dialect (contract: export_span.h, otlp_export.h).
//
// G = the GenAI block, written for otel, langfuse, braintrust and brokle.
//
//   G   gen_ai.provider.name ← provider; gen_ai.operation.name ← type
//       (generation chat, embedding embeddings, tool execute_tool, agent
//       invoke_agent); gen_ai.request.model and gen_ai.response.model ← model;
//       gen_ai.request.<k> ← model_parameters.<k> (stop → stop_sequences,
//       n → choice.count); gen_ai.usage.input_tokens (inclusive of cache, as
//       stored), output_tokens (inclusive of reasoning),
//       cache_read.input_tokens, cache_creation.input_tokens,
//       reasoning.output_tokens; gen_ai.conversation.id ← session_id;
//       gen_ai.tool.name ← name for tools; spanvault.cost.{total,input,output,
//       cache_read,cache_write,reasoning,request} (double, in cost.currency,
//       USD unless spanvault.cost.currency says otherwise),
//       spanvault.cost.source, spanvault.cost.price_id
//   all user.id, session.id, spanvault.span.type, error.type, spanvault.*_id for
//       opaque ids
//   otel, brokle: gen_ai.input.messages / gen_ai.output.messages when input /
//       output are chat messages (arrays of objects with "role", passed as
//       the app gave them), else input.value / output.value with
//       input.mime_type / output.mime_type; spanvault.tags,
//       spanvault.expected, spanvault.score.<k>, spanvault.metric.<k>,
//       spanvault.usage.total_tokens; user attributes flattened.
//       brokle adds brokle.span.type and brokle.span.level = ERROR.
//   langfuse: langfuse.observation.{type, model.name, model.parameters,
//       usage_details, cost_details, input, output, metadata.<k>, level,
//       status_message}, langfuse.session.id, langfuse.user.id,
//       langfuse.environment, langfuse.release, langfuse.trace.tags;
//       spanvault.expected/score/metric as for otel. usage_details uses
//       Langfuse's exclusive buckets, the way its own SDK integrations
//       report them: input = input − cache_read − cache_write, output =
//       output − reasoning, input_cache_read, input_cache_creation,
//       output_reasoning, total (Langfuse sums every key containing
//       "input"/"output" in its UI, so inclusive counts would count twice).
//       cost_details: the same buckets from cost (already exclusive), USD only.
//   braintrust: braintrust.{span_attributes {name,type}, input_json,
//       output_json, expected, metadata {model, provider, model_parameters…,
//       attributes…}, metrics {prompt_tokens, completion_tokens, tokens,
//       prompt_cached_tokens, prompt_cache_creation_tokens,
//       completion_reasoning_tokens, estimated_cost, metrics…}, scores, tags}.
//   openinference: openinference.span.kind, llm.model_name, llm.provider,
//       llm.system, llm.invocation_parameters, llm.token_count.{prompt,
//       completion, total, prompt_details.cache_read, prompt_details.cache_write,
//       completion_details.reasoning}, llm.cost.{total, prompt, completion,
//       prompt_details.input/cache_read/cache_write,
//       completion_details.output/reasoning} (USD only), embedding.model_name,
//       tool.name, input.value/output.value (+ mime types), metadata (JSON of
//       the attributes), tag.tags, spanvault.expected/score/metric.
//
// Input/output payloads are written once, under the name the backend reads.
#include <algorithm>
#include <deque>
#include <initializer_list>

#include "upstream/format/export_span.h"

namespace spanvault::otlp::export_detail {
namespace {

using simdjson::dom::element_type;

std::optional<double> Number(element v) {
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
  static thread_local std::vector<std::string_view> seen_;
  static thread_local std::deque<std::string> arena_;
  static thread_local size_t used_;
  static thread_local std::string json_, build_;
};

thread_local std::vector<std::string_view> Attrs::seen_;
thread_local std::deque<std::string> Attrs::arena_;
thread_local size_t Attrs::used_ = 0;
thread_local std::string Attrs::json_, Attrs::build_;

bool IsMessage(element v) { return v.is_object() && v["role"].error() == simdjson::SUCCESS; }

bool IsMessages(element v) {
  if (!v.is_array()) return false;
  bool any = false;
  for (element e : simdjson::dom::array(v)) {
    if (!IsMessage(e)) return false;
    any = true;
  }
  return any;
}

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
void Extras(const Canon& c, Attrs& a) {
  if (c.expected) a.Json("spanvault.expected", *c.expected);
  if (c.scores) {
    for (auto [k, v] : simdjson::dom::object(*c.scores)) a.Value(a.Key("spanvault.score.", k), v);
  }
  if (c.metrics) {
    for (auto [k, v] : simdjson::dom::object(*c.metrics)) a.Value(a.Key("spanvault.metric.", k), v);
  }
}

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
  if (!c.session_id.empty()) a.Str("langfuse.session.id", c.session_id);
  if (!c.user_id.empty()) a.Str("langfuse.user.id", c.user_id);
  if (!c.environment.empty()) a.Str("langfuse.environment", c.environment);
  if (!c.release.empty()) a.Str("langfuse.release", c.release);
  if (c.error) {
    a.Str("langfuse.observation.level", "ERROR");
    if (std::string_view m = StatusMessage(c); !m.empty()) a.Str("langfuse.observation.status_message", m);
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

// gen_ai.provider.name → OpenInference llm.provider and llm.system (the
// values its SDKs use); others pass through.
struct OiProvider {
  std::string_view genai, provider, system;
};
constexpr OiProvider kOiProviders[] = {
    {"aws.bedrock", "aws", "aws.bedrock"},    {"gcp.vertex_ai", "google", "vertexai"},
    {"gcp.gemini", "google", "vertexai"},     {"gcp.gen_ai", "google", "vertexai"},
    {"azure.ai.openai", "azure", "openai"},   {"azure.ai.inference", "azure", "azure.ai.inference"},
    {"mistral_ai", "mistralai", "mistralai"}, {"x_ai", "xai", "xai"},
};

// OpenInference span kinds and the canonical type each means (PROMPT and
// UNKNOWN mean none: such spans are plain spans).
struct OiKind {
  std::string_view kind;
  std::optional<Type> type;
};
constexpr OiKind kOiKinds[] = {
    {"LLM", Type::kGeneration},     {"EMBEDDING", Type::kEmbedding}, {"RETRIEVER", Type::kRetrieval},
    {"RERANKER", Type::kRetrieval}, {"TOOL", Type::kTool},           {"AGENT", Type::kAgent},
    {"CHAIN", Type::kChain},        {"GUARDRAIL", Type::kGuardrail}, {"EVALUATOR", Type::kEvaluator},
    {"PROMPT", std::nullopt},       {"UNKNOWN", std::nullopt},
};

// The kind the span arrived with when it still says the span's type
// (RERANKER, PROMPT survive a round trip), else the type's own.
std::string_view OiSpanKind(const Canon& c, const TypeInfo& t) {
  std::string_view sent = StringAttribute(c, "openinference.span.kind");
  for (const OiKind& k : kOiKinds) {
    if (k.kind != sent) continue;
    if (k.type ? *k.type == c.type : c.type == Type::kSpan) return sent;
  }
  return t.openinference;
}

// The attributes of OpenInference's own namespaces, written back under their
// names rather than into `metadata`.
bool OiOwn(std::string_view k) {
  for (std::string_view p : {"openinference.", "llm.", "embedding.", "retrieval.", "reranker.", "tool.", "tool_call.",
                             "input.", "output.", "document.", "prompt."}) {
    if (k.starts_with(p)) return true;
  }
  return false;
}

// One message as llm.{input,output}_messages.N.message.*: role, name,
// tool_call_id, content (a string) or contents.M.message_content.{type,text,
// image.url}, tool_calls.M.tool_call.{id, function.name, function.arguments}.
void OiMessage(std::string_view prefix, size_t n, element m, Attrs& a) {
  std::string base(prefix);
  base += std::to_string(n);
  base += ".message.";
  for (auto [k, v] : simdjson::dom::object(m)) {
    if ((k == "contents" || k == "content") && v.is_array()) {
      size_t j = 0;
      for (element part : simdjson::dom::array(v)) {
        std::string p = base + "contents." + std::to_string(j++) + ".message_content.";
        if (part.is_string()) {
          a.Str(a.Key(p, "text"), std::string_view(part));
          a.Str(a.Key(p, "type"), "text");
          continue;
        }
        if (!part.is_object()) continue;
        for (auto [pk, pv] : simdjson::dom::object(part)) a.Value(a.Key(p, pk), pv);
      }
    } else if (k == "tool_calls" && v.is_array()) {
      size_t j = 0;
      for (element call : simdjson::dom::array(v)) {
        std::string p = base + "tool_calls." + std::to_string(j++) + ".tool_call.";
        if (!call.is_object()) continue;
        for (auto [ck, cv] : simdjson::dom::object(call)) {
          if (cv.is_object()) {
            for (auto [fk, fv] : simdjson::dom::object(cv)) a.Text(a.Key(p + std::string(ck) + ".", fk), fv);
          } else {
            a.Text(a.Key(p, ck), cv);
          }
        }
      }
    } else {
      a.Text(a.Key(base, k), v);
    }
  }
}

void OiMessages(std::string_view prefix, element v, Attrs& a) {
  if (IsMessage(v)) return OiMessage(prefix, 0, v, a);
  size_t n = 0;
  for (element m : simdjson::dom::array(v)) OiMessage(prefix, n++, m, a);
}

void OpenInference(const Canon& c, const TypeInfo& t, Attrs& a) {
  a.Str("openinference.span.kind", OiSpanKind(c, t));
  if (!c.model.empty()) {
    a.Str("llm.model_name", c.model);
    if (c.type == Type::kEmbedding) a.Str("embedding.model_name", c.model);
  }
  if (!c.provider.empty()) {
    std::string_view provider = c.provider, system = c.provider;
    for (const auto& p : kOiProviders) {
      if (p.genai == c.provider) provider = p.provider, system = p.system;
    }
    a.Str("llm.provider", provider);
    a.Str("llm.system", system);
  }
  if (c.model_parameters) a.Json("llm.invocation_parameters", *c.model_parameters);
  const Usage& u = c.usage;
  a.Int("llm.token_count.prompt", u.input);
  a.Int("llm.token_count.completion", u.output);
  if (u.any()) a.Int("llm.token_count.total", u.Total());
  a.Int("llm.token_count.prompt_details.cache_read", u.cache_read);
  a.Int("llm.token_count.prompt_details.cache_write", u.cache_write);
  a.Int("llm.token_count.completion_details.reasoning", u.reasoning);
  const Cost& k = c.cost;
  if (k.present && k.usd()) {
    auto sum = [](std::initializer_list<std::optional<double>> parts) -> std::optional<double> {
      std::optional<double> s;
      for (auto p : parts) {
        if (p) s = s.value_or(0) + *p;
      }
      return s;
    };
    a.Dbl("llm.cost.total", k.total);
    a.Dbl("llm.cost.prompt", sum({k.input, k.cache_read, k.cache_write}));
    a.Dbl("llm.cost.completion", sum({k.output, k.reasoning}));
    a.Dbl("llm.cost.prompt_details.input", k.input);
    a.Dbl("llm.cost.prompt_details.cache_read", k.cache_read);
    a.Dbl("llm.cost.prompt_details.cache_write", k.cache_write);
    a.Dbl("llm.cost.completion_details.output", k.output);
    a.Dbl("llm.cost.completion_details.reasoning", k.reasoning);
  }
  if (c.type == Type::kTool) a.Str("tool.name", ToolName(c));
  // Chat messages as llm.input_messages / llm.output_messages (what Phoenix
  // renders as a conversation); input.value keeps the raw value the span
  // arrived with when it has one, else the same payload as JSON.
  if (c.input) {
    if (IsMessages(*c.input)) OiMessages("llm.input_messages.", *c.input, a);
    if (auto raw = AttributeOf(c, "input.value"); raw && raw->is_string()) {
      a.Str("input.value", std::string_view(*raw));
      a.Str("input.mime_type",
            StringAttribute(c, "input.mime_type").empty() ? "text/plain" : StringAttribute(c, "input.mime_type"));
    } else {
      a.Payload("input.value", "input.mime_type", *c.input);
    }
  }
  if (c.output) {
    if (IsMessages(*c.output) || IsMessage(*c.output)) OiMessages("llm.output_messages.", *c.output, a);
    if (auto raw = AttributeOf(c, "output.value"); raw && raw->is_string()) {
      a.Str("output.value", std::string_view(*raw));
      a.Str("output.mime_type",
            StringAttribute(c, "output.mime_type").empty() ? "text/plain" : StringAttribute(c, "output.mime_type"));
    } else {
      a.Payload("output.value", "output.mime_type", *c.output);
    }
  }
  if (c.attributes) {
    JsonObject o(a.Build());
    for (auto [key, v] : simdjson::dom::object(*c.attributes)) {
      if (OiOwn(key)) {
        a.Value(key, v);
      } else {
        o.Elem(key, v);
      }
    }
    if (!o.empty()) a.Str("metadata", o.Close());
  }
  if (c.tags) a.Array("tag.tags", *c.tags);
  Extras(c, a);
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
      if (c.error) a.Str("brokle.span.level", "ERROR");
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
