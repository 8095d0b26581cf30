#include "ipc/http_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>

namespace spanvault::ipc {
namespace {

// Request headers a page from an allowed origin may send (the preflight
// answer lists those it asked for among these): what OTLP/HTTP exporters in
// browsers send, and the CORS-safelisted ones.
constexpr std::string_view kSafeRequestHeaders[] = {"content-type",    "content-encoding", "accept",
                                                    "accept-language", "content-language", "traceparent",
                                                    "tracestate",      "baggage"};
// Longest piece of a client's header quoted in a refusal.
constexpr size_t kQuoteMax = 128;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A client's header value for a message: quoted, cut, printable ASCII only.
std::string Quote(std::string_view v) {
  std::string out = "\"";
  for (char c : v.substr(0, kQuoteMax)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (v.size() > kQuoteMax) out += "...";
  return out + "\"";
}

// "4318" → 4318; nullopt for anything but 1-5 digits in 1..65535.
std::optional<uint16_t> ParsePort(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

bool IsLoopbackV4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

bool IsLoopbackV6(const std::string& s) {
  in6_addr a{};
  if (inet_pton(AF_INET6, s.c_str(), &a) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
  return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
}

// "localhost" or "NAME.localhost" with DNS labels of letters, digits and '-'.
bool IsLocalhostName(std::string_view name) {
  if (name == "localhost") return true;
  if (!name.ends_with(".localhost")) return false;
  std::string_view labels = name.substr(0, name.size() - 10);
  if (labels.empty()) return false;
  size_t start = 0;
  while (start <= labels.size()) {
    size_t dot = labels.find('.', start);
    if (dot == std::string_view::npos) dot = labels.size();
    std::string_view label = labels.substr(start, dot - start);
    if (label.empty() || label.size() > 63) return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    start = dot + 1;
  }
  return true;
}

// Splits "host[:port]" / "[v6][:port]" (lowercased): the host without
// brackets, whether it was bracketed, and the port text (nullopt: none).
struct Authority {
  std::string host;
  bool bracketed = false;
  std::optional<std::string_view> port;
};
std::optional<Authority> SplitAuthority(std::string_view a) {
  Authority out;
  if (a.empty()) return std::nullopt;
  std::string_view rest;
  if (a.front() == '[') {
    size_t close = a.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = Lower(a.substr(1, close - 1));
    out.bracketed = true;
    rest = a.substr(close + 1);
  } else {
    size_t colon = a.find(':');
    if (colon != std::string_view::npos && a.find(':', colon + 1) != std::string_view::npos) return std::nullopt;
    out.host = Lower(a.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : a.substr(colon);
  }
  if (out.host.empty()) return std::nullopt;
  if (!rest.empty()) {
    if (rest.front() != ':') return std::nullopt;
    out.port = rest.substr(1);
  }
  return out;
}

bool IsLoopbackAuthority(const Authority& a, uint16_t port) {
  if (a.port) {
    auto p = ParsePort(*a.port);
    if (!p || *p != port) return false;
  } else if (port != 80) {
    return false;
  }
  if (a.bracketed) return IsLoopbackV6(a.host);
  return IsLocalhostName(a.host) || IsLoopbackV4(a.host);
}

// The listener's own origin: http:// and a loopback host with its port.
bool IsOwnOrigin(std::string_view normalized, uint16_t port) {
  if (!normalized.starts_with("http://")) return false;
  auto a = SplitAuthority(normalized.substr(7));
  // Normalized origins leave port 80 out; IsLoopbackAuthority takes that.
  return a && IsLoopbackAuthority(*a, port);
}

bool Allowed(std::string_view origin, const HttpPolicy& policy) {
  if (origin == "null") return std::find(policy.allowed_origins.begin(), policy.allowed_origins.end(), "*") !=
                                policy.allowed_origins.end();
  // Only a well-formed origin is ever allowed, even under "*": the answer
  // echoes it in Access-Control-Allow-Origin.
  auto normalized = NormalizeOrigin(origin);
  if (!normalized || *normalized == "*") return false;
  for (const std::string& o : policy.allowed_origins) {
    if (o == "*") return true;
  }
  if (IsOwnOrigin(*normalized, policy.port)) return true;
  return std::find(policy.allowed_origins.begin(), policy.allowed_origins.end(), *normalized) !=
         policy.allowed_origins.end();
}

HttpVerdict Refuse(HttpRefusal why, unsigned status, std::string reason) {
  HttpVerdict v;
  v.kind = HttpVerdict::Kind::kRefuse;
  v.refusal = why;
  v.status = status;
  v.reason = std::move(reason);
  return v;
}

bool KnownRoute(std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  return path == "/v1/traces" || path == "/api/public/otel/v1/traces" || path == "/v1/spans" || path == "/healthz" ||
         path == "/readyz" || path == "/metrics";
}

// The requested headers that are safe, lowercased, comma-separated.
std::string SafeRequestedHeaders(std::string_view requested) {
  std::string out;
  std::vector<std::string> seen;
  size_t start = 0;
  while (start <= requested.size()) {
    size_t comma = requested.find(',', start);
    if (comma == std::string_view::npos) comma = requested.size();
    std::string name = Lower(Trim(requested.substr(start, comma - start)));
    start = comma + 1;
    if (name.empty()) continue;
    bool safe = std::find(std::begin(kSafeRequestHeaders), std::end(kSafeRequestHeaders), name) !=
                std::end(kSafeRequestHeaders);
    if (!safe || std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    out += (out.empty() ? "" : ", ") + name;
    seen.push_back(std::move(name));
  }
  return out;
}

}  // namespace

std::string_view HttpRefusalName(HttpRefusal reason) {
  switch (reason) {
    case HttpRefusal::kHost:
      return "host";
    case HttpRefusal::kOrigin:
      return "origin";
    case HttpRefusal::kCrossSite:
      return "cross_site";
    case HttpRefusal::kPreflight:
      return "preflight";
  }
  return "unknown";
}

bool IsLoopbackHost(std::string_view host, uint16_t port) {
  auto a = SplitAuthority(Trim(host));
  return a && IsLoopbackAuthority(*a, port);
}

Result<std::string> NormalizeOrigin(std::string_view origin) {
  if (origin == "*") return std::string("*");
  auto bad = [&](std::string_view why) {
    return Fail(Error::Invalid(Quote(origin) + " is not an origin (scheme://host[:port]): " + std::string(why)));
  };
  size_t sep = origin.find("://");
  if (sep == std::string_view::npos || sep == 0) return bad("no scheme");
  std::string scheme = Lower(origin.substr(0, sep));
  if (!std::isalpha(static_cast<unsigned char>(scheme.front()))) return bad("bad scheme");
  for (char c : scheme) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return bad("bad scheme");
  }
  std::string_view authority = origin.substr(sep + 3);
  if (authority.find_first_of("/?#") != std::string_view::npos) return bad("no path, query or fragment (not even /)");
  if (authority.find('@') != std::string_view::npos) return bad("no user info");
  auto a = SplitAuthority(authority);
  if (!a) return bad("bad host");
  if (a->bracketed) {
    in6_addr v6{};
    if (inet_pton(AF_INET6, a->host.c_str(), &v6) != 1) return bad("bad IPv6 address");
  } else {
    for (char c : a->host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') return bad("bad host");
    }
  }
  std::string out = scheme + "://" + (a->bracketed ? "[" + a->host + "]" : a->host);
  if (a->port) {
    auto p = ParsePort(*a->port);
    if (!p) return bad("bad port");
    bool default_port = (scheme == "http" && *p == 80) || (scheme == "https" && *p == 443);
    if (!default_port) out += ":" + std::to_string(*p);
  }
  return out;
}

HttpVerdict DecideRequest(const HttpRequestMeta& req, const HttpPolicy& policy) {
  // 1. Host.
  if (policy.check_host) {
    const std::string expected = "use 127.0.0.1:" + std::to_string(policy.port) +
                                 " or localhost:" + std::to_string(policy.port) + " (protection against DNS rebinding)";
    if (req.repeated_host) return Refuse(HttpRefusal::kHost, 400, "refused: more than one Host header");
    if (!req.host) {
      if (req.version >= 11) {
        return Refuse(HttpRefusal::kHost, 400, "refused: an HTTP/1.1 request needs a Host header; " + expected);
      }
    } else if (!IsLoopbackHost(*req.host, policy.port)) {
      return Refuse(
          HttpRefusal::kHost, 403,
          "refused: Host " + Quote(*req.host) + " is not a loopback name with this listener's port; " + expected);
    }
  }
  if (req.repeated_origin) return Refuse(HttpRefusal::kOrigin, 403, "refused: more than one Origin header");
  const bool allowed = req.origin && Allowed(Trim(*req.origin), policy);
  std::vector<std::pair<std::string, std::string>> cors;
  if (allowed) {
    cors.emplace_back("Access-Control-Allow-Origin", std::string(Trim(*req.origin)));
    cors.emplace_back("Vary", "Origin");
  }
  // 4. Preflight.
  if (IEquals(req.method, "OPTIONS") && req.request_method && KnownRoute(req.target)) {
    if (!req.origin) return Refuse(HttpRefusal::kPreflight, 403, "refused: a CORS preflight without Origin");
    if (!allowed) {
      return Refuse(HttpRefusal::kPreflight, 403,
                    "refused: CORS preflight from Origin " + Quote(*req.origin) +
                        ", which is not in ingest.http_allowed_origins");
    }
    HttpVerdict v;
    v.kind = HttpVerdict::Kind::kPreflight;
    v.status = 204;
    v.headers = std::move(cors);
    v.headers.emplace_back("Access-Control-Allow-Methods", "POST, GET, OPTIONS");
    if (std::string h = SafeRequestedHeaders(req.request_headers); !h.empty()) {
      v.headers.emplace_back("Access-Control-Allow-Headers", std::move(h));
    }
    if (req.private_network) v.headers.emplace_back("Access-Control-Allow-Private-Network", "true");
    v.headers.emplace_back("Access-Control-Max-Age", std::to_string(kPreflightMaxAgeSeconds));
    return v;
  }
  // 2. Origin.
  if (req.origin && !allowed) {
    std::string hint = Trim(*req.origin) == "null" ? "only ingest.http_allowed_origins = [\"*\"] allows it"
                                                   : "add it to ingest.http_allowed_origins to allow it";
    return Refuse(HttpRefusal::kOrigin, 403,
                  "refused: Origin " + Quote(*req.origin) + " may not send requests here; " + hint);
  }
  // 3. Sec-Fetch-Site.
  if (!req.origin && req.sec_fetch_site && IEquals(Trim(*req.sec_fetch_site), "cross-site")) {
    return Refuse(HttpRefusal::kCrossSite, 403,
                  "refused: a cross-site browser request (Sec-Fetch-Site: cross-site) without an allowed Origin");
  }
  HttpVerdict v;
  v.headers = std::move(cors);
  return v;
}

std::optional<uint64_t> RefusalLog::Note(HttpRefusal reason, std::chrono::steady_clock::time_point now) {
  std::lock_guard lk(mu_);
  PerReason& r = reasons_[static_cast<size_t>(reason)];
  ++r.unlogged;
  if (r.logged && now - r.last < interval_) return std::nullopt;
  r.logged = true;
  r.last = now;
  uint64_t n = r.unlogged;
  r.unlogged = 0;
  return n;
}

}  // namespace spanvault::ipc
