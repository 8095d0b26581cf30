// The OpenInference dialect's attributes (contract: export_span.h,
// otlp_export.h; table: docs/conventions.md):
//   openinference.span.kind (the kind the span arrived with when it still
//   says its type: RERANKER, PROMPT; else LLM, EMBEDDING, RETRIEVER, TOOL,
//   AGENT, CHAIN, GUARDRAIL, EVALUATOR), llm.model_name, llm.provider,
//   llm.system, llm.invocation_parameters, llm.token_count.{prompt,
//   completion, total, prompt_details.cache_read, prompt_details.cache_write,
//   completion_details.reasoning}, llm.cost.{total, prompt, completion,
//   prompt_details.input/cache_read/cache_write,
//   completion_details.output/reasoning} (USD only), embedding.model_name,
//   tool.name, llm.input_messages / llm.output_messages for chat messages,
//   input.value/output.value (+ mime types; the raw value the span arrived
//   with when it has one), the attributes of OpenInference's own namespaces
//   under their names, metadata (JSON of the other attributes), tag.tags,
//   spanvault.expected/score/metric.
#include <optional>
#include <string>

#include "upstream/format/export_attrs.h"

namespace spanvault::otlp::export_detail {
namespace {

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
    // GenAI messages carry `parts` ({type, content}); OpenInference's contents
    // are {type, text}.
    const bool parts = k == "parts";
    if ((k == "contents" || k == "content" || parts) && v.is_array()) {
      size_t j = 0;
      for (element part : simdjson::dom::array(v)) {
        std::string p = base + "contents." + std::to_string(j++) + ".message_content.";
        if (part.is_string()) {
          a.Str(a.Key(p, "text"), std::string_view(part));
          a.Str(a.Key(p, "type"), "text");
          continue;
        }
        if (!part.is_object()) continue;
        for (auto [pk, pv] : simdjson::dom::object(part)) {
          a.Value(a.Key(p, parts && pk == "content" ? std::string_view("text") : pk), pv);
        }
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

}  // namespace

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

}  // namespace spanvault::otlp::export_detail
