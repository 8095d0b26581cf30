// The endpoint URL (contract: endpoint.h). Moved here from
// upstream/http_client.cc so that loading a configuration does not need the
// HTTP client.
#include "config/endpoint.h"

#include <boost/asio/ip/address.hpp>
#include <cctype>

#include "config/upstream_config.h"

namespace spanvault::upstream {
namespace {

namespace net = boost::asio;

bool IsDefaultPort(const Endpoint& e) { return e.port == (e.tls ? "443" : "80"); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string Endpoint::HostHeader() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (!IsDefaultPort(*this)) out += ":" + port;
  return out;
}

Result<Endpoint> ParseEndpoint(std::string_view url) {
  auto bad = [&](std::string why) {
    // Redacted: a URL with user info or a query can carry a key.
    return Fail(Error::Invalid("endpoint: " + why + " in \"" + RedactEndpoint(url) + "\""));
  };
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("missing scheme (want http:// or https://)");
  Endpoint e;
  std::string scheme = Lower(url.substr(0, sep));
  if (scheme == "https") {
    e.tls = true;
  } else if (scheme != "http") {
    return bad("unsupported scheme \"" + scheme + "\" (want http or https)");
  }
  std::string_view rest = url.substr(sep + 3);
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  size_t auth_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view target = auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);
  if (authority.find('@') != std::string_view::npos) return bad("user info is not supported");

  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated '[' in host");
    e.host = std::string(authority.substr(1, close - 1));
    boost::system::error_code ec;
    net::ip::make_address_v6(e.host, ec);
    if (ec) return bad("invalid IPv6 address \"" + e.host + "\"");
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected characters after ']'");
      port = after.substr(1);
      has_port = true;
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
      return bad("IPv6 addresses must be in brackets");
    }
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
  }
  if (e.host.empty()) return bad("missing host");
  for (char c : e.host) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == '\\' || c == '"') return bad("invalid host");
  }
  if (has_port) {
    // The port is not quoted: in a malformed URL it may be part of a password.
    if (port.empty() || port.size() > 5) return bad("invalid port");
    int value = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return bad("invalid port");
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return bad("port out of range (1-65535)");
    e.port = std::to_string(value);
  } else {
    e.port = e.tls ? "443" : "80";
  }
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return bad("invalid character in path");
  }
  e.target = target.empty() ? "/" : target.front() == '?' ? "/" + std::string(target) : std::string(target);
  return e;
}

}  // namespace spanvault::upstream
