#include "config/upstream_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include "common/toml_text.h"
#include "common/util.h"
#include "config/endpoint.h"
#include "config/upstream_options.h"

namespace spanvault::upstream {
namespace {

using std::chrono::milliseconds;

// How a value is written in TOML (the config reference shows defaults so).
enum class Kind { kString, kNumber, kSize, kDuration, kBool };

struct KeyDef {
  std::string_view name;
  std::string_view help;
  std::function<std::string(UpstreamConfig&, std::string_view)> set;
  std::function<std::string(const UpstreamConfig&)> get;
  Kind kind = Kind::kString;
  // What docs/configuration.md and etc/spanvault.toml show beside the key
  // (lines separated by '\n'; UpstreamKeyDocs()).
  std::string_view comment = {};
  // The value shown instead of the default (a TOML value), for the required
  // keys, which have none.
  std::string_view example = {};

  KeyDef Doc(std::string_view c, std::string_view e = {}) && {
    comment = c;
    example = e;
    return std::move(*this);
  }
};

std::string Bad(std::string_view value, std::string_view expected) {
  return "\"" + std::string(value) + "\" is not " + std::string(expected);
}

std::optional<uint64_t> ParseUint(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

KeyDef Duration(std::string_view name, std::string_view help, milliseconds UpstreamConfig::*m) {
  return {name, help,
          [m](UpstreamConfig& c, std::string_view v) -> std::string {
            auto d = ParseDuration(v);
            if (!d) return Bad(v, "a duration like 500ms, 10s, 5m");
            c.*m = *d;
            return {};
          },
          [m](const UpstreamConfig& c) { return FormatDuration(c.*m); }, Kind::kDuration};
}

KeyDef RetryDuration(std::string_view name, std::string_view help, milliseconds RetryOptions::*m) {
  return {name, help,
          [m](UpstreamConfig& c, std::string_view v) -> std::string {
            auto d = ParseDuration(v);
            if (!d) return Bad(v, "a duration like 500ms, 10s, 5m");
            c.retry.*m = *d;
            return {};
          },
          [m](const UpstreamConfig& c) { return FormatDuration(c.retry.*m); }, Kind::kDuration};
}

template <typename T>
KeyDef Size(std::string_view name, std::string_view help, T UpstreamConfig::*m) {
  return {name, help,
          [m](UpstreamConfig& c, std::string_view v) -> std::string {
            auto n = ParseSize(v);
            if (!n) return Bad(v, "a size like 4MiB or a byte count");
            c.*m = static_cast<T>(*n);
            return {};
          },
          [m](const UpstreamConfig& c) { return std::to_string(c.*m); }, Kind::kSize};
}

template <typename T>
KeyDef Count(std::string_view name, std::string_view help, T UpstreamConfig::*m) {
  return {name, help,
          [m](UpstreamConfig& c, std::string_view v) -> std::string {
            auto n = ParseUint(v);
            if (!n || *n > 1000000000ull) return Bad(v, "a non-negative integer");
            c.*m = static_cast<T>(*n);
            return {};
          },
          [m](const UpstreamConfig& c) { return std::to_string(c.*m); }, Kind::kNumber};
}

KeyDef Bool(std::string_view name, std::string_view help, bool UpstreamConfig::*m) {
  return {name, help,
          [m](UpstreamConfig& c, std::string_view v) -> std::string {
            if (v == "true" || v == "1" || v == "yes" || v == "on") {
              c.*m = true;
            } else if (v == "false" || v == "0" || v == "no" || v == "off") {
              c.*m = false;
            } else {
              return Bad(v, "true or false");
            }
            return {};
          },
          [m](const UpstreamConfig& c) { return std::string(c.*m ? "true" : "false"); }, Kind::kBool};
}

KeyDef String(std::string_view name, std::string_view help, std::string UpstreamConfig::*m) {
  return {name, help,
          [m](UpstreamConfig& c, std::string_view v) -> std::string {
            c.*m = std::string(v);
            return {};
          },
          [m](const UpstreamConfig& c) { return c.*m; }};
}

// Every key of an [[upstream]] table (but headers.NAME: SetUpstreamKey). The
// comments and examples are what docs/configuration.md and
// etc/spanvault.toml show (`spanvaultd --print-config-reference`).
const std::vector<KeyDef>& Keys() {
  static const std::vector<KeyDef> keys = {
      String("name", "unique name (letters, digits, _ . -); names its cursor in the buffer", &UpstreamConfig::name)
          .Doc("required: A-Z a-z 0-9 _ . - (names its cursor in the buffer)", "\"collector\""),
      String("endpoint", "http:// or https:// URL the batches are POSTed to", &UpstreamConfig::endpoint)
          .Doc("required: http:// or https://", "\"https://otel.example.com/v1/spans\""),
      String("format",
             "json (canonical spans as {\"spans\": [...]}), otlp-proto or otlp-json (OTLP/HTTP), "
             "langfuse-ingestion (POST /api/public/ingestion) or braintrust-logs (/v1/project_logs/ID/insert)",
             &UpstreamConfig::format)
          .Doc("json | otlp-proto | otlp-json | langfuse-ingestion | braintrust-logs"),
      String("dialect", "OTLP formats: what the backend reads: otel, langfuse, braintrust, brokle, openinference",
             &UpstreamConfig::dialect)
          .Doc("OTLP formats: otel | langfuse | braintrust | brokle | openinference"),
      String("public_key", "dialect langfuse, langfuse-ingestion: public key (Basic auth user); ${ENV} or @/path",
             &UpstreamConfig::public_key)
          .Doc("langfuse, langfuse-ingestion: Basic auth user (${ENV} / @file)"),
      String("secret_key", "dialect langfuse, langfuse-ingestion: secret key (Basic auth password); ${ENV} or @/path",
             &UpstreamConfig::secret_key)
          .Doc("langfuse, langfuse-ingestion: Basic auth password (${ENV} / @file)"),
      String("api_key",
             "dialect braintrust or braintrust-logs (Bearer), dialect brokle (X-API-Key): API key; ${ENV} or @/path",
             &UpstreamConfig::api_key)
          .Doc("braintrust, braintrust-logs (Bearer) / brokle (X-API-Key)"),
      String("parent",
             "dialect braintrust: x-bt-parent, e.g. project_name:my-project; braintrust-logs: project_id:ID "
             "(with a bare endpoint, builds the path)",
             &UpstreamConfig::parent)
          .Doc("braintrust: x-bt-parent, e.g. \"project_name:my-project\";\n"
               "braintrust-logs: \"project_id:ID\" with a bare endpoint"),
      Count("batch_max_spans", "spans per request", &UpstreamConfig::batch_max_spans).Doc("spans per request"),
      Size("batch_max_bytes", "span bytes per request (before compression)", &UpstreamConfig::batch_max_bytes)
          .Doc("span JSON per request, before compression"),
      Duration("linger", "how long a partial batch waits for more spans", &UpstreamConfig::linger)
          .Doc("how long a partial batch waits"),
      Bool("gzip", "gzip request bodies", &UpstreamConfig::gzip).Doc("gzip request bodies"),
      Count("gzip_level", "zlib level 1 (fastest) .. 9 (smallest)", &UpstreamConfig::gzip_level)
          .Doc("1 (fastest) .. 9"),
      Count("concurrency", "requests in flight", &UpstreamConfig::concurrency).Doc("requests in flight"),
      Duration("timeout", "deadline of one attempt (connect, TLS, send, answer)", &UpstreamConfig::timeout)
          .Doc("one attempt: connect + TLS + send + answer"),
      RetryDuration("retry.initial", "first backoff (full jitter)", &RetryOptions::initial)
          .Doc("first backoff (full jitter)"),
      RetryDuration("retry.max", "longest backoff", &RetryOptions::max).Doc("longest backoff"),
      KeyDef{"retry.multiplier", "backoff growth per failed attempt",
             [](UpstreamConfig& c, std::string_view v) -> std::string {
               double d = 0;
               auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
               if (ec != std::errc() || p != v.data() + v.size() || d < 1.0 || d > 10.0) {
                 return Bad(v, "a number between 1 and 10");
               }
               c.retry.multiplier = d;
               return {};
             },
             [](const UpstreamConfig& c) {
               std::ostringstream o;
               o << c.retry.multiplier;
               return o.str();
             },
             Kind::kNumber}
          .Doc("backoff growth per failed attempt (1 .. 10)"),
      RetryDuration("retry.auth_pause", "pause after 401/403 (wrong credentials) or a redirect",
                    &RetryOptions::auth_pause)
          .Doc("after 401/403/3xx"),
      RetryDuration("retry.max_retry_after", "longest Retry-After honoured", &RetryOptions::max_retry_after)
          .Doc("longest Retry-After honoured"),
      String("tls_ca_file", "PEM file of trusted CAs (default: the system store)", &UpstreamConfig::tls_ca_file)
          .Doc("PEM of trusted CAs; default: the system store"),
      Bool("tls_insecure_skip_verify", "skip certificate verification (never in production)",
           &UpstreamConfig::tls_insecure_skip_verify)
          .Doc("logged as a warning when true"),
      Size("max_response_bytes", "largest answer accepted", &UpstreamConfig::max_response_bytes)
          .Doc("largest answer accepted"),
  };
  return keys;
}

// The value a key shows in the reference: its example, else its default.
std::string ReferenceValue(const KeyDef& k) {
  if (!k.example.empty()) return std::string(k.example);
  std::string v = k.get(UpstreamConfig{});
  switch (k.kind) {
    case Kind::kString:
      return TomlQuote(v);
    case Kind::kDuration:
      return "\"" + v + "\"";
    case Kind::kSize:
      return TomlSize(ParseSize(v).value_or(0));
    case Kind::kNumber:
    case Kind::kBool:
      return v;
  }
  return v;
}

bool ValidName(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool ValidHeaderName(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    // RFC 9110 token characters.
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
    if (!ok || c == '\0') return false;
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsLoopbackHost(const std::string& host) {
  std::string h = Lower(host);
  if (h == "localhost" || h.ends_with(".localhost")) return true;
  in_addr a4{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
  }
  return false;
}

bool LooksLikeCredential(std::string_view header) {
  std::string h = Lower(header);
  if (h == "authorization" || h == "proxy-authorization" || h == "cookie") return true;
  for (std::string_view part : {"key", "token", "secret", "auth", "password", "session"}) {
    if (h.find(part) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

std::string RedactEndpoint(std::string_view url) {
  std::string out;
  size_t sep = url.find("://");
  size_t start = 0;
  if (sep != std::string_view::npos) {
    start = sep + 3;
    out.append(url.substr(0, start));
  }
  std::string_view rest = url.substr(start);
  // User info: up to the last '@' before the query or fragment.
  size_t query_or_fragment = rest.find_first_of("?#");
  size_t at = rest.substr(0, query_or_fragment).rfind('@');
  if (at != std::string_view::npos) {
    out += "***@";
    rest = rest.substr(at + 1);
    query_or_fragment = rest.find_first_of("?#");
  }
  // A "port" that is not a number is probably a password without its '@'.
  std::string_view before_query = rest.substr(0, query_or_fragment);
  size_t path = before_query.find('/');
  std::string_view authority = before_query.substr(0, path);
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos &&
      !std::all_of(authority.begin() + colon + 1, authority.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    out.append(authority.substr(0, colon + 1));
    out += "***";
    out.append(before_query.substr(authority.size()));
  } else {
    out.append(before_query);
  }
  if (query_or_fragment == std::string_view::npos) return out;
  rest = rest.substr(query_or_fragment);
  if (rest.front() == '?') {
    out.push_back('?');
    size_t hash = rest.find('#');
    std::string_view query = rest.substr(1, hash == std::string_view::npos ? std::string_view::npos : hash - 1);
    size_t pos = 0;
    while (pos <= query.size()) {
      size_t amp = query.find('&', pos);
      if (amp == std::string_view::npos) amp = query.size();
      std::string_view param = query.substr(pos, amp - pos);
      if (pos > 0) out.push_back('&');
      size_t eq = param.find('=');
      if (eq != std::string_view::npos) {
        out.append(param.substr(0, eq + 1));
        out += "***";
      } else if (!param.empty()) {
        out += "***";
      }
      pos = amp + 1;
    }
    rest = hash == std::string_view::npos ? std::string_view() : rest.substr(hash);
  }
  if (!rest.empty()) out += "#***";
  return out;
}

std::vector<std::string> CleartextCredentials(const UpstreamConfig& config) {
  auto e = ParseEndpoint(config.endpoint);
  if (!e || e->tls || IsLoopbackHost(e->host)) return {};
  std::vector<std::string> out;
  for (const auto& [name, value] : config.headers) {
    if (LooksLikeCredential(name)) out.push_back(name);
  }
  if (!config.public_key.empty()) out.emplace_back("public_key");
  if (!config.secret_key.empty()) out.emplace_back("secret_key");
  if (!config.api_key.empty()) out.emplace_back("api_key");
  return out;
}

std::string SetUpstreamKey(UpstreamConfig& config, std::string_view key, std::string_view value) {
  if (key == "processors") {
    // Comma-separated (the TOML array, joined by the loader).
    config.processors.clear();
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      if (comma == std::string_view::npos) comma = value.size();
      std::string_view item = value.substr(start, comma - start);
      if (!item.empty()) config.processors.emplace_back(item);
      start = comma + 1;
    }
    return {};
  }
  if (key.starts_with("headers.")) {
    std::string_view header = key.substr(8);
    if (!ValidHeaderName(header)) return "\"" + std::string(header) + "\" is not a valid header name";
    for (auto& [name, v] : config.headers) {
      if (name == header) {
        v = std::string(value);
        return {};
      }
    }
    config.headers.emplace_back(std::string(header), std::string(value));
    return {};
  }
  for (const KeyDef& k : Keys()) {
    if (k.name == key) return k.set(config, value);
  }
  return "unknown key";
}

std::string DescribeUpstreamKeys() {
  UpstreamConfig defaults;
  std::string out;
  for (const KeyDef& k : Keys()) {
    out += "  " + std::string(k.name) + " = " + k.get(defaults) + "   # " + std::string(k.help) + "\n";
  }
  out += "  headers.NAME = VALUE   # extra request header; VALUE may hold ${ENV} or be @/path/to/file\n";
  out += "  processors = []   # [[processor]] names applied in order before sending (docs/processors.md)\n";
  return out;
}

std::vector<UpstreamKeyDoc> UpstreamKeyDocs() {
  std::vector<UpstreamKeyDoc> out;
  for (const KeyDef& k : Keys()) {
    out.push_back({std::string(k.name), ReferenceValue(k), std::string(k.comment)});
    // processors: a list (not a table key), shown after the format's keys.
    if (k.name == "dialect") {
      out.push_back({"processors", "[]",
                     "[[processor]] names applied in order to each span before it is sent,\n"
                     "e.g. [\"pii\", \"keep-10pct\"] (docs/processors.md)"});
    }
    // headers.NAME keys: shown as one inline table after the dialect's keys.
    if (k.name == "parent") {
      out.push_back(
          {"headers", R"({ Authorization = "Bearer ${COLLECTOR_TOKEN}", "X-Api-Key" = "@/etc/spanvault/key" })", ""});
    }
  }
  return out;
}

std::vector<std::string> UpstreamConfig::Validate() const {
  std::vector<std::string> p;
  std::string prefix = "upstream " + (name.empty() ? std::string("(unnamed)") : name) + ": ";
  if (!ValidName(name)) p.push_back(prefix + "name must be 1-64 of A-Z a-z 0-9 _ . -");
  if (endpoint.empty()) {
    p.push_back(prefix + "endpoint is required");
  } else if (auto e = ParseEndpoint(endpoint); !e) {
    p.push_back(prefix + e.error().message);
  }
  if (!IsKnownFormat(format)) p.push_back(prefix + "format \"" + format + "\" is not one of " + KnownFormats());
  if (batch_max_spans < 1 || batch_max_spans > 100000) p.push_back(prefix + "batch_max_spans must be 1..100000");
  if (batch_max_bytes < 1024 || batch_max_bytes > (256ull << 20)) {
    p.push_back(prefix + "batch_max_bytes must be between 1 KiB and 256 MiB");
  }
  if (gzip_level < 1 || gzip_level > 9) p.push_back(prefix + "gzip_level must be 1..9");
  if (concurrency < 1 || concurrency > 256) p.push_back(prefix + "concurrency must be 1..256");
  if (timeout.count() < 1) p.push_back(prefix + "timeout must be at least 1ms");
  if (retry.initial.count() < 1) p.push_back(prefix + "retry.initial must be at least 1ms");
  if (retry.max < retry.initial) p.push_back(prefix + "retry.max must be at least retry.initial");
  if (retry.auth_pause.count() < 1) p.push_back(prefix + "retry.auth_pause must be at least 1ms");
  if (max_response_bytes < 1024) p.push_back(prefix + "max_response_bytes must be at least 1 KiB");
  for (const auto& [h, v] : headers) {
    std::string lower;
    for (char c : h) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (lower == "host" || lower == "content-length" || lower == "content-encoding" || lower == "transfer-encoding" ||
        lower == "connection") {
      p.push_back(prefix + "header " + h + " is set by spanvault and cannot be configured");
    }
  }
  if (auto r = ResolveHeaders(headers); !r) p.push_back(prefix + r.error().message);
  auto options = OtlpOptionProblems(*this);
  for (std::string& m : options) p.push_back(prefix + std::move(m));
  if (options.empty() && IsKnownFormat(format) && !endpoint.empty() && ParseEndpoint(endpoint)) {
    if (auto e = EffectiveEndpoint(*this); !e) p.push_back(prefix + e.error().message);
  }
  return p;
}

Result<std::vector<std::pair<std::string, std::string>>> ResolveHeaders(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(headers.size());
  for (const auto& [name, raw] : headers) {
    std::string value;
    if (raw.starts_with("@")) {
      std::string path = raw.substr(1);
      std::ifstream f(path, std::ios::binary);
      if (!f) {
        return Fail(Error::Invalid("header " + name + ": cannot read " + path + ": " + std::strerror(errno)));
      }
      std::ostringstream s;
      s << f.rdbuf();
      value = s.str();
      while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    } else {
      size_t i = 0;
      while (i < raw.size()) {
        if (raw.compare(i, 2, "${") == 0) {
          size_t end = raw.find('}', i + 2);
          if (end == std::string::npos) return Fail(Error::Invalid("header " + name + ": unterminated ${"));
          std::string var = raw.substr(i + 2, end - i - 2);
          const char* v = var.empty() ? nullptr : std::getenv(var.c_str());
          if (v == nullptr) {
            return Fail(Error::Invalid("header " + name + ": environment variable " + var + " is not set"));
          }
          value += v;
          i = end + 1;
        } else {
          value.push_back(raw[i++]);
        }
      }
    }
    for (char c : value) {
      if (c == '\r' || c == '\n' || c == '\0') {
        return Fail(Error::Invalid("header " + name + ": the value holds a line break or NUL"));
      }
    }
    out.emplace_back(name, std::move(value));
  }
  return out;
}

}  // namespace spanvault::upstream
