// upstream/ — OTLP/HTTP trace export as an upstream format (docs/forwarding.md):
// `format = "otlp-proto"` (application/x-protobuf) or `"otlp-json"`
// (application/json, the OTLP JSON encoding), with a `dialect` that decides
// which attributes the backend reads (upstream/format/otlp_export.h has the mapping).
// Also the credential options of every format that has them (the backends'
// own APIs, langfuse-ingestion and braintrust-logs, follow the rules of the
// dialect of the same backend).
//
// Authentication per dialect, from upstream options (values resolved like
// header values: ${ENV} substituted, "@/path" read; never logged), or from
// hand-written headers instead — one or the other, not both:
//
//   dialect / format      options                  headers sent                     or configured header
//   langfuse,             public_key + secret_key  Authorization: Basic b64(pk:sk)  headers.Authorization
//     langfuse-ingestion
//   braintrust,           api_key                  Authorization: Bearer <api_key>  headers.Authorization
//     braintrust-logs
//   braintrust            parent                   x-bt-parent: <parent>            headers.x-bt-parent
//   braintrust-logs       parent (optional)        none: "project_id:ID" builds the endpoint's path
//   brokle                api_key                  X-API-Key: <api_key>             headers.X-API-Key
//   otel, openinference, json: none (configure headers as the collector needs).
//
// Answers: a 2xx answer's ExportTraceServiceResponse.partial_success is
// reported by InspectSuccess (the batch still counts as delivered: the
// backend refused those spans for good and does not say which).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "upstream/encoder.h"

namespace spanvault::upstream {

struct UpstreamConfig;

// "otlp-proto" or "otlp-json".
bool IsOtlpFormat(std::string_view format);

// What is wrong with dialect, public_key, secret_key, api_key and parent
// (unknown dialect, options a dialect or format does not use, missing
// credentials, options and headers both given, unresolvable ${ENV} or
// @file), without the "upstream NAME: " prefix. Empty when fine. `json`
// must leave them unset; only OTLP formats take a dialect.
std::vector<std::string> OtlpOptionProblems(const UpstreamConfig& config);

// The headers the credential options make (table above), resolved now.
Result<std::vector<std::pair<std::string, std::string>>> CredentialHeaders(const UpstreamConfig& config);

// The encoder for an OTLP format. Resolves the credentials now (errors as in
// OtlpOptionProblems).
Result<std::unique_ptr<Encoder>> MakeOtlpEncoder(const UpstreamConfig& config);

// RFC 4648 base64 with padding (for Basic auth).
std::string Base64(std::string_view data);

}  // namespace spanvault::upstream
