// OTLP/HTTP as an upstream format (contract: otlp_encoder.h). The request
// body itself is upstream/format/otlp_export's; this file owns the options, the headers
// and reading the answer.
#include "upstream/otlp_encoder.h"

#include <optional>
#include <utility>

#include "upstream/format/otlp_export.h"
#include "upstream/upstream_config.h"

namespace spanvault::upstream {
namespace {

// Longest partial_success message kept (it ends up in logs and status).
constexpr size_t kMaxNote = 1024;

using Headers = std::vector<std::pair<std::string, std::string>>;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

bool HasHeader(const UpstreamConfig& c, std::string_view name) {
  for (const auto& [h, v] : c.headers) {
    if (EqualsIgnoreCase(h, name)) return true;
  }
  return false;
}

struct Option {
  std::string_view name;
  std::string UpstreamConfig::*member;
};
const Option kOptions[] = {{"public_key", &UpstreamConfig::public_key},
                           {"secret_key", &UpstreamConfig::secret_key},
                           {"api_key", &UpstreamConfig::api_key},
                           {"parent", &UpstreamConfig::parent}};

bool Uses(otlp::Dialect d, std::string_view option) {
  switch (d) {
    case otlp::Dialect::kLangfuse:
      return option == "public_key" || option == "secret_key";
    case otlp::Dialect::kBraintrust:
      return option == "api_key" || option == "parent";
    case otlp::Dialect::kBrokle:
      return option == "api_key";
    default:
      return false;
  }
}

// ${ENV} and @file as for header values; errors name the option, never the value.
Result<std::string> ResolveOption(std::string_view option, const std::string& raw) {
  auto r = ResolveHeaders({{std::string(option), raw}});
  if (!r) {
    std::string m = r.error().message;
    if (m.starts_with("header ")) m.replace(0, 7, "option ");
    return Fail(Error::Invalid(std::move(m)));
  }
  if (r->front().second.empty()) return Fail(Error::Invalid("option " + std::string(option) + " is empty"));
  return std::move(r->front().second);
}

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

bool IsOtlpFormat(std::string_view format) { return format == "otlp-proto" || format == "otlp-json"; }

namespace {

// Whose credential rules a format follows: an OTLP format its dialect's;
// langfuse-ingestion Langfuse's, braintrust-logs Braintrust's. nullopt: none
// (json, or an unknown dialect).
std::optional<otlp::Dialect> CredentialDialect(const UpstreamConfig& c) {
  if (IsOtlpFormat(c.format)) return otlp::ParseDialect(c.dialect);
  if (c.format == "langfuse-ingestion") return otlp::Dialect::kLangfuse;
  if (c.format == "braintrust-logs") return otlp::Dialect::kBraintrust;
  return std::nullopt;
}

// What the user calls it in messages: "dialect langfuse" or "format braintrust-logs".
std::string Whose(const UpstreamConfig& c) {
  return IsOtlpFormat(c.format) ? "dialect " + c.dialect : "format " + c.format;
}

}  // namespace

std::vector<std::string> OtlpOptionProblems(const UpstreamConfig& c) {
  std::vector<std::string> p;
  const bool otlp_format = IsOtlpFormat(c.format);
  if (otlp_format && !otlp::ParseDialect(c.dialect)) {
    p.push_back("dialect \"" + c.dialect + "\" is not one of " + otlp::KnownDialects());
    return p;
  }
  if (!otlp_format && c.dialect != "otel") p.push_back("dialect applies only to the formats otlp-proto and otlp-json");
  const std::optional<otlp::Dialect> dialect = CredentialDialect(c);
  if (!dialect) {
    for (const Option& o : kOptions) {
      if (!(c.*o.member).empty()) {
        p.push_back(std::string(o.name) +
                    " applies only to the formats otlp-proto, otlp-json, langfuse-ingestion and braintrust-logs");
      }
    }
    return p;
  }
  const bool logs = c.format == "braintrust-logs";
  for (const Option& o : kOptions) {
    const std::string& raw = c.*o.member;
    if (raw.empty()) continue;
    if (!Uses(*dialect, o.name)) {
      p.push_back(std::string(o.name) + " is not used by " + Whose(c));
    } else if (auto v = ResolveOption(o.name, raw); !v) {
      p.push_back(v.error().message);
    } else if (o.name == "parent" && logs && !v->starts_with("project_id:")) {
      p.push_back("parent must look like project_id:ID for format braintrust-logs (it names the project to log to)");
    } else if (o.name == "parent" && v->find(':') == std::string::npos) {
      p.push_back("parent must look like project_id:ID, project_name:NAME or experiment_id:ID");
    }
  }
  // Credentials come from the options or from a hand-written header.
  auto need = [&](bool have_option, std::string_view header, const std::string& what) {
    const bool have_header = HasHeader(c, header);
    if (have_option && have_header) {
      p.push_back("set " + what + " or headers." + std::string(header) + ", not both");
    } else if (!have_option && !have_header) {
      p.push_back(Whose(c) + " needs " + what + " (or headers." + std::string(header) + ")");
    }
  };
  switch (*dialect) {
    case otlp::Dialect::kLangfuse:
      if (c.public_key.empty() != c.secret_key.empty()) {
        p.push_back(Whose(c) + " needs both public_key and secret_key");
      } else {
        need(!c.public_key.empty(), "Authorization", "public_key and secret_key");
      }
      break;
    case otlp::Dialect::kBraintrust:
      need(!c.api_key.empty(), "Authorization", "api_key");
      // braintrust-logs names the project in the path, not in a header.
      if (!logs) need(!c.parent.empty(), "x-bt-parent", "parent");
      break;
    case otlp::Dialect::kBrokle:
      need(!c.api_key.empty(), "X-API-Key", "api_key");
      break;
    default:
      break;
  }
  return p;
}

Result<Headers> CredentialHeaders(const UpstreamConfig& c) {
  if (auto problems = OtlpOptionProblems(c); !problems.empty()) return Fail(Error::Invalid(problems.front()));
  Headers headers;
  const std::optional<otlp::Dialect> dialect = CredentialDialect(c);
  if (!dialect) return headers;
  auto add = [&](std::string name, std::string prefix, std::string_view option, const std::string& raw) -> Status {
    if (raw.empty()) return {};
    auto v = ResolveOption(option, raw);
    if (!v) return Fail(v.error());
    headers.emplace_back(std::move(name), prefix + *v);
    return {};
  };
  Status st;
  switch (*dialect) {
    case otlp::Dialect::kLangfuse:
      if (!c.public_key.empty()) {
        auto pk = ResolveOption("public_key", c.public_key);
        if (!pk) return Fail(pk.error());
        auto sk = ResolveOption("secret_key", c.secret_key);
        if (!sk) return Fail(sk.error());
        headers.emplace_back("Authorization", "Basic " + Base64(*pk + ":" + *sk));
      }
      break;
    case otlp::Dialect::kBraintrust:
      st = add("Authorization", "Bearer ", "api_key", c.api_key);
      if (st && IsOtlpFormat(c.format)) st = add("x-bt-parent", "", "parent", c.parent);
      break;
    case otlp::Dialect::kBrokle:
      st = add("X-API-Key", "", "api_key", c.api_key);
      break;
    default:
      break;
  }
  if (!st) return Fail(st.error());
  return headers;
}

Result<std::unique_ptr<Encoder>> MakeOtlpEncoder(const UpstreamConfig& c) {
  auto headers = CredentialHeaders(c);
  if (!headers) return Fail(headers.error());
  return std::make_unique<OtlpEncoder>(c.format == "otlp-proto", *otlp::ParseDialect(c.dialect), std::move(*headers));
}

std::string Base64(std::string_view data) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(data[i]) << 16 | static_cast<uint8_t>(data[i + 1]) << 8 |
                 static_cast<uint8_t>(data[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(n >> s) & 63]);
  }
  if (size_t rest = data.size() - i; rest > 0) {
    uint32_t n = static_cast<uint8_t>(data[i]) << 16;
    if (rest == 2) n |= static_cast<uint8_t>(data[i + 1]) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

}  // namespace spanvault::upstream
