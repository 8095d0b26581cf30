// upstream/ — request bodies for each upstream `format`.
//
// An Encoder turns a batch of canonical spans (design §2, as stored in the
// buffer) into one request body. `json` is {"spans": [span, ...]} with the
// spans copied verbatim; the OTLP, Langfuse and Braintrust encoders plug in
// here (MakeEncoder) without touching the forwarder.
//
// Threading: Encode() is const and may run on several threads at once.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace spanvault::upstream {

struct UpstreamConfig;

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
};

bool IsKnownFormat(std::string_view format);
std::string KnownFormats();  // "json" (for messages)

Result<std::unique_ptr<Encoder>> MakeEncoder(const UpstreamConfig& config);

// gzip (RFC 1952) of `data` at zlib `level` (1..9), appended to `out`.
Status Gzip(std::string_view data, int level, std::string& out);

}  // namespace spanvault::upstream
