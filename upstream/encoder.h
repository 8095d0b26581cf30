// upstream/ — request bodies for each upstream `format`.
//
// An Encoder turns a batch of canonical spans (docs/span.md, as stored in the
// buffer) into one request body. `json` is {"spans": [span, ...]} with the
// spans copied verbatim; `otlp-proto` and `otlp-json` are OTLP/HTTP
// (otlp_encoder.h); `langfuse-ingestion` and `braintrust-logs` are those
// backends' own JSON APIs (upstream/format/vendor_export.h). Other encoders plug in
// here (MakeEncoder) without touching the forwarder.
//
// Threading: Encode() and InspectSuccess() are const and may run on several
// threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "config/upstream_options.h"

namespace spanvault::upstream {

struct UpstreamConfig;

// One span of a batch that a 2xx answer reports as not taken (Langfuse's
// 207): the forwarder retries or dead-letters it alone, by `status`, as the
// retry policy decides for a one-span batch.
struct FailedSpan {
  size_t index = 0;     // into the spans given to Encode
  int status = 0;       // that span's status, e.g. 400 or 500
  std::string message;  // at most 1 KiB
};

// What a 2xx answer says besides "delivered".
struct SuccessNote {
  // OTLP's partial_success: spans of the batch the backend refused for good
  // without saying which (retrying would not help). 0 with a message: a
  // warning.
  int64_t rejected_spans = 0;
  // The backend's error_message (may be empty), at most 1 KiB.
  std::string message;
  // Spans the backend names as failed (each at most once).
  std::vector<FailedSpan> failed;
};

class Encoder {
 public:
  virtual ~Encoder() = default;
  // The request's Content-Type.
  virtual std::string_view content_type() const = 0;
  // Extra headers this format needs (besides the configured ones).
  virtual std::vector<std::pair<std::string, std::string>> extra_headers() const { return {}; }
  // Appends the body for `spans` (canonical span JSON objects) to `out`.
  // Errors: a span this format cannot represent (never for `json`).
  virtual Status Encode(std::span<const std::string_view> spans, std::string& out) const = 0;
  // Reads a 2xx answer to the body made of `spans` (`content_type`: the
  // answer's, may be empty). nullopt: nothing to report. Never fails: an
  // answer it cannot read is a plain success. Default: nullopt.
  virtual std::optional<SuccessNote> InspectSuccess(std::string_view content_type, std::string_view body,
                                                    std::span<const std::string_view> spans) const {
    (void)content_type;
    (void)body;
    (void)spans;
    return std::nullopt;
  }
};

Result<std::unique_ptr<Encoder>> MakeEncoder(const UpstreamConfig& config);

// gzip (RFC 1952) of `data` at zlib `level` (1..9), appended to `out`.
Status Gzip(std::string_view data, int level, std::string& out);

}  // namespace spanvault::upstream
