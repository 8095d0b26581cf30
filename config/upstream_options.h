// config/ — what an [[upstream]] table's `format`, `dialect` and credential
// options may hold and what they amount to: the known formats, the URL
// requests go to, and the headers the credential options make.
// UpstreamConfig::Validate() (upstream_config.h) checks them; the encoders
// (upstream/encoder.h, upstream/otlp_encoder.h) use them.
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
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace spanvault::upstream {

struct UpstreamConfig;

bool IsKnownFormat(std::string_view format);
std::string KnownFormats();  // "json, otlp-proto, ..." (for messages)

// "otlp-proto" or "otlp-json".
bool IsOtlpFormat(std::string_view format);

// The URL requests go to. `endpoint` as configured, except that a bare
// endpoint (no path, or "/") gets the format's path: langfuse-ingestion
// "/api/public/ingestion"; braintrust-logs "/v1/project_logs/ID/insert" with
// ID from `parent = "project_id:ID"` (required then). Errors: a bare
// braintrust-logs endpoint without that parent, or a parent given with a
// path (which one would win?).
Result<std::string> EffectiveEndpoint(const UpstreamConfig& config);

// What is wrong with dialect, public_key, secret_key, api_key and parent
// (unknown dialect, options a dialect or format does not use, missing
// credentials, options and headers both given, unresolvable ${ENV} or
// @file), without the "upstream NAME: " prefix. Empty when fine. `json`
// must leave them unset; only OTLP formats take a dialect.
std::vector<std::string> OtlpOptionProblems(const UpstreamConfig& config);

// The headers the credential options make (table above), resolved now.
Result<std::vector<std::pair<std::string, std::string>>> CredentialHeaders(const UpstreamConfig& config);

// RFC 4648 base64 with padding (for Basic auth).
std::string Base64(std::string_view data);

}  // namespace spanvault::upstream
