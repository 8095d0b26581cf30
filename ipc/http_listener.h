// The HTTP listener (docs/protocol.md, HTTP; probes in docs/operations.md): an HTTP/1.1 server on
// Boost.Beast for OTLP/HTTP traces, canonical spans and the health, readiness
// and metrics endpoints. Routes, status codes and answer bodies are
// documented in ipc/http_ingest.h, which decides them without I/O.
//
// A connection serves one request at a time (keep-alive, no pipelining): the
// next request is not read before the previous one is answered, and an ingest
// request is answered only once its spans are durable — that is the
// back-pressure. Bounds on every step:
//   - header_timeout from the first byte of a request (from the accept for
//     the first one) to the end of its header; idle_timeout between requests;
//     body_timeout for reading a body and for writing an answer;
//   - max_body_bytes on the body as sent and again on its inflated size
//     (gzip/deflate): bigger is 413, and a compression bomb stops there;
//   - max_connections: further connections are accepted and closed at once;
//   - max_requests_per_connection: the answer to the last one carries
//     Connection: close, and the connection closes after it (a request sent
//     behind it is not served there).
//
// Who may send requests (ipc/http_policy.h): once a request's header is read,
// and before its body is, the Host, Origin and Sec-Fetch-Site checks run
// (Host only while the listener is bound to a loopback address, with the
// port it is bound to); a refused request gets 400/403 with a plain-text
// reason, and the connection closes. CORS preflights from allowed_origins
// get 204. Each refusal is counted (refused_by_policy) and logged as a
// warning at most once per reason per 10 s, with the peer and the number of
// refusals since the previous line.
//
// Counters (Transport::kHttp): payloads = ingest requests (POST with a
// body), bytes = body bytes as sent, spans_accepted, payloads_rejected =
// requests with anything refused, rejected_by_kind per refused span or
// request; connections / connections_total; refused_by_policy per
// HttpRefusal (those requests count nowhere else).
//
// The local query API and the page (http_api.h): GET /api/... goes to the
// daemon's hooks (the query runs on the daemon's query threads; the answer is
// written on the connection's strand when it comes), /api/export and
// /api/tail stream (http_stream.h), GET / and /assets/... are the page's
// files. They pass the same policy checks and count nowhere as ingest.
//
// Threading: every connection runs on its own strand of the shared
// io_context (any number of threads); decoding happens on that strand.
// Start/Stop from the controlling thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "ipc/http_api.h"
#include "ipc/http_ingest.h"
#include "ipc/ingest.h"
#include "ipc/unix_socket.h"

namespace spanvault::ipc {

struct HttpOptions {
  // Default: 16 MiB. Largest request body, compressed and inflated.
  size_t max_body_bytes = 16u << 20;
  // Default: 1 MiB. Largest span (one NDJSON line, one OTLP span's JSON).
  size_t max_span_bytes = 1u << 20;
  // Default: 10s. From the start of a request to the end of its header.
  std::chrono::milliseconds header_timeout{10000};
  // Default: 60s. A kept-alive connection with no new request is closed.
  std::chrono::milliseconds idle_timeout{60000};
  // Default: 30s. Reading one body; writing one answer.
  std::chrono::milliseconds body_timeout{30000};
  // Default: 1024. Further connections are accepted and closed at once.
  size_t max_connections = 1024;
  // Default: 1000. Requests served on one keep-alive connection (at least 1).
  size_t max_requests_per_connection = 1000;
  // Default: none. Origins (NormalizeOrigin form, or "*" for any) whose
  // browser pages may send requests and read the answers (http_policy.h).
  std::vector<std::string> allowed_origins;
  // Default: false. Ask the store to fsync before answering (durability = machine).
  bool fsync_requests = false;
  // Default: 5. Retry-After (seconds) on 503.
  uint32_t retry_after_seconds = 5;
  // Default: 100. Errors listed in a /v1/spans answer.
  size_t max_errors_per_answer = 100;
  // Default: none (OTLP routes answer 501). The OTLP decoders.
  OtlpCodec otlp;
  // Default: always ready. GET /readyz answers 200 when true, else 503.
  std::function<bool()> ready;
  // Default: empty. GET /metrics: the Prometheus text exposition.
  std::function<std::string()> metrics;
  // Default: none (404). The local query API and the page (http_api.h).
  ApiHooks api;
  // Default: 15s. Between SSE keep-alive comments on GET /api/tail.
  std::chrono::milliseconds sse_keep_alive{kSseKeepAlive};
};

class HttpListener {
 public:
  // Takes ownership of `fd`, a listening TCP socket (see BindTcpListener).
  HttpListener(boost::asio::io_context& ioc, int fd, HttpOptions options, span::Limits limits, SubmitFn submit,
               Counters& counters);
  ~HttpListener();

  void Start();
  // Stops accepting. Connections waiting for a request are closed; requests
  // being read are read, and every request read is answered (after its spans
  // are durable) with Connection: close, while the io_context runs.
  void Stop();

  class Impl;  // opaque; public so the connection sessions can name it

 private:
  std::shared_ptr<Impl> impl_;
};

// Binds and listens on a TCP address ("localhost" is 127.0.0.1); refuses a
// non-loopback address unless allow_remote. Returns the descriptor.
Result<int> BindTcpListener(const HostPort& addr, bool allow_remote, int backlog = 1024);

}  // namespace spanvault::ipc
