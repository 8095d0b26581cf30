// upstream/ — OTLP/HTTP trace export as an upstream format (design §5):
// `format = "otlp-proto"` (application/x-protobuf) or `"otlp-json"`
// (application/json, the OTLP JSON encoding), with a `dialect` that decides
// which attributes the backend reads (otlp/otlp_export.h has the mapping).
//
// Authentication per dialect, from upstream options (values resolved like
// header values: ${ENV} substituted, "@/path" read; never logged), or from
// hand-written headers instead — one or the other, not both:
//
//   dialect     options                  headers sent                       or configured header
//   langfuse    public_key + secret_key  Authorization: Basic b64(pk:sk)    headers.Authorization
//   braintrust  api_key                  Authorization: Bearer <api_key>    headers.Authorization
//               parent                   x-bt-parent: <parent>              headers.x-bt-parent
//   brokle      api_key                  X-API-Key: <api_key>               headers.X-API-Key
//   otel, openinference: none (configure headers as the collector needs).
//
// Answers: a 2xx answer's ExportTraceServiceResponse.partial_success is
// reported by InspectSuccess (the batch still counts as delivered: the
// backend refused those spans for good and does not say which).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "upstream/encoder.h"

namespace spanvault::upstream {

struct UpstreamConfig;

// "otlp-proto" or "otlp-json".
bool IsOtlpFormat(std::string_view format);

// What is wrong with dialect, public_key, secret_key, api_key and parent
// (unknown dialect, options a dialect does not use, missing credentials,
// options and headers both given, unresolvable ${ENV} or @file), without the
// "upstream NAME: " prefix. Empty when fine. Non-OTLP formats must leave
// them unset.
std::vector<std::string> OtlpOptionProblems(const UpstreamConfig& config);

// The encoder for an OTLP format. Resolves the credentials now (errors as in
// OtlpOptionProblems).
Result<std::unique_ptr<Encoder>> MakeOtlpEncoder(const UpstreamConfig& config);

// RFC 4648 base64 with padding (for Basic auth).
std::string Base64(std::string_view data);

}  // namespace spanvault::upstream
