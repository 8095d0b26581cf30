// ipc/ — the HTTP listener's request handling without I/O: routing, body
// decoding into a span::Batch, and the answer once the store has spoken.
// The listener (http_listener.cc) only moves bytes; everything a client sees
// is decided here, and tested without sockets. Whether a request is served at
// all (Host, Origin, Sec-Fetch-Site, CORS preflights: 400/403/204) is decided
// before, from its header, by ipc/http_policy.h.
//
// Ingest routes and their answers (after the batch is durable):
//
//   POST /v1/traces, /api/public/otel/v1/traces   OTLP/HTTP
//     Content-Type application/x-protobuf | application/json (parameters
//     ignored); the answer uses the request's encoding.
//     200  ExportTraceServiceResponse; partial_success{rejected_spans,
//          error_message} when spans were refused by the OTLP mapping or by
//          span validation (or, partly, by a full buffer)
//     400  the body is not an ExportTraceServiceRequest, or the compressed
//          body is corrupt — google.rpc.Status{message} in the request's
//          encoding (JSON for other content types); never retry
//     413  the body (or its inflated form) is larger than max_body_bytes
//     415  unknown Content-Type or Content-Encoding
//     503  + Retry-After: the buffer is full (on_full = "reject") for every
//          span of the request, or the store failed; retry later
//   POST /v1/spans                                  canonical spans
//     a JSON object, an array of objects, or NDJSON (application/x-ndjson,
//     or application/json whose body has several lines); answered with
//       {"accepted": N, "rejected": M, "errors": [{"index"|"line": I, "reason": "..."}]}
//     "index" counts array elements from 0 (-1: the whole payload); "line"
//     counts NDJSON lines from 1.
//     200  at least one span accepted, or nothing refused (an empty array)
//     400  every span refused (nothing stored; the answer lists why)
//     413, 415, 503 as above (with {"error": "..."} as the body)
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "ipc/ingest.h"

namespace spanvault::ipc {

// OTLP decoding, injected by the daemon (otlp::DecodeOtlpProto etc.) so that
// ipc/ does not depend on decode/otlp/. See decode/otlp/otlp_ingest.h for the contract.
struct OtlpDecoded {
  std::vector<std::string> spans;  // one JSON object per span, input schema
  uint32_t rejected = 0;           // spans the mapping refused
  std::string error_message;       // why (for partial_success)
};
using OtlpDecodeFn = std::function<Result<OtlpDecoded>(std::string_view body)>;
using OtlpResponseFn = std::function<std::string(uint64_t rejected_spans, std::string_view error_message)>;
struct OtlpCodec {
  OtlpDecodeFn decode_proto;
  OtlpDecodeFn decode_json;
  OtlpResponseFn encode_response_proto;
  OtlpResponseFn encode_response_json;
  bool usable() const { return decode_proto && decode_json && encode_response_proto && encode_response_json; }
};

enum class Route : uint8_t { kOtlpTraces, kSpans, kHealthz, kReadyz, kMetrics, kUnknown };
// The route of a request target (the query string is ignored).
Route MatchRoute(std::string_view target);
// The method a route takes ("POST" or "GET"); "" for kUnknown.
std::string_view RouteMethod(Route route);

struct HttpAnswer {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  uint32_t retry_after_seconds = 0;  // > 0: send a Retry-After header
};

struct IngestContext {
  span::Limits limits;
  const OtlpCodec* otlp = nullptr;  // nullptr or !usable(): OTLP routes answer 503
  size_t max_body_bytes = 16u << 20;
  size_t max_span_bytes = 1u << 20;  // one span (one NDJSON line, one OTLP span)
  size_t max_errors = 100;           // errors listed in a /v1/spans answer
  uint32_t retry_after_seconds = 5;
};

// One ingest request decoded: the batch for the store and what the answer
// needs. Move-only in practice (the batch can be large).
struct IngestRequest {
  Route route = Route::kSpans;
  bool proto = false;        // OTLP: answer in protobuf
  unsigned failed = 0;       // 400/413/415/503 decided before the store: the answer whatever it says
  std::string failure;       // its message
  span::Batch batch;         // spans and quarantine entries to store
  uint32_t rejected = 0;     // spans (or payloads) refused while decoding
  uint32_t spans = 0;        // spans in the batch (it is moved to the store)
  std::string otlp_message;  // OTLP: why spans were refused (first reasons)
  bool ndjson = false;       // /v1/spans: errors carry "line"
  struct ItemError {
    int64_t at;  // array index or line number
    std::string reason;
  };
  std::vector<ItemError> errors;  // /v1/spans: first max_errors
};

// Decodes the body of a POST to an ingest route. `body` is consumed (it may
// be inflated in place). Decoding uses the calling thread's span::Decoder.
// Never fails: failures are in IngestRequest::failed (with a quarantine
// entry in the batch, so that `spanvault rejected` shows them).
IngestRequest DecodeIngest(Route route, std::string_view content_type, std::string_view content_encoding,
                           std::string body, const span::Source& source, int64_t received_ns, const IngestContext& ctx);

// A request refused before its body was read (Content-Length over the
// limit): failed = 413 with a quarantine entry.
IngestRequest RefuseTooLarge(Route route, std::string_view content_type, uint64_t content_length,
                             const span::Source& source, int64_t received_ns, const IngestContext& ctx);

// A request refused before its body was read because the daemon's
// in-flight budget is spent: failed = 503 (+ Retry-After), no quarantine
// entry (no span was read).
IngestRequest RefuseBusy(Route route, std::string_view content_type);

// The answer once the store reported `r` for the request's batch (for an
// empty batch, pass a default SubmitResult).
HttpAnswer AnswerIngest(const IngestRequest& req, const SubmitResult& r, const IngestContext& ctx);

// Records a decoded request's rejections in the transport's counters (call
// before the batch goes to the store): rejected_by_kind per quarantine entry,
// payloads_rejected once when anything was refused.
void CountRejected(const IngestRequest& req, TransportCounters& c);

}  // namespace spanvault::ipc
