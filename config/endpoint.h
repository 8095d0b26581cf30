// config/ — the syntax of an upstream's `endpoint` (an http:// or https://
// URL), checked when the configuration is loaded and used by the HTTP client
// (upstream/http_client.h) to connect. No I/O.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace spanvault::upstream {

// "http://host[:port]/path" or "https://host[:port]/path"; IPv6 hosts in
// brackets. The port defaults to 80 / 443, the target to "/".
struct Endpoint {
  bool tls = false;
  std::string host;                // without brackets
  std::string port;                // "4318"
  std::string target;              // "/v1/traces" (path and query)
  std::string HostHeader() const;  // "host:port", brackets for IPv6, port omitted when default
};
Result<Endpoint> ParseEndpoint(std::string_view url);

}  // namespace spanvault::upstream
