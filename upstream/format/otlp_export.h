// upstream/format/ — OTLP trace export: canonical spans (docs/span.md, as stored in the
// buffer) → one ExportTraceServiceRequest, as protobuf or as OTLP/JSON, with
// the attributes a given backend reads (the dialect). No I/O.
//
// Request layout: one ResourceSpans per distinct (service, environment,
// release) in input order, each with one ScopeSpans (scope "spanvault").
//
//   resource   service.name (absent: "unknown_service"), deployment.environment.name,
//              service.version
//   trace_id   32 hex → 16 bytes; 16 hex → zero-padded on the left; anything
//              else (opaque, or all zero) → a 128-bit hash of the string, and
//              the original kept as `spanvault.trace_id`
//   span_id    16 hex → 8 bytes; else a 64-bit hash, original in
//              `spanvault.span_id`. Same rule for parent_span_id (or
//              span_parents[0]) with `spanvault.parent_span_id`, so a child
//              and its opaque-id parent still link up.
//   links      span_parents[1..] (Braintrust's DAG) as links in the same trace
//   kind       generation, embedding, retrieval → CLIENT (a call to a remote
//              model or store, as GenAI semconv says for inference); every
//              other type → INTERNAL (tools and agents usually run in-process)
//   times      exact nanoseconds; no end_time → end = start
//   status     error → STATUS_CODE_ERROR, message = `error` (string) or
//              error.message; ok → UNSET (the canonical span cannot tell an
//              explicit ok from a default one). An error object also becomes an
//              "exception" event (exception.type/.message/.stacktrace, from
//              type|name, message, stacktrace|stack) at end_time.
//   attributes the span's `attributes` object, flattened: nested objects join
//              keys with dots ({"a":{"b":1}} → a.b = 1), arrays of scalars of
//              one type become array values, other arrays and objects nested
//              deeper than 8 levels become JSON strings; nulls are left out.
//              Attributes the mapping itself writes win over a user attribute
//              of the same name. Langfuse: under langfuse.observation.metadata.*
//              instead; Braintrust: in braintrust.metadata instead.
//
// The per-dialect attribute table is in export_attributes.cc (and the README).
//
// Threading: every function is reentrant (parser state is thread_local).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"
#include "upstream/format/dialect.h"

namespace spanvault::otlp {

struct ExportOptions {
  // Default: kOtel.
  Dialect dialect = Dialect::kOtel;
};

// Appends an ExportTraceServiceRequest for `spans` (canonical span JSON
// objects) to `out`. Errors (kInvalidArgument, naming the span's index): a
// span that is not a JSON object or lacks name/start_time; `out` is then
// unchanged. Unknown fields are ignored; an empty `spans` gives an empty
// request.
Status EncodeExportProto(std::span<const std::string_view> spans, const ExportOptions& options, std::string& out);
Status EncodeExportJson(std::span<const std::string_view> spans, const ExportOptions& options, std::string& out);

// ExportTraceServiceResponse.partial_success: spans the backend refused for
// good (rejected_spans > 0), or a warning (rejected_spans == 0 and a message).
struct PartialSuccess {
  int64_t rejected_spans = 0;
  std::string error_message;
};

// Reads a 2xx answer's ExportTraceServiceResponse. nullopt when the answer
// carries no partial_success (or is empty, or is not a valid response in
// that encoding: a backend's 200 is a success whatever its body says).
std::optional<PartialSuccess> DecodeExportResponseProto(std::string_view body);
std::optional<PartialSuccess> DecodeExportResponseJson(std::string_view body);

}  // namespace spanvault::otlp
