// config/ — the configuration of one upstream (a `[[upstream]]` table).
//
//   [[upstream]]
//   name = "collector"
//   endpoint = "https://otel.example.com/v1/traces"
//   format = "json"
//   headers = { Authorization = "Bearer ${COLLECTOR_TOKEN}", "X-Api-Key" = "@/etc/spanvault/key" }
//
// Every key parses from text (SetUpstreamKey) so the daemon's config loader
// reports every problem of every upstream at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "process/processor_config.h"
#include "upstream/retry_policy.h"

namespace spanvault::upstream {

struct UpstreamConfig {
  std::string name;      // required, unique: [A-Za-z0-9_.-]{1,64}; names the cursor in the buffer
  std::string endpoint;  // required: http:// or https:// URL
  // Default: "json" ({"spans": [...]} of canonical spans). Also "otlp-proto"
  // and "otlp-json" (OTLP/HTTP, otlp_encoder.h), "langfuse-ingestion" and
  // "braintrust-logs" (those backends' own APIs, upstream/format/vendor_export.h).
  std::string format = "json";
  // Default: "otel". OTLP formats only: the attributes the backend reads
  // (otel, langfuse, braintrust, brokle, openinference).
  std::string dialect = "otel";
  // Default: none. Credentials and settings a dialect turns into headers
  // (instead of writing the headers by hand). Values may hold ${ENV} or be
  // "@/path", like header values. Never logged.
  std::string public_key;  // langfuse, langfuse-ingestion: Basic auth user
  std::string secret_key;  // langfuse, langfuse-ingestion: Basic auth password
  std::string api_key;     // braintrust, braintrust-logs: Authorization: Bearer; brokle: X-API-Key
  // braintrust: x-bt-parent ("project_id:…", "project_name:…", "experiment_id:…");
  // braintrust-logs: "project_id:…", the path of a bare endpoint.
  std::string parent;
  // Default: none. Values may hold ${ENV_VAR} (substituted) or be "@/path"
  // (the file's content, trailing newline removed). Never logged.
  std::vector<std::pair<std::string, std::string>> headers;
  // Default: 512 spans per request.
  size_t batch_max_spans = 512;
  // Default: 4 MiB of span JSON per request (before compression).
  uint64_t batch_max_bytes = 4u << 20;
  // Default: 200ms. How long a partial batch waits for more spans.
  std::chrono::milliseconds linger{200};
  // Default: true. gzip request bodies.
  bool gzip = true;
  // Default: 1 (fastest). zlib level 1..9.
  int gzip_level = 1;
  // Default: 4 requests in flight.
  size_t concurrency = 4;
  // Default: 10s per attempt (connect + TLS + send + answer).
  std::chrono::milliseconds timeout{10000};
  // Defaults: initial 500ms, max 60s, multiplier 2, auth_pause 5m.
  RetryOptions retry;
  // Default: "" (the system CA store).
  std::string tls_ca_file;
  // Default: false. Logged loudly when true.
  bool tls_insecure_skip_verify = false;
  // Default: 1 MiB. Larger answers fail the attempt.
  uint64_t max_response_bytes = 1u << 20;
  // Default: none. Names of [[processor]] tables applied, in this order, to
  // each span before it is encoded for this upstream (docs/processors.md).
  std::vector<std::string> processors;
  // Those processors' definitions, copied from the [[processor]] tables when
  // the config is loaded (daemon::ResolveProcessors), so that a changed
  // definition makes this upstream "changed" for a reload.
  std::vector<process::ProcessorConfig> processor_defs;

  // Every problem, prefixed with "upstream <name>: ".
  std::vector<std::string> Validate() const;

  // Every setting equal (a reload keeps such an upstream's forwarder).
  bool operator==(const UpstreamConfig&) const = default;
};

// Sets `key` ("endpoint", "linger", "retry.initial", "headers.Authorization")
// from its text form. Returns "" or what is wrong.
std::string SetUpstreamKey(UpstreamConfig& config, std::string_view key, std::string_view value);

// One line per key with its default, for --help and the README.
std::string DescribeUpstreamKeys();

// One [[upstream]] key as the configuration reference shows it
// (docs/configuration.md, etc/spanvault.toml: config/config_reference.cc).
struct UpstreamKeyDoc {
  std::string name;     // "endpoint", "retry.initial" (a key of [upstream.retry])
  std::string value;    // a TOML value: the default, or an example for a required key
  std::string comment;  // lines separated by '\n'; may be empty
};
// Every key, in the table's order; "headers" (the headers.NAME keys) is an
// example inline table.
std::vector<UpstreamKeyDoc> UpstreamKeyDocs();

// An endpoint as it may be shown (status, logs, error messages): user info
// becomes "***@" and every query value "***" (the parameter names stay), a
// fragment "#***". The scheme, host, port and path are kept: put secrets in
// headers (or the dialect's keys), never in the path. So that a malformed URL
// is redacted too, anything before an '@' ahead of the query counts as user
// info, and a port that is not a number becomes "***".
//   "https://u:p@h/v1?key=s&x" → "https://***@h/v1?key=***&***"
std::string RedactEndpoint(std::string_view url);

// Credentials this upstream would send in clear text: when its endpoint is
// plain http:// to a host that is not loopback (localhost, 127.0.0.0/8, ::1),
// the names of what carries them — configured headers that look like
// credentials (Authorization, Proxy-Authorization, Cookie, or a name with
// key, token, secret, auth, password or session in it) and the dialect's
// keys (public_key, secret_key, api_key) that are set. Empty otherwise.
std::vector<std::string> CleartextCredentials(const UpstreamConfig& config);

// The header values with ${ENV} and @file resolved. Errors name the header and
// the variable or file, never the value.
Result<std::vector<std::pair<std::string, std::string>>> ResolveHeaders(
    const std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace spanvault::upstream
