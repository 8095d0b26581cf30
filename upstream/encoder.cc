#include "upstream/encoder.h"

#include <libdeflate.h>

#include "config/upstream_config.h"
#include "upstream/format/vendor_export.h"
#include "upstream/otlp_encoder.h"

namespace spanvault::upstream {
namespace {

class JsonEncoder final : public Encoder {
 public:
  std::string_view content_type() const override { return "application/json"; }
  Status Encode(std::span<const std::string_view> spans, std::string& out) const override {
    size_t total = 12;
    for (std::string_view s : spans) total += s.size() + 1;
    out.reserve(out.size() + total);
    out += "{\"spans\":[";
    for (size_t i = 0; i < spans.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += spans[i];
    }
    out += "]}";
    return {};
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// Langfuse's batch ingestion API: per-event results in a 207 answer.
class LangfuseIngestionEncoder final : public Encoder {
 public:
  explicit LangfuseIngestionEncoder(Headers headers) : headers_(std::move(headers)) {}
  std::string_view content_type() const override { return "application/json"; }
  Headers extra_headers() const override { return headers_; }
  Status Encode(std::span<const std::string_view> spans, std::string& out) const override {
    return otlp::EncodeLangfuseIngestion(spans, out);
  }
  std::optional<SuccessNote> InspectSuccess(std::string_view, std::string_view body,
                                            std::span<const std::string_view> spans) const override {
    auto failures = otlp::LangfuseIngestionFailures(spans, body);
    if (failures.empty()) return std::nullopt;
    SuccessNote note;
    for (auto& f : failures) note.failed.push_back({f.index, f.status, std::move(f.message)});
    return note;
  }

 private:
  Headers headers_;  // resolved credentials; never logged
};

// Braintrust's project logs insert API: all or nothing.
class BraintrustLogsEncoder final : public Encoder {
 public:
  explicit BraintrustLogsEncoder(Headers headers) : headers_(std::move(headers)) {}
  std::string_view content_type() const override { return "application/json"; }
  Headers extra_headers() const override { return headers_; }
  Status Encode(std::span<const std::string_view> spans, std::string& out) const override {
    return otlp::EncodeBraintrustLogs(spans, out);
  }

 private:
  Headers headers_;
};

}  // namespace

Result<std::unique_ptr<Encoder>> MakeEncoder(const UpstreamConfig& config) {
  if (config.format == "json") return std::make_unique<JsonEncoder>();
  if (IsOtlpFormat(config.format)) return MakeOtlpEncoder(config);
  if (config.format == "langfuse-ingestion" || config.format == "braintrust-logs") {
    auto headers = CredentialHeaders(config);
    if (!headers) return Fail(headers.error());
    if (config.format == "langfuse-ingestion") return std::make_unique<LangfuseIngestionEncoder>(std::move(*headers));
    return std::make_unique<BraintrustLogsEncoder>(std::move(*headers));
  }
  return Fail(Error::Invalid("format \"" + config.format + "\" is not one of " + KnownFormats()));
}

// libdeflate rather than zlib: whole-buffer compression is all we need, and
// at level 1 it is faster than zlib's deflate with a smaller result
// (docs/architecture.md, dependencies).
// One compressor per thread and level, kept for the thread's life.
Status Gzip(std::string_view data, int level, std::string& out) {
  struct Compressors {
    libdeflate_compressor* by_level[13] = {};
    ~Compressors() {
      for (auto* c : by_level) {
        if (c != nullptr) libdeflate_free_compressor(c);
      }
    }
  };
  thread_local Compressors compressors;
  if (level < 1 || level > 12) return Fail(Error::Invalid("gzip: level must be 1..12"));
  libdeflate_compressor*& c = compressors.by_level[level];
  if (c == nullptr) c = libdeflate_alloc_compressor(level);
  if (c == nullptr) return Fail(Error::Invalid("gzip: cannot allocate a compressor"));
  const size_t start = out.size();
  const size_t bound = libdeflate_gzip_compress_bound(c, data.size());
  out.resize(start + bound);
  size_t n = libdeflate_gzip_compress(c, data.data(), data.size(), out.data() + start, bound);
  if (n == 0) {
    out.resize(start);
    return Fail(Error::Invalid("gzip: compression failed"));
  }
  out.resize(start + n);
  return {};
}

}  // namespace spanvault::upstream
