// decode/otlp/ — OTLP/HTTP trace ingest: ExportTraceServiceRequest (protobuf or the
// OTLP JSON encoding) → spans in spanvault's input schema (docs/span.md), which
// then go through span::Decoder like spans from any other transport
// (validation, normalisation, cost). No I/O.
//
// The mapping (resource/scope/span attributes, GenAI, OpenInference, Langfuse
// and Brokle conventions, the type decision order) is documented in
// otlp_ingest.cc and the README.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "decode/otlp/span_data.h"

namespace spanvault::otlp {

// MapLimits (decode/otlp/span_data.h): depth, attribute count and value length,
// span size as written, and the request's total output.
using IngestLimits = MapLimits;

struct OtlpSpans {
  // One JSON object per OTLP span, in the input schema of docs/span.md
  // (trace_id, span_id, parent_span_id, name, type, start_time, end_time,
  // status, error, model, provider, model_parameters, usage, cost, input,
  // output, attributes, session_id, user_id, environment, release, service,
  // tags, ...). Ready for span::Decoder::Decode.
  std::vector<std::string> spans;
  // Spans of the request that could not be mapped at all (e.g. an invalid
  // trace id); counted in the answer's partial_success.
  uint32_t rejected = 0;
  std::string error_message;  // why (the first few), for partial_success.error_message
};

// Errors (kInvalidArgument): the body is not a valid ExportTraceServiceRequest
// in that encoding (the HTTP listener answers 400 with the message).
Result<OtlpSpans> DecodeOtlpProto(std::string_view body, const IngestLimits& limits = {});
Result<OtlpSpans> DecodeOtlpJson(std::string_view body, const IngestLimits& limits = {});

// ExportTraceServiceResponse with partial_success when rejected > 0
// (rejected_spans = 1, error_message = 2 inside field 1), as protobuf or JSON.
std::string EncodeExportResponseProto(uint64_t rejected_spans, std::string_view error_message);
std::string EncodeExportResponseJson(uint64_t rejected_spans, std::string_view error_message);

}  // namespace spanvault::otlp
