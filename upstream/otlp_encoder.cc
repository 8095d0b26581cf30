// OTLP/HTTP as an upstream format (contract: otlp_encoder.h). The request
// body itself is upstream/format/otlp_export's, the options and the headers
// they make config/upstream_options'; this file makes the encoder and reads
// the answer.
#include "upstream/otlp_encoder.h"

#include <optional>
#include <utility>

#include "config/upstream_config.h"
#include "upstream/format/otlp_export.h"

namespace spanvault::upstream {
namespace {

// Longest partial_success message kept (it ends up in logs and status).
constexpr size_t kMaxNote = 1024;

using Headers = std::vector<std::pair<std::string, std::string>>;

class OtlpEncoder final : public Encoder {
 public:
  OtlpEncoder(bool proto, otlp::Dialect dialect, Headers headers)
      : proto_(proto), options_{dialect}, headers_(std::move(headers)) {}

  std::string_view content_type() const override { return proto_ ? "application/x-protobuf" : "application/json"; }
  Headers extra_headers() const override { return headers_; }

  Status Encode(std::span<const std::string_view> spans, std::string& out) const override {
    return proto_ ? otlp::EncodeExportProto(spans, options_, out) : otlp::EncodeExportJson(spans, options_, out);
  }

  std::optional<SuccessNote> InspectSuccess(std::string_view content_type, std::string_view body,
                                            std::span<const std::string_view>) const override {
    if (body.empty()) return std::nullopt;
    // The answer is in the request's encoding unless it says otherwise; a
    // missing Content-Type is told apart by the first byte (a JSON object
    // starts with '{', the response message with field 1's key 0x0a).
    bool json = !proto_;
    if (content_type.find("json") != std::string_view::npos) {
      json = true;
    } else if (content_type.find("protobuf") != std::string_view::npos) {
      json = false;
    } else if (content_type.empty()) {
      size_t i = body.find_first_not_of(" \t\r\n");
      json = i != std::string_view::npos && body[i] == '{';
    }
    auto ps = json ? otlp::DecodeExportResponseJson(body) : otlp::DecodeExportResponseProto(body);
    if (!ps) return std::nullopt;
    return SuccessNote{ps->rejected_spans, ps->error_message.substr(0, kMaxNote), {}};
  }

 private:
  bool proto_;
  otlp::ExportOptions options_;
  Headers headers_;  // resolved credentials; never logged
};

}  // namespace

Result<std::unique_ptr<Encoder>> MakeOtlpEncoder(const UpstreamConfig& c) {
  auto headers = CredentialHeaders(c);
  if (!headers) return Fail(headers.error());
  return std::make_unique<OtlpEncoder>(c.format == "otlp-proto", *otlp::ParseDialect(c.dialect), std::move(*headers));
}

}  // namespace spanvault::upstream
