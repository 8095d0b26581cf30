// ipc/ — who may talk to the HTTP listener, decided from a request's header
// alone, without I/O. A web page in a browser can reach 127.0.0.1:4318; these
// rules keep it from reading or writing there unless the configuration says
// so:
//
//   1. Host (only while the listener is bound to a loopback address): the
//      request must name a loopback host with the listener's port, or a page
//      that rebound its own DNS name to 127.0.0.1 could read the answers.
//      Accepted (case-insensitive): "localhost", "*.localhost" (RFC 6761
//      reserves the name for loopback, resolvers and browsers answer it
//      locally, and no one can register it, so it cannot be rebound), any
//      127.x.y.z in dotted-decimal form, "[::1]" (and "[::ffff:127.x.y.z]"),
//      each followed by ":PORT" — the listener's port; without ":PORT" only
//      when that port is 80. A missing Host is accepted on HTTP/1.0 and
//      refused with 400 on HTTP/1.1, as is a repeated Host. Otherwise 403.
//      Bound to a non-loopback address (ingest.allow_remote), Host is not
//      checked: the listener is reachable from the network by choice.
//   2. Origin: a request with an Origin is served only when that origin is
//      the listener's own (http:// + a loopback host with its port, as in 1)
//      or in `allowed_origins` ("*" allows any, "null" included); else 403.
//      "Origin: null" (sandboxed frames, file:// pages) is refused unless "*".
//   3. Sec-Fetch-Site: cross-site without an Origin (a browser's no-cors GET,
//      e.g. <img src=http://127.0.0.1:4318/metrics>): 403.
//   4. CORS preflight (OPTIONS with Access-Control-Request-Method on a known
//      route): 204 with the Access-Control-Allow-* headers for an allowed
//      origin, 403 otherwise (and without an Origin).
// Requests without Origin or Sec-Fetch-Site (curl, OTel SDKs outside
// browsers) pass 2-4 untouched. A request from an allowed origin gets
// Access-Control-Allow-Origin (its Origin, verbatim) and Vary: Origin on its
// answer, whatever the status, so the page can read errors too.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "ipc/ingest.h"

namespace spanvault::ipc {

struct HttpPolicy {
  // Default: true. Check Host (rule 1): the listener is bound to loopback.
  bool check_host = true;
  // Default: 4318. The listener's port (Host and own origins carry it).
  uint16_t port = 4318;
  // Default: none. Normalized origins (NormalizeOrigin) whose pages may send
  // requests and read the answers; "*" allows any origin.
  std::vector<std::string> allowed_origins;
};

// What the listener knows of a request once its header is read.
struct HttpRequestMeta {
  std::string_view method;                         // "POST"
  std::string_view target;                         // "/v1/traces?x=1"
  unsigned version = 11;                           // 10 = HTTP/1.0, 11 = HTTP/1.1
  std::optional<std::string_view> host;            // nullopt: no Host field
  std::optional<std::string_view> origin;          // nullopt: no Origin field
  std::optional<std::string_view> sec_fetch_site;  // nullopt: no Sec-Fetch-Site field
  std::optional<std::string_view> request_method;  // Access-Control-Request-Method
  std::string_view request_headers;                // Access-Control-Request-Headers ("" when absent)
  bool private_network = false;                    // Access-Control-Request-Private-Network: true
  bool repeated_host = false;                      // more than one Host field
  bool repeated_origin = false;                    // more than one Origin field
};

struct HttpVerdict {
  enum class Kind : uint8_t {
    kServe,      // route the request as usual
    kRefuse,     // answer `status` with `reason` (text/plain); do not read the body
    kPreflight,  // answer 204 with `headers`
  };
  Kind kind = Kind::kServe;
  HttpRefusal refusal = HttpRefusal::kHost;  // kRefuse: the counter to increment
  unsigned status = 0;                       // kRefuse: 400 or 403; kPreflight: 204
  std::string reason;                        // kRefuse: one line, no trailing newline
  // Headers for the answer: kServe from an allowed origin gets
  // Access-Control-Allow-Origin and Vary; kPreflight also the
  // Access-Control-Allow-{Methods,Headers,Private-Network} and Max-Age ones.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Decides rules 1-4 for one request.
HttpVerdict DecideRequest(const HttpRequestMeta& req, const HttpPolicy& policy);

// Rule 1's test of a Host value ("localhost:4318", "[::1]:4318").
bool IsLoopbackHost(std::string_view host, uint16_t port);

// A configured origin in the form browsers send it: "scheme://host[:port]"
// lowercased, the default port of http (80) and https (443) left out; "*"
// stays "*". Errors: a path (even "/"), a query, user info, an empty host, a
// bad port or scheme.
Result<std::string> NormalizeOrigin(std::string_view origin);

// Access-Control-Max-Age of a preflight answer, in seconds.
inline constexpr int kPreflightMaxAgeSeconds = 600;

// Rate-limits the listener's refusal log lines: at most one per reason per
// `interval`. Thread-safe.
class RefusalLog {
 public:
  explicit RefusalLog(std::chrono::steady_clock::duration interval = std::chrono::seconds(10)) : interval_(interval) {}

  // Notes one refusal at `now`. When a line is due (the first refusal of a
  // reason, or `interval` after the previous line) returns how many refusals
  // of that reason it reports: this one and those not logged since the
  // previous line. Otherwise nullopt.
  std::optional<uint64_t> Note(HttpRefusal reason, std::chrono::steady_clock::time_point now);

 private:
  struct PerReason {
    bool logged = false;
    std::chrono::steady_clock::time_point last{};
    uint64_t unlogged = 0;
  };
  std::chrono::steady_clock::duration interval_;
  std::mutex mu_;
  std::array<PerReason, kHttpRefusalCount> reasons_{};
};

}  // namespace spanvault::ipc
