// FakeBackend: a scriptable HTTP(S) upstream on 127.0.0.1 for the upstream/
// and forwarding tests. It answers each request by a rule (below), records
// what it got (headers, gunzipped body, span ids) and can go down and come
// back on the same port.
//
//   FakeBackend backend;                      // or FakeBackend({.tls = true, ...})
//   backend.Start();
//   backend.Script({{.status = 503, .headers = {{"Retry-After", "1"}}}, {.delay = 2s}});
//   ... point the client at backend.url() ...
//   ASSERT_TRUE(backend.WaitForUniqueSpans(100, 10s));
//
// How a request is answered, first match wins:
//   1. the next scripted step, if any is left (Script() appends; each request
//      consumes one, whatever its content);
//   1b. what `respond` returns for the request, if set and not nullopt;
//   2. 401 when required_authorization is set and Authorization differs;
//   3. 400 when Content-Encoding: gzip and the body does not inflate;
//   4. 413 when max_body_bytes > 0 and the (decompressed) body is larger;
//   5. 400 with {"error":"poison span","span_id":ID} when the body holds a
//      span id of poison_span_ids;
//   6. the default step: 200 with {} (SetDefault changes it).
//
// Threading: one io thread of its own runs every connection (each on its own
// strand); every public method is thread-safe. Start once; Stop (or the
// destructor) ends it for good.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spanvault::testing {

// How to answer one request.
struct FakeStep {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. {"Retry-After", "2"}, {"Connection", "close"}
  std::string body;
  // Wait this long before answering (may exceed the client's timeout; the
  // connection is then usually gone when the answer is written).
  std::chrono::milliseconds delay{0};
  // Send a partial response (the status line and some headers), then reset
  // the connection (SO_LINGER 0).
  bool reset = false;
  // Read the request, then close the connection without a byte of answer.
  // Note: an HTTP client retries such a failure once on a new connection when
  // the request went out on a reused keep-alive connection; that retry
  // consumes the next step.
  bool close_without_answer = false;
  // Answer normally (keep-alive), then close the connection the way a
  // server's idle timeout does. The client only notices on its next request.
  bool close_after_answer = false;
};

struct FakeRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string raw_body;  // as received
  std::string body;      // gunzipped when Content-Encoding: gzip
  // The status answered; -1 while the answer is pending (delay), 0 for reset
  // and close_without_answer.
  int answered_status = -1;
  std::chrono::steady_clock::time_point arrived;
  std::vector<std::string> span_ids;  // from extract_span_ids
  // The first header of that name (case-insensitive); empty when absent.
  std::string Header(std::string_view name) const;
};

struct FakeBackendOptions {
  bool tls = false;
  std::string cert_pem;  // with tls: the server's certificate chain and key (see tls_cert.h)
  std::string key_pem;
  // > 0: a request whose (decompressed) body is larger gets 413.
  size_t max_body_bytes = 0;
  // A request holding any of these span ids gets 400 with a JSON body naming it.
  std::set<std::string> poison_span_ids;
  // Non-empty: requests with another Authorization value get 401.
  std::string required_authorization;
  // Extracts span ids from a request's decompressed body. Default: the
  // "span_id" strings of {"spans":[{...},...]} (bodies that are not such JSON
  // have none).
  std::function<std::vector<std::string>(const FakeRequest&)> extract_span_ids;
  // Answers a request from its content (rule 1b). Runs under the backend's
  // lock: it must not call the backend.
  std::function<std::optional<FakeStep>(const FakeRequest&)> respond;
};

class FakeBackend {
 public:
  explicit FakeBackend(FakeBackendOptions options = {});
  ~FakeBackend();  // Stop()
  FakeBackend(const FakeBackend&) = delete;
  FakeBackend& operator=(const FakeBackend&) = delete;

  // Binds 127.0.0.1:0 and starts the io thread. Aborts if it cannot bind.
  void Start();
  int port() const;
  // "http(s)://127.0.0.1:PORT" + target.
  std::string url(std::string_view target = "/v1/spans") const;

  // Appends steps; each request consumes the next one.
  void Script(std::vector<FakeStep> steps);
  // The answer when no step is left and no rule applies.
  void SetDefault(FakeStep step);
  // down: closes the listening socket and every open connection (clients get
  // "connection refused"); up: listens again on the same port. Synchronous:
  // done when it returns.
  void SetDown(bool down);

  std::vector<FakeRequest> requests() const;
  // Span id → times received in requests answered 2xx.
  std::map<std::string, int> received_span_ids() const;
  size_t unique_spans() const;
  // Waits until at least n distinct span ids were answered 2xx.
  bool WaitForUniqueSpans(size_t n, std::chrono::milliseconds timeout) const;
  // Waits until at least n requests have arrived (answered or not).
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout) const;
  uint64_t connections_accepted() const;
  size_t open_connections() const;
  // The most connections open at once since Start.
  size_t max_concurrent_connections() const;

  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// gzip (RFC 1952) helpers for tests.
std::string Gzip(std::string_view data);
// False when `data` is not a complete gzip stream.
bool Gunzip(std::string_view data, std::string* out);

}  // namespace spanvault::testing
