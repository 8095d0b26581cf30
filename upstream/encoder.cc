#include "upstream/encoder.h"

#include <zlib.h>

#include "upstream/otlp_encoder.h"
#include "upstream/upstream_config.h"

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

}  // namespace

bool IsKnownFormat(std::string_view format) { return format == "json" || IsOtlpFormat(format); }
std::string KnownFormats() { return "json, otlp-proto, otlp-json"; }

Result<std::unique_ptr<Encoder>> MakeEncoder(const UpstreamConfig& config) {
  if (config.format == "json") return std::make_unique<JsonEncoder>();
  if (IsOtlpFormat(config.format)) return MakeOtlpEncoder(config);
  return Fail(Error::Invalid("format \"" + config.format + "\" is not one of " + KnownFormats()));
}

Status Gzip(std::string_view data, int level, std::string& out) {
  z_stream z{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Fail(Error::Invalid("gzip: deflateInit2 failed"));
  }
  size_t start = out.size();
  size_t bound = deflateBound(&z, static_cast<uLong>(data.size()));
  out.resize(start + bound);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data() + start);
  z.avail_out = static_cast<uInt>(bound);
  int rc = deflate(&z, Z_FINISH);
  size_t written = bound - z.avail_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    out.resize(start);
    return Fail(Error::Invalid("gzip: deflate failed (" + std::to_string(rc) + ")"));
  }
  out.resize(start + written);
  return {};
}

}  // namespace spanvault::upstream
