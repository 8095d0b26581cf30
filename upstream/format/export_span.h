// upstream/format/ — internals of the OTLP export (otlp_export.h is the contract):
//
//   export_span.cc        canonical span JSON → Canon (the fields the export
//                         reads), OTLP ids, the error → exception event rule
//   export_attributes.cc  Canon → the attributes of a dialect, written into an
//                         AttrSink (one per encoding, in otlp_export.cc);
//                         export_attrs.h the writer it uses,
//                         export_openinference.cc the OpenInference dialect
//   otlp_export.cc        protobuf and OTLP/JSON writers, the request, answers
//
// Not for use outside these files.
#pragma once

#include <simdjson.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "span/decoder.h"
#include "span/json_writer.h"
#include "upstream/format/otlp_export.h"

namespace spanvault::otlp::export_detail {

using simdjson::dom::element;

// Receives one attribute list (a span's, an event's or a resource's) and
// writes it in the request's encoding.
class AttrSink {
 public:
  virtual ~AttrSink() = default;
  virtual void Str(std::string_view k, std::string_view v) = 0;
  virtual void Int(std::string_view k, int64_t v) = 0;
  virtual void Dbl(std::string_view k, double v) = 0;
  virtual void Bool(std::string_view k, bool v) = 0;
  // Elements that are objects or arrays become JSON strings.
  virtual void Array(std::string_view k, simdjson::dom::array a) = 0;
};

// The canonical span types (span/decoder.h); kTypes below is indexed by them.
using Type = span::SpanType;

struct TypeInfo {
  std::string_view name, operation, langfuse, brokle, openinference, braintrust;
  bool client;  // SPAN_KIND_CLIENT, else INTERNAL
};

// Indexed by Type. Brokle has no guardrail/evaluator types; Braintrust's span
// types are llm, function, tool, task, score, eval.
inline constexpr TypeInfo kTypes[] = {
    {"span", "", "span", "span", "CHAIN", "task", false},
    {"generation", "chat", "generation", "generation", "LLM", "llm", true},
    {"embedding", "embeddings", "embedding", "embedding", "EMBEDDING", "llm", true},
    {"retrieval", "retrieval", "retriever", "retrieval", "RETRIEVER", "function", true},
    {"tool", "execute_tool", "tool", "tool", "TOOL", "tool", false},
    {"agent", "invoke_agent", "agent", "agent", "AGENT", "task", false},
    {"chain", "", "chain", "chain", "CHAIN", "task", false},
    {"guardrail", "", "guardrail", "span", "GUARDRAIL", "function", false},
    {"evaluator", "", "evaluator", "span", "EVALUATOR", "score", false},
    {"event", "", "event", "event", "CHAIN", "task", false},
};
static_assert(std::size(kTypes) == static_cast<size_t>(Type::kEvent) + 1, "one entry per span type");

// Canonical convention: input includes cache reads and writes, output
// includes reasoning.
struct Usage {
  std::optional<uint64_t> input, output, cache_read, cache_write, reasoning, total;
  bool any() const { return input || output || cache_read || cache_write || reasoning || total; }
  // total_tokens, else input + output.
  std::optional<uint64_t> Total() const {
    if (total) return total;
    if (!input && !output) return std::nullopt;
    return input.value_or(0) + output.value_or(0);
  }
};

// The cost engine's parts are exclusive: input is the uncached input, output
// excludes reasoning.
struct Cost {
  bool present = false;
  std::optional<double> total, input, output, cache_read, cache_write, reasoning, request;
  std::string_view currency, price_id, source;
  bool usd() const { return currency.empty() || currency == "USD"; }
};

// The fields of one canonical span: views into the parser's document, valid
// until the next parse on this thread.
struct Canon {
  std::string_view trace_id, span_id, parent_span_id, name, model, provider, session_id, user_id, environment, release,
      service;
  bool has_parent = false;  // parent_span_id, else span_parents[0]
  Type type = Type::kSpan;
  bool error = false;
  int64_t start_ns = 0, end_ns = 0;  // end_ns = start_ns when end_time is absent
  std::optional<element> span_parents, error_value, model_parameters, input, output, expected, attributes, tags, scores,
      metrics;
  Usage usage;
  Cost cost;
};

// Reads a canonical span. Returns "" or what is wrong (not an object, no
// name, no or bad start_time).
std::string ReadCanon(element root, Canon& c);

// Parses span number `index` of a request (`json`) with this thread's parser
// and reads it into `c` (views valid until the next ParseCanon on this
// thread). Errors name the index: "span 3: name is missing".
Status ParseCanon(std::string_view json, size_t index, Canon& c);

// 1 (INTERNAL) or 3 (CLIENT).
int SpanKind(const Canon& c);

struct SpanIds {
  uint8_t trace[16] = {};
  uint8_t span[8] = {};
  uint8_t parent[8] = {};
  bool has_parent = false;
  // Hashed from a non-hex id (the original goes into spanvault.*_id).
  bool trace_opaque = false, span_opaque = false, parent_opaque = false;
  std::vector<std::array<uint8_t, 8>> links;  // span_parents[1..]
};
void MakeIds(const Canon& c, SpanIds& ids);

struct Exception {
  std::string_view type, message, stacktrace;
};
// True when `error` is an object with a type/name, message or stacktrace/stack.
bool ExceptionOf(const Canon& c, Exception& ex);
void WriteException(const Exception& ex, AttrSink& a);
// The status message: `error` as a string, else error.message, else error.type.
std::string_view StatusMessage(const Canon& c);

// The span's attributes in dialect `d` (table: export_attributes.cc).
void MapAttributes(const Canon& c, const SpanIds& ids, Dialect d, AttrSink& sink);

// JSON text (strings are valid UTF-8: they come from simdjson).
using span::AppendJsonString;
void AppendJsonDouble(double v, std::string& out);  // shortest round trip; finite only
void AppendElement(element e, std::string& out);    // compact

// Writes one JSON object into `out`: fields with an empty optional are left
// out. Close() ends it and returns the whole of `out`.
class JsonObject {
 public:
  explicit JsonObject(std::string& out) : out_(out) { out_.push_back('{'); }
  void Key(std::string_view k) {
    if (!first_) out_.push_back(',');
    first_ = false;
    AppendJsonString(k, out_);
    out_.push_back(':');
  }
  void Uint(std::string_view k, std::optional<uint64_t> v) {
    if (!v) return;
    Key(k);
    out_ += std::to_string(*v);
  }
  void Dbl(std::string_view k, std::optional<double> v) {
    if (!v) return;
    Key(k);
    AppendJsonDouble(*v, out_);
  }
  void Str(std::string_view k, std::string_view v) {
    Key(k);
    AppendJsonString(v, out_);
  }
  void Elem(std::string_view k, element v) {
    Key(k);
    AppendElement(v, out_);
  }
  bool empty() const { return first_; }
  std::string_view Close() {
    out_.push_back('}');
    return out_;
  }

 private:
  std::string& out_;
  bool first_ = true;
};

// attributes[key] of the span, when it has one.
std::optional<element> AttributeOf(const Canon& c, std::string_view key);
// attributes[key] when it is a non-empty string.
std::string_view StringAttribute(const Canon& c, std::string_view key);

// Time to first token, carried by Langfuse as an instant
// (attributes["langfuse.observation.completion_start_time"], RFC 3339) and
// by Braintrust as a duration (metrics.time_to_first_token, seconds): each
// from the other when the span has only one.
std::optional<int64_t> CompletionStartNs(const Canon& c);
std::optional<double> TimeToFirstTokenSeconds(const Canon& c);

// Langfuse and Brokle share their levels (DEBUG, DEFAULT, WARNING, ERROR):
// a level other than ERROR kept in attributes under either's name
// (langfuse.observation.level, brokle.span.level), else "".
std::string_view LevelOf(const Canon& c);

// gen_ai.operation.name: the one the span arrived with (attributes) when it
// names the span's type (chat, text_completion and generate_content are all
// generations), else the type's own (kTypes); "" for none.
std::string_view OperationName(const Canon& c);
// The tool's name: attributes gen_ai.tool.name or tool.name, else the span name.
std::string_view ToolName(const Canon& c);

// Langfuse's usage keys (its model prices and SDK integrations): cache reads
// are input_cached_tokens (OpenAI's details) except for Anthropic models,
// whose prices use input_cache_read; input_cache_creation; output_reasoning_tokens.
struct LangfuseKeys {
  std::string_view cache_read, cache_write = "input_cache_creation", reasoning = "output_reasoning_tokens";
};
LangfuseKeys LangfuseKeysFor(const Canon& c);
// Langfuse's usage_details object: its exclusive buckets (input = input
// minus cache reads and writes, output = output minus reasoning, the keys
// above, total).
void WriteLangfuseUsage(const Usage& u, const LangfuseKeys& keys, JsonObject& o);
// Langfuse's cost_details object (input, output, the keys above, request,
// total), from exclusive costs.
void WriteLangfuseCost(const Cost& k, const LangfuseKeys& keys, JsonObject& o);

// Braintrust's metrics: token counts (prompt_tokens, completion_tokens,
// tokens, prompt_cached_tokens, prompt_cache_creation_tokens,
// completion_reasoning_tokens), estimated_cost (USD), then the span's own
// metrics except those names and start/end.
void WriteBraintrustMetrics(const Canon& c, JsonObject& o);

}  // namespace spanvault::otlp::export_detail
