// upstream/format/ — export to two backends' own JSON APIs, for backends (or versions)
// that take spans there rather than over OTLP. Canonical spans (docs/span.md, as
// stored in the buffer) in; one request body out. No I/O.
//
// Langfuse batch ingestion (`POST /api/public/ingestion`):
//   {"batch": [event, ...], "metadata": {"sdk_name": "spanvault", ...}}
//   A root span (no parent) first gives a `trace-create` event (the trace's
//   name, user, session, tags, input/output, metadata, environment, release);
//   every span gives one observation event:
//     generation                      → generation-create
//     event                           → event-create
//     span                            → span-create
//     agent, tool, chain, retrieval,  → observation-create with body.type
//     embedding, evaluator, guardrail   AGENT, TOOL, CHAIN, RETRIEVER,
//                                       EMBEDDING, EVALUATOR, GUARDRAIL
//   The trace's name is attributes["langfuse.trace.name"] when set, else the
//   span's; its metadata attributes["langfuse.trace.metadata"] when set.
//   Observation body: id (span_id), traceId, parentObservationId, name,
//   startTime/endTime (RFC 3339, UTC), input, output, metadata (the span's
//   attributes but the langfuse.* ones below, plus expected/scores/metrics
//   when present and, for a span that is not the root, its tags, user_id and
//   session_id), level (ERROR on error, else DEFAULT), statusMessage,
//   environment, version (attributes["langfuse.version"], else release),
//   promptName / promptVersion / completionStartTime (attributes
//   langfuse.observation.prompt.name, .prompt.version,
//   .completion_start_time); with a model or usage also model,
//   modelParameters, usageDetails (Langfuse's exclusive buckets under its
//   own keys: input = input minus cache reads and writes, output = output
//   minus reasoning, input_cached_tokens (input_cache_read for Anthropic
//   models), input_cache_creation, output_reasoning_tokens, total) and
//   costDetails (USD costs only, the same keys, request, total).
//   Envelope ids are derived from the span (`<trace_id>.<span_id>.trace` and
//   `.obs`), so a batch sent again after a crash is deduplicated by Langfuse.
//   The answer (207) lists per event successes and errors; see
//   LangfuseIngestionFailures.
//
// Braintrust logs (`POST /v1/project_logs/{project_id}/insert`):
//   {"events": [row, ...]}, one row per span: id (<trace_id>.<span_id>, so a
//   resent row replaces itself), span_id, root_span_id (trace_id),
//   span_parents (span_parents, else [parent_span_id], else absent), input,
//   output, expected, error, scores, tags (on a root span only: Braintrust
//   refuses tags on other rows), metadata (model, provider, a child's tags,
//   model_parameters, then the span's attributes, session_id, user_id,
//   environment, release, service), metrics (start, end in Unix seconds;
//   prompt_tokens, completion_tokens, tokens, prompt_cached_tokens,
//   prompt_cache_creation_tokens, completion_reasoning_tokens,
//   estimated_cost (USD), then the span's own metrics), span_attributes
//   (name, type: llm for generation and embedding, tool, score for
//   evaluator, function for retrieval and guardrail, else task).
//
// Threading: reentrant (parser state is thread_local).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace spanvault::otlp {

// Errors (naming the span's index): a span that is not a JSON object or
// lacks name/start_time; `out` is then unchanged.
Status EncodeLangfuseIngestion(std::span<const std::string_view> spans, std::string& out);
Status EncodeBraintrustLogs(std::span<const std::string_view> spans, std::string& out);

// One span a 207 answer reported as failed.
struct SpanFailure {
  size_t index = 0;  // into the `spans` that were encoded
  int status = 0;    // the event's status (e.g. 400, 500)
  std::string message;
};

// Reads Langfuse's ingestion answer {"successes": [...], "errors": [{"id",
// "status", "message", "error"}]} to the body EncodeLangfuseIngestion made of
// `spans`: the spans with a failed event, at most one entry per span (a
// retryable status — 408, 429, 5xx, 0 — wins over a permanent one). An
// answer that cannot be read, or error ids that name no event of the batch,
// give no failures: the batch counts as delivered.
std::vector<SpanFailure> LangfuseIngestionFailures(std::span<const std::string_view> spans, std::string_view answer);

}  // namespace spanvault::otlp
