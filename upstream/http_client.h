// upstream/ — the HTTP(S) client the forwarder sends batches with.
//
// One HttpClient per upstream endpoint: HTTP/1.1 with keep-alive, a pool of
// at most `max_connections` connections (idle ones are reused, a connection
// whose server said `Connection: close` or that failed is dropped), HTTPS with
// OpenSSL (certificate and host-name verification on by default, SNI always
// sent), and one deadline per attempt covering connect, TLS handshake, write
// and read. A response body beyond `max_response_bytes` fails the attempt.
//
// Threading: Post() and Shutdown() may be called from any thread. Every
// connection runs on its own strand of the io_context passed to Create; `done`
// runs on one of that io_context's threads, exactly once per Post.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "config/endpoint.h"

namespace spanvault::upstream {

struct HttpClientOptions {
  Endpoint endpoint;
  // Default: empty (the system CA store). A PEM file of trusted CAs.
  std::string tls_ca_file;
  // Default: false. Skips certificate and host-name verification (logged
  // loudly by the caller).
  bool tls_insecure_skip_verify = false;
  // Default: 10s. Deadline of one attempt: connect + TLS + write + read.
  std::chrono::milliseconds timeout{10000};
  // Default: 4. Connections open at once; further requests wait for one.
  size_t max_connections = 4;
  // Default: 1 MiB. A longer response body fails the attempt (kTooLarge).
  size_t max_response_bytes = 1u << 20;
  // Default: "spanvault/<version>".
  std::string user_agent;
};

struct HttpRequest {
  std::string body;  // sent as is
  std::vector<std::pair<std::string, std::string>>
      headers;  // Content-Type etc.; Host, User-Agent, Content-Length are set by the client
};

struct HttpResponse {
  int status = 0;
  std::string retry_after;  // the Retry-After header, empty when absent
  std::string body;         // at most max_response_bytes
};

enum class HttpErrorKind {
  kConnect,   // resolve or connect failed (refused, unreachable)
  kTimeout,   // the attempt's deadline passed
  kTls,       // handshake failed (certificate not trusted, wrong host name)
  kNetwork,   // connection reset / closed before a complete response
  kProtocol,  // not a valid HTTP response
  kTooLarge,  // response body over max_response_bytes
  kShutdown,  // the client was shut down
};
std::string_view HttpErrorKindName(HttpErrorKind kind);

struct HttpOutcome {
  bool ok = false;                                     // a complete HTTP response arrived (any status)
  HttpResponse response;                               // when ok
  HttpErrorKind error_kind = HttpErrorKind::kConnect;  // when !ok
  std::string error;  // when !ok: what failed, e.g. "connect 127.0.0.1:9: Connection refused"
  std::chrono::milliseconds elapsed{0};
};

class HttpClient : public std::enable_shared_from_this<HttpClient> {
 public:
  // Builds the TLS context (loads tls_ca_file or the system store). Errors:
  // kInvalidArgument for an unreadable CA file or a bad endpoint.
  static Result<std::shared_ptr<HttpClient>> Create(boost::asio::io_context& ioc, HttpClientOptions options);
  ~HttpClient();

  // Sends `request` as a POST to the endpoint's target. The request is shared
  // so that retries do not copy the body.
  void Post(std::shared_ptr<const HttpRequest> request, std::function<void(HttpOutcome)> done);

  // Fails every queued and in-flight request with kShutdown and closes every
  // connection. Idempotent. Post() after Shutdown() fails at once.
  void Shutdown();

  // Connections opened since Create (tests check keep-alive with it).
  uint64_t connections_opened() const;

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spanvault::upstream
