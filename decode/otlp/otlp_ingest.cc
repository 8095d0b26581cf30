#include "decode/otlp/otlp_ingest.h"

#include "decode/otlp/json_out.h"
#include "decode/otlp/span_data.h"
#include "protobuf/wire.h"

// OTLP span → canonical span (docs/span.md). The readers (proto_reader.cc,
// json_reader.cc) decode into SpanData; mapping.cc and usage.cc write the
// canonical JSON. Where a field has several sources the first listed wins;
// the attributes of the others stay in `attributes`. Every attribute that is
// not mapped stays in `attributes` under its own (flat, dotted) key.
//
// | canonical            | from                                                                              |
// |----------------------|-----------------------------------------------------------------------------------|
// | trace_id, span_id    | Span.trace_id (16 bytes) / span_id (8 bytes) as lowercase hex; missing, wrong     |
// |                      | length or all zero → the span is rejected (partial_success)                       |
// | parent_span_id       | Span.parent_span_id as hex; empty or all zero → absent (root)                     |
// | name                 | Span.name; empty → "(unnamed)"; > 512 bytes → cut at a UTF-8 boundary, the whole  |
// |                      | name in attributes["otel.span.name"]                                              |
// | type                 | langfuse.observation.type, brokle.span.type, openinference.span.kind,            |
// |                      | gen_ai.operation.name (chat/text_completion/generate_content → generation,       |
// |                      | embeddings → embedding, execute_tool → tool, invoke_agent/create_agent → agent),  |
// |                      | traceloop.span.kind, a model present → generation, else span. Values: LLM →      |
// |                      | generation, RETRIEVER/RERANKER/retriever → retrieval, others by name              |
// | start_time, end_time | *_time_unix_nano as RFC 3339 with ns (lossless); 0 → absent; after 2255 or an end |
// |                      | before the start → absent, raw value in attributes["otel.*_time_unix_nano"]       |
// | status, error        | Status.code ERROR or langfuse.observation.level ERROR → "error"; error = the last |
// |                      | "exception" event's attributes without the "exception." prefix ({type, message,   |
// |                      | stacktrace, ...}), else Status.message, else langfuse.observation.status_message  |
// | model                | langfuse.observation.model.name, gen_ai.response.model, gen_ai.request.model,     |
// |                      | llm.model_name                                                                    |
// | provider             | gen_ai.provider.name, gen_ai.system, llm.provider, llm.system — normalised to    |
// |                      | gen_ai.provider.name values (vertexai → gcp.vertex_ai, mistralai → mistral_ai...) |
// | model_parameters     | langfuse.observation.model.parameters (JSON), gen_ai.request.* (except .model,    |
// |                      | key = the rest of the name), llm.invocation_parameters (JSON); first key wins     |
// | usage                | ONE source, the first with any count: langfuse.observation.usage_details (disjoint|
// |                      | buckets: input_tokens = input + input_* incl. cache buckets; output_tokens =      |
// |                      | output + output_*; OpenAI-shaped details taken as inclusive), gen_ai.usage.*      |
// |                      | (input/prompt, output/completion, cache_read.input_tokens, cache_creation.        |
// |                      | input_tokens, reasoning.output_tokens, total), llm.token_count.* (prompt,         |
// |                      | completion, total, prompt_details.cache_read/cache_write, completion_details.     |
// |                      | reasoning). Anthropic via gen_ai/llm with cache > input: input is exclusive, the  |
// |                      | cache counts are added. A sub-count larger than its parent (or a total smaller    |
// |                      | than input/output) is left out of usage and its attribute kept                    |
// | cost (client)        | langfuse.observation.cost_details (input_cache_read → cache_read,                |
// |                      | input_cache_creation → cache_write, output_reasoning → reasoning), llm.cost.      |
// |                      | total/prompt/completion (→ total/input/output), gen_ai.usage.cost (→ total);      |
// |                      | total = sum of the parts when absent                                              |
// | input / output       | langfuse.observation.input/.output, gen_ai.input.messages/.output.messages,       |
// |                      | input.value/output.value (JSON when *.mime_type says json), gen_ai.prompt/        |
// |                      | .completion (legacy); JSON strings are parsed, other strings kept as strings      |
// | tags                 | langfuse.trace.tags ∪ tag.tags (arrays of strings or JSON strings of them)       |
// | session_id           | langfuse.session.id, session.id, gen_ai.conversation.id                          |
// | user_id              | langfuse.user.id, user.id                                                         |
// | environment          | langfuse.environment, resource deployment.environment.name, deployment.environment|
// | release              | langfuse.release, resource service.version                                        |
// | service              | resource service.name                                                             |
// | attributes           | langfuse.observation.metadata.<k> → <k>; `metadata` and langfuse.observation.     |
// |                      | metadata (JSON objects) spread into their keys; then every unmapped span          |
// |                      | attribute; otel.span.kind ("client", ...), otel.scope.name/.version,              |
// |                      | otel.scope.attributes.<k>, otel.trace_state, otel.status_message (non-error),     |
// |                      | otel.dropped_{attributes,events,links}_count (when > 0), otel.events ([{name,     |
// |                      | time, attributes}], all events except the one that became `error`), otel.links    |
// |                      | ([{trace_id, span_id, trace_state, attributes}]); resource.<k> for every other    |
// |                      | resource attribute. Values: string, bool, int64 (a number within ±2^53, else a    |
// |                      | string), double (NaN/±Infinity as strings), arrays, kvlists as objects, bytes as  |
// |                      | base64. Invalid UTF-8 becomes U+FFFD. Duplicate keys: span::Decoder keeps the     |
// |                      | first                                                                             |
//
// Kept as plain attributes (not interpreted): langfuse.trace.* (name, public,
// metadata.*, input, output — trace-level, not this span's), langfuse.version,
// langfuse.observation.prompt.*, brokle.* other than brokle.span.type,
// gen_ai.operation.name, openinference.span.kind, gen_ai.response.* other
// than .model. Span.flags is not kept.

namespace spanvault::otlp {
namespace {

Result<OtlpSpans> Finish(std::string error, MappedSpans&& mapped) {
  if (!error.empty()) return Fail(Error::Invalid(std::move(error)));
  OtlpSpans out;
  out.spans = std::move(mapped.spans);
  out.rejected = mapped.rejected;
  out.error_message = std::move(mapped.error_message);
  return out;
}

}  // namespace

Result<OtlpSpans> DecodeOtlpProto(std::string_view body, const IngestLimits& limits) {
  MappedSpans mapped;
  std::string error = DecodeProtoRequest(body, limits, mapped);
  return Finish(std::move(error), std::move(mapped));
}

Result<OtlpSpans> DecodeOtlpJson(std::string_view body, const IngestLimits& limits) {
  MappedSpans mapped;
  std::string error = DecodeJsonRequest(body, limits, mapped);
  return Finish(std::move(error), std::move(mapped));
}

std::string EncodeExportResponseProto(uint64_t rejected_spans, std::string_view error_message) {
  std::string out;
  if (rejected_spans == 0) return out;
  WireWriter w(out);
  size_t at = w.BeginLen(1);  // partial_success
  w.Varint(1, rejected_spans);
  if (!error_message.empty()) w.Bytes(2, error_message);
  w.EndLen(at);
  return out;
}

std::string EncodeExportResponseJson(uint64_t rejected_spans, std::string_view error_message) {
  if (rejected_spans == 0) return "{}";
  // int64 fields are decimal strings in OTLP/JSON.
  std::string out = "{\"partialSuccess\":{\"rejectedSpans\":\"";
  out.append(std::to_string(rejected_spans));
  out.push_back('"');
  if (!error_message.empty()) {
    out.append(",\"errorMessage\":");
    AppendString(error_message, out);
  }
  out.append("}}");
  return out;
}

}  // namespace spanvault::otlp
